"""The CLI's fast approval (cli/fast.py, service/fast_approval.py,
storage/sqlite/fast_decision.py): one id approved without SQLAlchemy, with exactly the
service's transaction and sentence; every case a rule needs the service for falls back to
it. Real SQLite files and real processes."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Boolean

from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: Runs the CLI in this process, then says whether SQLAlchemy was loaded.
PROBE = (
    "import sys\n"
    "from homelab_approvals.cli.main import main\n"
    "status = main(sys.argv[1:])\n"
    "print(status, any(m == 'sqlalchemy' or m.startswith('sqlalchemy.') for m in sys.modules))\n"
)


def _renderer() -> object:
    spec = importlib.util.spec_from_file_location(
        "render_fast_sql", ROOT / "scripts/render_fast_sql.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sql_file_is_what_the_service_statements_render_to() -> None:
    render = _renderer()
    target: Path = render.TARGET  # type: ignore[attr-defined]
    assert target.read_text(encoding="utf-8") == render.render()  # type: ignore[attr-defined]
    # What the read commands read (tests/test_cli_fast_reads.py), every listing's shape.
    reads: Path = render.READS_TARGET  # type: ignore[attr-defined]
    assert reads.read_text(encoding="utf-8") == render.render_reads()  # type: ignore[attr-defined]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOMELAB_APPROVALS_DB", "HOMELAB_APPROVALS_CONFIG")
    }
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    clean["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    return clean


def _cli(env: dict[str, str], *argv: str) -> tuple[str, bool, str]:
    """(stdout without the probe's line, whether SQLAlchemy was imported, stderr)."""
    done = subprocess.run(
        [PYTHON, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=60
    )
    *out, last = done.stdout.splitlines()
    status, loaded = last.split()
    return "\n".join([*out, f"exit {status}"]), loaded == "True", done.stderr


#: Runs the CLI's ordinary path (argparse, the commands, the service) in this process,
#: never the fast one, then says whether SQLAlchemy was loaded.
SLOW_PROBE = (
    "import sys\n"
    "from homelab_approvals.cli.commands import dispatch\n"
    "from homelab_approvals.cli.parser import build_parser\n"
    "status = dispatch(build_parser().parse(sys.argv[1:]))\n"
    "sys.stdout.flush()\n"
    "print(status, any(m == 'sqlalchemy' or m.startswith('sqlalchemy.') for m in sys.modules))\n"
)


def _slow(env: dict[str, str], *argv: str) -> tuple[str, bool, str]:
    done = subprocess.run(
        [PYTHON, "-c", SLOW_PROBE, *argv], env=env, capture_output=True, text=True, timeout=60
    )
    *out, last = done.stdout.splitlines()
    status, loaded = last.split()
    return "\n".join([*out, f"exit {status}"]), loaded == "True", done.stderr


def _build(path: Path) -> list[int]:
    """Web One (paused) with: a restart (no binding probe), an apt upgrade (binds its
    plan), and a restart created by 'alice'."""
    db = open_database(path)
    try:
        service = ApprovalService(db)
        service.add_server("web", "web.lan", "Web One", paused=True)
        ids = [
            service.create_action("web", "restart_service", "nginx", actor="bob").id,
            service.create_action("web", "apt_upgrade_all", actor="bob").id,
            service.create_action("web", "restart_service", "cron", actor="alice").id,
        ]
    finally:
        db.close()
    return ids


def _rows(path: Path, aid: int) -> tuple[object, ...]:
    conn = sqlite3.connect(path)
    try:
        action = conn.execute(
            "SELECT status, approved_by, approved_at FROM remediation_actions WHERE id = ?",
            (aid,),
        ).fetchone()
        events = conn.execute(
            "SELECT from_status, to_status, actor, at, reason, command FROM action_events"
            " WHERE action_id = ? ORDER BY id",
            (aid,),
        ).fetchall()
    finally:
        conn.close()
    return action, events


def test_an_approval_takes_the_fast_path_and_leaves_what_the_service_would(
    env: dict[str, str], tmp_path: Path
) -> None:
    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    aid = _build(fast)[0]
    _build(slow)
    out, loaded, err = _cli(env, "--db", str(fast), "--operator", "carol", "approve", str(aid))
    assert (out, loaded, err) == (f"approved #{aid} restart nginx on Web One\nexit 0", False, "")
    # The same approval through the service (argparse, the commands, the service).
    out, loaded, _ = _slow(env, "--db", str(slow), "--operator", "carol", "approve", str(aid))
    assert loaded
    (status, by, at), events = _rows(fast, aid)
    (slow_status, slow_by, slow_at), slow_events = _rows(slow, aid)
    assert (status, by) == (slow_status, slow_by) == ("approved", "carol")
    assert isinstance(at, str)
    assert len(at) == len(str(slow_at))
    assert [e[:3] + e[4:] for e in events] == [e[:3] + e[4:] for e in slow_events]
    assert events[-1] == ("pending", "approved", "carol", at, None, "systemctl restart nginx")
    # Again: already approved, so the service words the refusal.
    again, loaded, err = _cli(env, "--db", str(fast), "--operator", "carol", "approve", str(aid))
    assert loaded
    assert again == "exit 4"
    assert err.startswith(
        f"error: CONFLICT: cannot approve action {aid}: already approved by carol"
    )


def test_what_the_service_must_decide_falls_back_to_it(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "approvals.db"
    restart, apt, own = _build(path)
    # A plan-binding probe (apt): bind_plan runs in the service's transaction.
    out, loaded, _ = _cli(env, "--db", str(path), "--operator", "carol", "approve", str(apt))
    assert loaded
    assert out.endswith("exit 0")
    assert out.startswith(f"approved #{apt} ")
    # Not found: the service's answer.
    out, loaded, err = _cli(env, "--db", str(path), "--operator", "carol", "approve", "999")
    assert loaded
    assert out == "exit 3"
    assert "NOT_FOUND" in err
    # allow_self_approval = false and one's own action: refused by the service's words.
    config = tmp_path / "config.toml"
    config.write_text("allow_self_approval = false\n", encoding="utf-8")
    argv = ["--db", str(path), "--config", str(config), "--operator", "alice", "approve"]
    out, loaded, err = _cli(env, *argv, str(own))
    assert loaded
    assert out == "exit 5"
    assert "may not approve it" in err
    # [rules]: votes and per-type approvers are checked under the service's lock.
    config.write_text("[rules.restart_service]\napprovals = 2\n", encoding="utf-8")
    argv = ["--db", str(path), "--config", str(config), "--operator", "carol", "approve"]
    out, loaded, _ = _cli(env, *argv, str(restart))
    assert loaded
    assert "1 of 2" in out
    assert _rows(path, restart)[0][0] == "pending"
    # --read-only: refused by the ordinary path.
    out, loaded, _ = _cli(env, "--db", str(path), "--read-only", "approve", str(own))
    assert loaded
    assert out != "exit 0"


def test_a_changed_audit_trigger_sends_the_approval_to_the_service(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "approvals.db"
    aid = _build(path)[0]
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER action_events_no_delete")
    conn.close()
    out, loaded, err = _cli(env, "--db", str(path), "--operator", "carol", "approve", str(aid))
    assert loaded
    assert out.startswith(f"approved #{aid} ")
    assert "warning:" in err  # the repair is reported, as by every ordinary opening


# -- reject and cancel, and the same result as the service's path ------------------------


def _everything(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every action row and every event row, with each stored time replaced by its length
    (the two runs happen at different moments)."""
    conn = sqlite3.connect(path)
    try:
        actions = conn.execute("SELECT * FROM remediation_actions ORDER BY id").fetchall()
        events = conn.execute("SELECT * FROM action_events ORDER BY id").fetchall()
        columns = [c[1] for c in conn.execute("PRAGMA table_info(remediation_actions)")]
        event_columns = [c[1] for c in conn.execute("PRAGMA table_info(action_events)")]
    finally:
        conn.close()

    def timeless(names: list[str], row: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(
            ("time", len(str(v))) if n.endswith("_at") or n == "at" else v
            for n, v in zip(names, row, strict=True)
        )

    return (
        [timeless(columns, row) for row in actions],
        [timeless(event_columns, row) for row in events],
    )


def _approve(path: Path, aid: int) -> None:
    db = open_database(path)
    try:
        ApprovalService(db).approve(aid, "dave")
    finally:
        db.close()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["approve", "{restart}"], "approved #{restart} restart nginx on Web One"),
        (
            ["reject", "{restart}", "--reason", "  not in the window  "],
            "rejected #{restart} restart nginx on Web One: not in the window",
        ),
        (
            ["reject", "--reason=bad \u200b idea", "#{restart}"],
            "rejected #{restart} restart nginx on Web One: bad \ufffd idea",
        ),
        (["cancel", "{restart}"], "cancelled #{restart} restart nginx on Web One (now failed)"),
        # Cancelling an approved action: its event comes from "approved".
        (["cancel", "{approved}"], "cancelled #{approved} restart cron on Web One (now failed)"),
        # An apt action may be rejected and cancelled the fast way (no plan is bound).
        (
            ["reject", "{apt}", "--reason", "later"],
            "rejected #{apt} apt upgrade all on Web One: later",
        ),
        (["cancel", "{apt}"], "cancelled #{apt} apt upgrade all on Web One (now failed)"),
    ],
)
def test_each_fast_decision_prints_and_stores_what_the_service_path_does(
    env: dict[str, str], tmp_path: Path, words: list[str], expected: str
) -> None:
    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    for path in (fast, slow):
        restart, apt, own = _build(path)
        _approve(path, own)
    ids = {"restart": restart, "apt": apt, "approved": own}
    argv = ["--db", "{db}", "--operator", "carol", *(w.format(**ids) for w in words)]
    fast_argv = [w.replace("{db}", str(fast)) for w in argv]
    slow_argv = [w.replace("{db}", str(slow)) for w in argv]
    out, loaded, err = _cli(env, *fast_argv)
    assert (out, loaded, err) == (expected.format(**ids) + "\nexit 0", False, "")
    assert _slow(env, *slow_argv) == (expected.format(**ids) + "\nexit 0", True, "")
    assert _everything(fast) == _everything(slow)


def test_what_the_service_must_word_falls_back_for_reject_and_cancel(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "approvals.db"
    restart, _apt, _own = _build(path)
    base = ["--db", str(path), "--operator", "carol"]
    out, loaded, err = _cli(env, *base, "reject", str(restart), "--reason", "   ")
    assert (out, loaded) == ("exit 2", False)  # the ordinary path refuses it before the DB
    assert "rejection reason" in err
    out, loaded, err = _cli(env, *base, "reject", str(restart))
    assert (out, loaded) == ("exit 2", False)  # argparse: --reason is required
    assert "USAGE" in err
    assert _cli(env, *base, "cancel", str(restart))[:2] == (
        f"cancelled #{restart} restart nginx on Web One (now failed)\nexit 0",
        False,
    )
    out, loaded, err = _cli(env, *base, "cancel", str(restart))
    assert (out, loaded) == ("exit 4", True)
    assert f"cannot cancel action {restart}: already failed" in err
    out, loaded, err = _cli(env, *base, "reject", str(restart), "--reason", "x")
    assert (out, loaded) == ("exit 4", True)
    # An approvers list without this operator: the service refuses it.
    config = tmp_path / "config.toml"
    config.write_text('approvers = ["alice"]\n', encoding="utf-8")
    out, loaded, err = _cli(env, *base, "--config", str(config), "reject", "2", "--reason", "x")
    assert (out, loaded) == ("exit 5", True)
    assert "FORBIDDEN" in err


# -- the config: read only when it says something, and then as the ordinary path does -------


def test_a_config_with_something_in_it_is_honoured_on_the_fast_path(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "approvals.db"
    restart, _apt, own = _build(path)
    config = tmp_path / "config.toml"
    config.write_text(
        '# who decides\napprovers = ["carol", "alice"]\nallow_self_approval = false\n',
        encoding="utf-8",
    )
    base = ["--db", str(path), "--config", str(config)]
    out, loaded, _ = _cli(env, *base, "--operator", "carol", "approve", str(restart))
    assert (out, loaded) == (f"approved #{restart} restart nginx on Web One\nexit 0", False)
    out, loaded, err = _cli(env, *base, "--operator", "alice", "approve", str(own))
    assert (out, loaded) == ("exit 5", True)  # her own action: the service says why
    assert "may not approve it" in err
    # A broken config is refused exactly as before, whatever the command line.
    config.write_text("approvers = 'carol'\n", encoding="utf-8")
    out, _, err = _cli(env, *base, "--operator", "carol", "cancel", str(own))
    assert out == "exit 2"
    assert err.startswith("error: CONFIG_ERROR: ")
    assert "'approvers' must be a list of names" in err
    # A config named but missing: refused, as before.
    out, _, err = _cli(
        env, "--db", str(path), "--config", str(tmp_path / "nope.toml"), "cancel", "1"
    )
    assert out == "exit 2"
    assert "config file not found" in err


def test_a_blank_config_means_the_defaults(tmp_path: Path) -> None:
    from homelab_approvals.service.config import Config, config_from_bytes, parse_config
    from homelab_approvals.service.policy import Policy

    path = tmp_path / "config.toml"
    for blank in (b"", b"\n", b" \t\n\n"):
        assert config_from_bytes(blank, path) == parse_config({}, path) == Config()
    # The fast path decides with no Policy at all when there is no config: Policy()'s.
    assert Config().policy == Policy()
    assert Policy().approvers is None
    assert Policy().allow_self_approval is True
    assert not Policy().rules


def test_the_plan_bound_types_are_those_whose_probe_binds() -> None:
    from homelab_approvals.domain.enums import PLAN_BOUND_TYPES, ActionType
    from homelab_approvals.domain.probes import probe_for

    for kind in ActionType:
        probe = probe_for(kind, "nginx.service")
        assert (probe is not None and probe.binding) == (kind in PLAN_BOUND_TYPES), kind


# -- the pre-parse reads exactly what argparse reads, or leaves it to argparse ---------------

_LINES = [
    "approve 5",
    "approve #5",
    "approve 05",
    "--db x.db approve 5",
    "--db=x.db --operator=carol --config c.toml approve 5",
    "--operator carol --db x.db cancel 9223372036854775807",
    "reject 5 --reason why",
    "reject --reason=why 5",
    "reject --reason why #5",
    "approve 5 --json",
    "approve --json 5",
    "--operator carol reject --json 5 --reason=why",
    "show 5 --json",
    "--db x.db show --json #5",
    # Everything below is argparse's to read (or refuse).
    "reject 5 --reason=--why",
    "approve 0",
    "approve 9223372036854775808",
    "approve -1",
    "approve 5 6",
    "approve -",
    "approve ٤",
    "approve 4_2",
    "approve +4",
    "approve 5 --expect-preview abc",
    "approve 5 --json --json",
    "show 5",
    "show 5 --follow",
    "show 5 --json --follow",
    "show 5 --json --reason x",
    "show 5 6 --json",
    "approve 5 --json=yes",
    "--db approve 5",
    "--db= approve 5",
    "--db x --db y approve 5",
    "--read-only approve 5",
    "--database-url sqlite:///x approve 5",
    "--operator -carol approve 5",
    "approve 5 --db x",
    "approve 5 --reason x",
    "reject 5",
    "reject 5 --reason",
    "reject 5 --reason a --reason b",
    "reject 5 --reason -x",
    "cancel 5 --help",
    "--help",
    "approve -- 5",
    "list",
    "approvee 5",
    "",
]


def argparse_reading(words: list[str]) -> argparse.Namespace:
    """What argparse reads from words a fast path took: it must take them too."""
    from homelab_approvals.cli.errors import UsageError
    from homelab_approvals.cli.parser import build_parser

    try:
        return build_parser().parse(words)
    except (UsageError, SystemExit) as refused:
        pytest.fail(f"the fast path took what argparse refuses: {refused}")


@pytest.mark.parametrize("line", _LINES)
def test_the_pre_parse_agrees_with_argparse(line: str) -> None:
    from homelab_approvals.cli.fast import parse

    words = line.split()
    call = parse(words)
    if call is None:
        return  # argparse reads it, as always
    args = argparse_reading(words)
    assert args.command == call.verb
    ids = [args.action_id] if call.verb == "show" else args.action_ids
    assert ids == [call.action_id]
    assert getattr(args, "reason", None) == call.reason
    assert (args.db, args.config, args.operator) == (call.db, call.config, call.operator)
    assert args.json == call.json
    assert (args.read_only, args.group_shared, args.database_url) == (False, False, None)


def test_the_pre_parse_takes_the_common_shapes() -> None:
    from homelab_approvals.cli.fast import parse

    taken = [line for line in _LINES if parse(line.split()) is not None]
    assert taken == _LINES[: _LINES.index("reject 5 --reason=--why")]


# -- --json: what `show --json` prints, read under the decision's lock -------------------


def _timeless_json(text: str) -> object:
    """The JSON with each time replaced by its length (the runs are moments apart)."""
    import json

    def strip(value: object, key: str = "") -> object:
        if isinstance(value, dict):
            return {k: strip(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if (key.endswith("_at") or key == "at") and isinstance(value, str):
            return ("time", len(value))
        return value

    return strip(json.loads(text))


def _with_previews_and_damage(path: Path) -> dict[str, int]:
    """_build's actions, plus: a unit-state preview of the restart, an apt plan preview of
    the apt upgrade, and a hand-edited BLOB in the restart's stdout (damaged)."""
    from homelab_approvals.domain.probes import ProbeRun
    from homelab_approvals.service.probe_choice import probe_of

    restart, apt, own = _build(path)
    db = open_database(path)
    try:
        service = ApprovalService(db)
        for aid, out in (
            (restart, "LoadState=loaded\nActiveState=active\nSubState=running\n"),
            (apt, "Inst nginx [1.22.1-9] (1.22.1-9+deb12u1 Debian:12.5/stable [amd64])\n"),
        ):
            action = service.get_action(aid)
            probe = probe_of(action)
            assert probe is not None
            service.record_preview(aid, probe, ProbeRun(0, out))
        service.approve(own, "dave")
    finally:
        db.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE remediation_actions SET stdout = x'ff00ff' WHERE id = ?", (restart,))
    conn.commit()
    conn.close()
    return {"restart": restart, "apt": apt, "approved": own}


@pytest.mark.parametrize(
    "words",
    [
        ["approve", "{restart}", "--json"],
        ["--operator=erin", "approve", "--json", "#{restart}"],
        ["reject", "{apt}", "--json", "--reason", "not now"],
        ["cancel", "{approved}", "--json"],
        ["cancel", "--json", "{apt}"],
    ],
)
def test_a_fast_decision_with_json_prints_what_the_service_path_prints(
    env: dict[str, str], tmp_path: Path, words: list[str]
) -> None:
    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    ids = _with_previews_and_damage(fast)
    assert _with_previews_and_damage(slow) == ids
    argv = ["--operator", "carol", *(w.format(**ids) for w in words)]
    if argv[2].startswith("--operator"):
        argv = argv[2:]
    out, loaded, err = _cli(env, "--db", str(fast), *argv)
    assert (loaded, err) == (False, "")
    slow_out, slow_loaded, slow_err = _slow(env, "--db", str(slow), *argv)
    assert (slow_loaded, slow_err) == (True, "")
    assert out.endswith("\nexit 0")
    assert slow_out.endswith("\nexit 0")
    body, slow_body = out.removesuffix("\nexit 0"), slow_out.removesuffix("\nexit 0")
    assert _timeless_json(body) == _timeless_json(slow_body)
    # Byte for byte too, once the stored times are made equal.
    assert _everything(fast) == _everything(slow)
    shown = _timeless_json(body)
    assert isinstance(shown, dict)
    assert list(shown)[-3:] == ["approvals_required", "approvals", "preview"]


def test_json_with_times_equal_is_byte_identical(env: dict[str, str], tmp_path: Path) -> None:
    """Both paths print exactly the same bytes when the stored times agree: the fast
    path's approval, then the service path's `show --json` of the same row."""
    path = tmp_path / "approvals.db"
    ids = _with_previews_and_damage(path)
    out, loaded, _ = _cli(
        env, "--db", str(path), "--operator", "carol", "approve", str(ids["restart"]), "--json"
    )
    assert not loaded
    shown, _, _ = _slow(env, "--db", str(path), "show", str(ids["restart"]), "--json")
    assert out == shown
    assert '"damaged": {\n    "stdout": "BLOB, not text"\n  }' in out


def test_the_converters_are_what_the_column_types_read() -> None:
    from homelab_approvals.domain.damaged import stored_text
    from homelab_approvals.service import approvals, servers
    from homelab_approvals.service.queries import counts_statement
    from homelab_approvals.storage import previews
    from homelab_approvals.storage.datetimes import utc_from_stored
    from homelab_approvals.storage.sqlite.rows import (
        APPROVAL_CONVERTERS,
        BINDING_CONVERTERS,
        COUNT_CONVERTERS,
        EVENT_CONVERTERS,
        PREVIEW_CONVERTERS,
        SERVER_CONVERTERS,
        as_bool,
    )
    from homelab_approvals.storage.types import StoredText, UTCDateTime

    for statement, converters in (
        (approvals._APPROVALS, APPROVAL_CONVERTERS),
        (previews.LATEST_PREVIEW, PREVIEW_CONVERTERS),
        (previews.LATEST_PREVIEWS, PREVIEW_CONVERTERS),
        (previews.PREVIEW_BY_ID, PREVIEW_CONVERTERS),
        (previews.BINDINGS, BINDING_CONVERTERS),
        (approvals.events_statement(approvals.EVENT_COLUMNS, {}), EVENT_CONVERTERS),
        (servers.LIST_SERVERS, SERVER_CONVERTERS),
        (counts_statement(ActionQuery()), COUNT_CONVERTERS),
    ):
        columns = list(statement.selected_columns)
        assert len(columns) == len(converters)
        for column, convert in zip(columns, converters, strict=True):
            if isinstance(column.type, UTCDateTime):
                assert convert is utc_from_stored, column
            elif isinstance(column.type, StoredText):
                assert convert is stored_text, column
            elif isinstance(column.type, Boolean):
                assert convert is as_bool, column  # SQLAlchemy's Boolean on SQLite
            else:
                assert convert not in (utc_from_stored, stored_text, as_bool), column


# -- show ID --json: the same bytes as the service path, without SQLAlchemy --------------


def test_show_json_reads_without_sqlalchemy_and_prints_the_same_bytes(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "approvals.db"
    ids = _with_previews_and_damage(path)
    config = tmp_path / "config.toml"
    for text in ("", "[rules.restart_service]\napprovals = 2\n"):
        config.write_text(text, encoding="utf-8")
        if text:  # a vote, so the approvals list has one entry short of the quorum
            vote = ["--config", str(config), "--operator", "erin", "approve"]
            _cli(env, "--db", str(path), *vote, str(ids["restart"]))
        for aid in ids.values():
            argv = ["--db", str(path), "--config", str(config), "show", str(aid), "--json"]
            out, loaded, err = _cli(env, *argv)
            assert (loaded, err) == (False, "")
            assert (out, err) == _slow(env, *argv)[::2]
            assert out.endswith("\nexit 0")
    restart = ["--db", str(path), "--config", str(config), "show", str(ids["restart"])]
    assert '"approvals_required": 2' in _cli(env, *restart, "--json")[0]
    # Not found: the ordinary path words it.
    out, loaded, err = _cli(env, "--db", str(path), "show", "999", "--json")
    assert (out.splitlines()[-1], loaded) == ("exit 3", True)
    assert "NOT_FOUND" in err
