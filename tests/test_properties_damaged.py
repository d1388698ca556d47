"""Issue 16, as a property: arbitrary bytes written straight into any text column of
remediation_actions, servers or action_events (as text or as a BLOB). For any such row
the CLI and the console never raise, never send a control byte (below 0x20, other than
a newline) to the terminal, and still list every other row."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homelab_approvals.cli.main import main
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.storage.sqlite.backend import TRIGGERS as _SQLITE_TRIGGERS
from tui_support import frozen_clock, rows, run_async, running, screen, text_of, wait_until

COLUMNS = {
    "remediation_actions": [
        "server_id", "action_type", "status", "service_name", "command", "created_at",
        "created_by", "approved_at", "approved_by", "rejected_at", "rejected_by",
        "rejection_reason", "executed_at", "completed_at", "stdout", "stderr",
    ],
    "servers": ["id", "hostname", "display_name", "paused_at"],
    "action_events": ["from_status", "to_status", "actor", "at", "reason"],
}  # fmt: skip
PLACES = [(table, column) for table, columns in COLUMNS.items() for column in columns]


@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    """Two servers, three actions (pending, approved, rejected) and their events."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.db"
        service = ApprovalService(open_database(path), clock=frozen_clock)
        service.add_server("pi", "pi.lan", "Pi", paused=True)
        service.add_server("nas", "nas.lan", paused=True)
        for unit in ("a", "b", "c"):
            service.create_action("pi", "restart_service", unit, actor="bob")
        service.approve(2, "alice")
        service.reject(3, "alice", "not now")
        service.db.close()
        yield path


def _damaged_copy(template: Path, folder: Path, place: tuple[str, str], value: bytes,
                  as_blob: bool) -> Path:  # fmt: skip
    path = folder / "approvals.db"
    shutil.copy(template, path)
    table, column = place
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    trigger = "action_events_no_update"
    if table == "action_events":
        conn.execute(f"DROP TRIGGER {trigger}")  # test data only; put back exactly below
    key = "id = 2" if table != "servers" else "id = 'pi'"
    cast = "?" if as_blob else "CAST(? AS TEXT)"
    conn.execute(f"UPDATE {table} SET {column} = {cast} WHERE {key}", (value,))
    if table == "action_events":
        conn.execute(_SQLITE_TRIGGERS[trigger])
    conn.close()
    return path


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _no_control_bytes(text: str) -> None:
    bad = [char for char in text if ord(char) < 0x20 and char != "\n"]
    assert bad == [], repr(text)


damage = st.tuples(st.sampled_from(PLACES), st.binary(max_size=24), st.booleans())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=damage)
def test_the_cli_lists_every_row_and_sends_no_control_byte(
    template: Path, damage: tuple[tuple[str, str], bytes, bool]
) -> None:
    place, value, as_blob = damage
    with tempfile.TemporaryDirectory() as folder:
        path = _damaged_copy(template, Path(folder), place, value, as_blob)
        db = ["--db", str(path)]
        for words in (["list"], ["servers"], ["show", "2"], ["events"]):
            code, out, err = _cli(*db, *words)
            assert (code, err) == (0, ""), (words, err)
            _no_control_bytes(out)
        code, out, err = _cli(*db, "list", "--json")
        assert code == 0, err
        assert sorted(row["id"] for row in json.loads(out)) == [1, 2, 3]
        code, out, err = _cli(*db, "servers", "--json")
        assert code == 0, err
        assert len(json.loads(out)) == 2
        code, out, err = _cli(*db, "events", "--json")
        assert code == 0, err
        assert [event["id"] for event in json.loads(out)] == [1, 2, 3, 4, 5]
        _no_control_bytes(out)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=damage)
def test_the_console_lists_every_row_and_draws_no_control_byte(
    template: Path, damage: tuple[tuple[str, str], bytes, bool]
) -> None:
    place, value, as_blob = damage
    with tempfile.TemporaryDirectory() as folder:
        path = _damaged_copy(template, Path(folder), place, value, as_blob)
        service = ApprovalService(open_database(path), clock=frozen_clock)
        try:
            _console(service)
        finally:
            service.db.close()


@run_async
async def _console(service: ApprovalService) -> None:
    async with running(service, size=(120, 30)) as (app, pilot):
        console = screen(app)
        await pilot.press("p")  # every status
        await wait_until(pilot, lambda: sorted(rows(app)) == [1, 2, 3], "every row")
        for action_id in (1, 2, 3):
            console.table.select_id(action_id)
            await wait_until(
                pilot,
                lambda a=action_id: (
                    console.detail.view is not None  # type: ignore[misc]
                    and console.detail.view.id == a
                ),
            )
            await pilot.pause()
            _no_control_bytes(text_of(console.table) + text_of(console.detail))
        assert app.is_running
