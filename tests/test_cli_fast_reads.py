"""The CLI's fast reads (cli/fast_reads.py, service/fast_reading.py,
storage/sqlite/fast_reads.py): `list`, `show`, `events` and `servers` on SQLite print, byte
for byte and with the same exit status, what the ordinary path (argparse, the commands,
the service, SQLAlchemy) prints, without importing SQLAlchemy or argparse; whatever they
cannot take goes down the ordinary path. Real SQLite files, real processes: each batch of
command lines runs in one fresh interpreter through `main()`, the fast way, or with the
fast paths switched off."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from homelab_approvals.domain.probes import ProbeRun
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.preview_settings import PlanCheck
from homelab_approvals.service.probe_choice import probe_of
from homelab_approvals.storage import open_database
from homelab_approvals.storage.sqlite.backend import TRIGGERS
from test_cli_fast import _cli, argparse_reading

PYTHON = sys.executable
#: Runs each command line of stdin's JSON through main() in this one process, each with
#: its own stdout (a terminal of $COLUMNS when "tty") and stderr; with "ordinary", the
#: fast paths are switched off first. Prints, per line, [exit status, stdout, stderr,
#: whether SQLAlchemy / argparse were loaded by then].
BATCH = r"""
import contextlib, io, json, sys
if sys.argv[1] == "ordinary":
    import homelab_approvals.cli.fast as fast
    import homelab_approvals.cli.fast_reads as fast_reads
    fast.run_fast = lambda words: None
    fast_reads.run_read = lambda words: None
from homelab_approvals.cli.main import main

class Terminal(io.StringIO):
    def isatty(self):
        return True

results = []
for line in json.load(sys.stdin):
    out, err = (Terminal() if line["tty"] else io.StringIO()), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(line["argv"])
    loaded = [name in sys.modules for name in ("sqlalchemy", "argparse")]
    results.append([code, out.getvalue(), err.getvalue(), *loaded])
print(json.dumps(results))
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """This environment, without our variables, and with its own XDG folders."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOMELAB_APPROVALS_")}
    for kind in ("CONFIG", "DATA", "STATE"):
        clean[f"XDG_{kind}_HOME"] = str(tmp_path / f"xdg-{kind.lower()}")
    return clean


def _batch(env: dict[str, str], way: str, lines: list[dict[str, Any]]) -> list[list[Any]]:
    done = subprocess.run(
        [PYTHON, "-c", BATCH, way],
        input=json.dumps(lines),
        env={**env, "COLUMNS": "70", "LINES": "24"},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    results: list[list[Any]] = json.loads(done.stdout)
    return results


def _compare(
    env: dict[str, str], fast_db: Path, slow_db: Path, argvs: list[list[str]], *, tty: bool
) -> list[list[Any]]:
    """Run each argv after `--db DB` both ways (each on its own copy of the database);
    assert the same exit status, stdout and stderr, byte for byte; the fast results."""
    fast = _batch(env, "fast", [{"argv": ["--db", str(fast_db), *a], "tty": tty} for a in argvs])
    slow = _batch(
        env, "ordinary", [{"argv": ["--db", str(slow_db), *a], "tty": tty} for a in argvs]
    )
    for argv, mine, theirs in zip(argvs, fast, slow, strict=True):
        shown = [
            part.replace(str(fast_db), "DB") if isinstance(part, str) else part for part in mine[:3]
        ]
        expected = [
            part.replace(str(slow_db), "DB") if isinstance(part, str) else part
            for part in theirs[:3]
        ]
        assert shown == expected, argv
        assert theirs[3], argv  # the ordinary path did load SQLAlchemy: it was compared
    return fast


# -- a database with a bit of everything, damaged rows too -------------------------------


def _damaged(path: Path) -> None:
    """Three servers (one named with invalid UTF-8), actions in most statuses, previews, a
    plan binding; then, behind the service's back: a BLOB stdout, a created_at that is no
    time, a stderr of two lines with an escape sequence, an unknown status stored as a
    BLOB, an event actor in bad UTF-8 and an event time that is no time."""
    db = open_database(path)
    try:
        service = ApprovalService(db)
        service.add_server("pi", "pi.lan", "Pi 4", paused=True)
        service.add_server("nas", "nas.lan", paused=True)
        service.add_server("web", "web.lan", "Web_One 50%", paused=True)
        made = [
            service.create_action("pi", "restart_service", "nginx", actor="bob"),
            service.create_action("nas", "apt_upgrade_all", actor="bob"),
            service.create_action("web", "restart_service", "cron", actor="alice"),
            service.create_action("pi", "clear_logs", actor="homelabcmd"),
            service.create_action("web", "apt_update", actor="bob"),
            service.create_action("nas", "restart_service", "smb_d", actor="bob"),
        ]
        for action, out in (
            (made[0], "LoadState=loaded\nActiveState=active\nSubState=running\n"),
            (made[1], "Inst nginx [1.22.1-9] (1.22.1-9+deb12u1 Debian:12.5/stable [amd64])\n"),
        ):
            probe = probe_of(action)
            assert probe is not None
            service.record_preview(action.id, probe, ProbeRun(0, out))
        service.approve(made[1].id, "carol", plan=PlanCheck.bind_current())  # binds its plan
        service.reject(made[2].id, "carol", "not \u26a0 now")
        service.cancel(made[3].id, "carol")
        service.approve(made[4].id, "dave")
    finally:
        db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("UPDATE remediation_actions SET stdout = x'ff00ff' WHERE id = 1")
        conn.execute("UPDATE remediation_actions SET created_at = 'not a time' WHERE id = 3")
        conn.execute(
            "UPDATE remediation_actions SET stderr = 'one' || char(10) || char(27) || '[2J'"
            " WHERE id = 4"
        )
        conn.execute("UPDATE remediation_actions SET status = x'00ff' WHERE id = 6")
        conn.execute("UPDATE servers SET display_name = CAST(x'4e4153ff' AS TEXT) WHERE id = 'nas'")
        conn.execute("DROP TRIGGER action_events_no_update")  # test data only; put back below
        conn.execute("UPDATE action_events SET actor = CAST(x'c3' AS TEXT) WHERE id = 2")
        conn.execute("UPDATE action_events SET at = 'yesterday' WHERE id = 3")
        conn.execute(TRIGGERS["action_events_no_update"])
    finally:
        conn.close()


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of the damaged database: one for each way of reading it."""
    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    _damaged(fast)
    shutil.copy(fast, slow)
    return fast, slow


_SHAPES = list(
    itertools.product(
        [[], ["--status", "pending", "--status=approved"]],
        [[], ["--server", "pi"]],
        [[], ["--type=restart_service"]],
        [[], ["--search", "nginx"], ["--search", "#1"]],
        [[], ["--sort", "newest"], ["--sort=server"], ["--sort", "action"]],
    )
)
#: Every shape of a listing (each filter on or off, every sort), then the odd cases.
LISTS = [sum(shape, ["list"]) for shape in _SHAPES] + [
    ["list", "--search", "50%"],  # LIKE's % and _ are matched as themselves
    ["list", "--search", "web_"],
    ["list", "--search", "smb_d"],
    ["list", "--search", "PI"],
    ["list", "--search", "/"],
    ["list", "--search", "  nginx  "],
    ["list", "--search", "4"],
    ["list", "--status", "rejected", "--status", "rejected"],
    ["list", "--status", "executing"],  # none: "no actions match"
    ["list", "--server", "nope"],
    ["list", "--limit", "2"],
    ["list", "--limit", "0"],
    ["list", "--offset", "3"],
    ["list", "--limit=2", "--offset=1", "--sort", "newest"],
    ["list", "--offset", "100"],
    ["list", "--limit", "1", "--offset", "5"],
]


def test_every_listing_prints_the_same_bytes_without_sqlalchemy(
    env: dict[str, str], pair: tuple[Path, Path]
) -> None:
    fast_db, slow_db = pair
    argvs = LISTS + [[*argv, "--json"] for argv in LISTS]
    fast = _compare(env, fast_db, slow_db, argvs, tty=False)
    assert [result[3:] for result in fast] == [[False, False]] * len(argvs)


def test_on_a_terminal_too(env: dict[str, str], pair: tuple[Path, Path]) -> None:
    """Fitted to $COLUMNS (70): shrunk columns, the footer's counts on a line of their own."""
    fast_db, slow_db = pair
    argvs = [["list"], ["list", "--sort", "server", "--limit", "3"], ["show", "2"], ["show", "3"]]
    argvs += [["events"], ["servers"], ["list", "--server", "nope"]]
    fast = _compare(env, fast_db, slow_db, argvs, tty=True)
    assert not any(result[3] for result in fast)
    assert "\n(all statuses: " in fast[0][1]


def test_show_events_and_servers_print_the_same_bytes_without_sqlalchemy(
    env: dict[str, str], pair: tuple[Path, Path]
) -> None:
    fast_db, slow_db = pair
    argvs = [["show", str(aid)] for aid in range(1, 7)] + [["show", "#2"]]
    for options in itertools.product(
        [[], ["--action", "1"], ["--action=#2"], ["--action", "99"]],
        [[], ["--since", "2000-01-01T00:00Z"], ["--since=2999-01-01T00:00+02:00"]],
        [[], ["--json"], ["--csv"]],
    ):
        argvs.append(sum(options, ["events"]))
    argvs += [["servers"], ["servers", "--json"]]
    fast = _compare(env, fast_db, slow_db, argvs, tty=False)
    assert not any(result[3] or result[4] for result in fast)
    page = fast[1][1]  # show 2: the apt upgrade, approved with its plan bound
    assert "  approved    the plan of " in page
    assert "\u26a0yesterday" in fast[2][1]  # show 3: its event's time, damaged
    assert "NAS\ufffd" in page  # the server's name, its bad byte shown as U+FFFD


def test_errors_and_what_the_fast_path_leaves_to_the_ordinary_one(
    env: dict[str, str], pair: tuple[Path, Path], tmp_path: Path
) -> None:
    """Each prints what the ordinary path prints (it is the ordinary path's doing)."""
    fast_db, slow_db = pair
    argvs = [
        ["show", "999"],  # not found: exit 3
        ["show", "999", "--json"],
        ["list", "--status", "bogus"],
        ["list", "--limit", "-1"],
        ["list", "--search", ""],
        ["list", "--server", "pi", "--server", "nas"],
        ["list", "--json", "--json"],
        ["events", "--since", "2026-01-01T00:00"],  # no offset: a usage error
        ["events", "--json", "--csv"],
        ["show", "4", "--follow"],  # cancelled: it ends at once
        ["show", "1", "2"],
        ["servers", "extra"],
        ["list", "--db", "x"],
        ["--read-only", "list"],
    ]
    fast = _compare(env, fast_db, slow_db, argvs, tty=False)
    assert fast[0][0] == 3
    assert fast[0][2] == "error: NOT_FOUND: action 999 not found\n"
    assert fast[3][0] == 2


def test_databases_the_fast_path_does_not_open_go_the_ordinary_way(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A file not there yet (created, then empty), an empty file, and one whose schema
    is older: the ordinary path opens them, and what it prints is printed."""
    for name, prepare in (
        ("missing", lambda path: None),
        ("empty", lambda path: path.write_bytes(b"")),
    ):
        fast_db, slow_db = tmp_path / f"{name}-fast.db", tmp_path / f"{name}-slow.db"
        prepare(fast_db)
        prepare(slow_db)
        fast = _compare(
            env, fast_db, slow_db, [["list"], ["servers"], ["events", "--json"]], tty=False
        )
        assert fast[0][1:4] == ["no actions yet\n", "", True]
    old_fast, old_slow = tmp_path / "old-fast.db", tmp_path / "old-slow.db"
    _damaged(old_fast)
    conn = sqlite3.connect(old_fast)
    conn.execute("UPDATE approvals_schema SET version = version - 1")
    conn.commit()
    conn.close()
    shutil.copy(old_fast, old_slow)
    fast = _compare(env, old_fast, old_slow, [["list"]], tty=False)
    assert fast[0][3]


def test_more_than_the_default_window_notes_it_on_stderr(
    env: dict[str, str], tmp_path: Path
) -> None:
    fast_db, slow_db = tmp_path / "fast.db", tmp_path / "slow.db"
    open_database(fast_db).close()
    conn = sqlite3.connect(fast_db)
    conn.execute("INSERT INTO servers (id, hostname, is_paused) VALUES ('pi', 'pi.lan', 1)")
    conn.executemany(
        "INSERT INTO remediation_actions (server_id, action_type, status, command, created_at,"
        " created_by) VALUES ('pi', 'clear_logs', 'pending', 'x', ?, 'bob')",
        [(f"2026-01-01 00:{n // 60:02d}:{n % 60:02d}.000000",) for n in range(1003)],
    )
    conn.commit()
    conn.close()
    shutil.copy(fast_db, slow_db)
    argvs = [["list", "--json"], ["list", "--json", "--offset", "2"], ["list"]]
    fast = _compare(env, fast_db, slow_db, argvs, tty=False)
    assert fast[0][2].startswith("note: 1000 of 1003 matching actions shown")
    assert not any(result[3] for result in fast)


@pytest.mark.parametrize(
    "words", [["list"], ["list", "--json"], ["show", "2"], ["events"], ["servers"]]
)
def test_each_read_command_leaves_sqlalchemy_unloaded(
    env: dict[str, str], pair: tuple[Path, Path], words: list[str]
) -> None:
    """As a script runs them: its own process, from the command line."""
    out, loaded, err = _cli(env, "--db", str(pair[0]), *words)
    assert (loaded, err) == (False, "")
    assert out.endswith("\nexit 0")


# -- the pre-parse reads exactly what argparse reads, or leaves it to argparse ----------------

_TAKEN = [
    "list",
    "list --json",
    "--db x.db --config c.toml --operator carol list --status pending --status=approved",
    "list --server pi --type apt_update --search nginx --sort newest --limit 5 --offset 0",
    "list --search=#5 --sort=action --limit=0",
    "list --status executing --status executing",
    "show 5",
    "show #5",
    "--db=x.db show 9223372036854775807",
    "events",
    "events --action 5 --json",
    "events --since 2026-11-27T10:00Z --csv",
    "events --since=2026-11-27T10:00:00+02:00 --action=#3",
    "servers",
    "servers --json",
    # Everything below is argparse's to read (or refuse).
    "list --status bogus",
    "list --status PENDING",
    "list --sort oldest --sort newest",
    "list --limit -1",
    "list --limit 1.5",
    "list --limit ٤",
    "list --offset 9223372036854775808",
    "list --search -x",
    "list --search=",
    "list --json --json",
    "list --json=1",
    "list --read-only",
    "list 5",
    "list --db x.db",
    "list --stat pending",
    "list -h",
    "list --",
    "show",
    "show 0",
    "show 5 6",
    "show 5 --follow",
    "show 5 --csv",
    "events --json --csv",
    "events --since 2026-11-27",
    "events --since yesterday",
    "events --action 0",
    "events 5",
    "servers --csv",
    "--read-only list",
    "--database-url sqlite:///x list",
    "--fresh servers",
    "--db x --db y list",
    "--operator -x list",
    "lists",
]


@pytest.mark.parametrize("line", _TAKEN)
def test_the_pre_parse_agrees_with_argparse(line: str) -> None:
    from homelab_approvals.cli.fast_reads import parse_read

    words = line.split()
    call = parse_read(words)
    if call is None:
        return  # argparse reads it, as always
    args = argparse_reading(words)
    assert args.command == call.verb
    assert (args.db, args.config) == (call.db, call.config)
    assert (args.read_only, args.group_shared, args.database_url) == (False, False, None)
    read = {**call.values}
    if call.verb == "list":
        read["statuses"] = call.statuses or None
        read.setdefault("sort", "oldest")
        read.setdefault("offset", 0)
    for name in ("json", "csv"):
        if hasattr(args, name):
            read[name] = f"--{name}" in call.flags
    expected = {k: v for k, v in vars(args).items() if v is not None and k in read}
    assert {k: v for k, v in read.items() if v is not None} == expected
    if call.verb == "show":
        assert (args.action_id, args.json, args.follow) == (call.values["action_id"], False, False)


def test_the_pre_parse_takes_the_common_shapes() -> None:
    from homelab_approvals.cli.fast_reads import parse_read

    taken = [line for line in _TAKEN if parse_read(line.split()) is not None]
    assert taken == _TAKEN[: _TAKEN.index("list --status bogus")]
