"""Issue 16 through the real console: a damaged row is shown as damaged and the rest
listed; a keypress on one never crashes; tampered audit triggers and a database file
replaced under the console are said, and decisions stop until it is reopened. On both
backends, but for what only SQLite can hold (bytes that are not UTF-8, a BLOB or a word
in a TEXT or time column) and a file replaced."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import AUDIT_RESTORED
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.tui.reject import RejectScreen
from tui_support import (
    frozen_clock,
    open_reject,
    raw,
    rows,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_until,
)

#: Byte patterns that are not UTF-8, each carrying an escape sequence (OSC 52: clipboard).
BAD_BYTES = [
    b"\xff\xfe",
    b"\xc3\x28\x1b]52;c;ZXZpbA==\x07",
    b"ok\xe2\x82",  # a cut multi-byte character
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\x80\x1b]0;PWNED\x07",
]
TEXT_COLUMNS = [
    "server_id",
    "action_type",
    "service_name",
    "command",
    "created_by",
    "approved_by",
    "rejected_by",
    "rejection_reason",
    "stdout",
    "stderr",
]


pytestmark = pytest.mark.backends
#: PostgreSQL's text and timestamp columns refuse what these tests store.
NOT_UTF8 = "bytes that are not UTF-8, BLOBs and words in a time column: SQLite's alone"


def _queue(where: Path | DbTarget) -> ApprovalService:
    """Three pending actions on a paused server, written the ordinary way."""
    db = where.open() if isinstance(where, DbTarget) else open_database(where)
    service = ApprovalService(db, clock=frozen_clock)
    service.add_server("pi", "pi.lan", "Pi", paused=True)
    for unit in ("a", "b", "c"):
        service.create_action("pi", "restart_service", unit, actor="bob")
    return service


@pytest.fixture
def queue(db_target: DbTarget) -> Iterator[ApprovalService]:
    service = _queue(db_target)
    yield service
    service.db.close()


def _damage(service: ApprovalService, column: str, value: object, *, as_text: bool) -> None:
    conn = raw(Path(service.db.label))
    cast = "CAST(? AS TEXT)" if as_text else "?"
    conn.execute(f"UPDATE remediation_actions SET {column} = {cast} WHERE id = 2", (value,))
    conn.close()


def _on_screen(app) -> str:  # type: ignore[no-untyped-def]
    """The list and the detail pane, as drawn."""
    console = screen(app)
    return text_of(console.table) + "\n" + text_of(console.detail)


@pytest.mark.sqlite_only(NOT_UTF8)
@pytest.mark.parametrize("column", TEXT_COLUMNS)
@run_async
async def test_every_text_column_damaged_still_lists_every_row(
    queue: ApprovalService, column: str
) -> None:
    if column == "server_id":
        conn = raw(Path(queue.db.label))
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.close()
    # Each column gets another byte pattern, as text in one and as a BLOB in the next
    # (every pattern, both ways, over the columns); test_properties.py tries many more.
    index = TEXT_COLUMNS.index(column)
    _damage(queue, column, BAD_BYTES[index % len(BAD_BYTES)], as_text=index % 2 == 0)
    async with running(queue, size=(120, 30)) as (app, pilot):
        await wait_until(pilot, lambda: sorted(rows(app)) == [1, 2, 3], "all three rows")
        shown = _on_screen(app)
        assert "\x1b" not in shown
        assert "\x07" not in shown
        assert "cannot refresh" not in shown
        screen(app).table.select_id(2)
        await pilot.press("r")  # used to crash on a BLOB command (TypeError)
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen))
        title = text_of(app.screen.query_one("#reject-title"))
        assert "\x1b" not in title
        await pilot.press("escape")
        assert app.is_running


@pytest.mark.sqlite_only(NOT_UTF8)
@run_async
async def test_a_blob_and_a_bad_time_are_shown_marked_and_still_decidable(
    queue: ApprovalService,
) -> None:
    conn = raw(Path(queue.db.label))
    conn.execute(
        "UPDATE remediation_actions SET command = ?, created_at = 'soon' WHERE id = 2",
        (b"\x00\x01\x02",),
    )
    conn.execute("UPDATE servers SET display_name = ?", (b"\xff" * 5,))
    conn.close()
    async with running(queue, size=(120, 30)) as (app, pilot):
        assert sorted(rows(app)) == [1, 2, 3]
        assert "\u26a0soon" in _on_screen(app)
        assert "\u27e85 bytes\u27e9" in _on_screen(app)
        screen(app).table.select_id(2)
        detail = screen(app).detail
        await wait_until(pilot, lambda: detail.view is not None and detail.view.id == 2)
        assert detail.view is not None
        assert detail.view.command == "\u27e83 bytes\u27e9"
        modal = await open_reject(pilot, app)
        assert isinstance(modal, RejectScreen)
        await pilot.press(*"bad row", "enter")
        await wait_until(pilot, lambda: queue.get_action(2).status == "rejected")
        assert app.is_running


@run_async
async def test_a_driver_error_in_a_toast_reaches_the_screen_inert(
    queue: ApprovalService, db_target: DbTarget
) -> None:
    """The refresh failure toast used to print the driver's message raw."""
    async with running(queue) as (app, pilot):
        db_target.execute('ALTER TABLE remediation_actions RENAME TO "gone\x1b]0;PWNED\x07"')
        await wait_until(pilot, lambda: any(t[0] == "error" for t in toasts(app)), "a toast")
        for _severity, title, message in toasts(app):
            assert "\x1b" not in title + message
            assert "\x07" not in title + message


@run_async
async def test_tampered_audit_protection_shows_a_banner(db_target: DbTarget) -> None:
    _queue(db_target).db.close()
    if db_target.backend == "sqlite":
        db_target.execute("DROP TRIGGER action_events_no_delete")
    else:
        db_target.execute("DROP TRIGGER action_events_append_only ON action_events")
    service = ApprovalService(db_target.open(), clock=frozen_clock)
    try:
        async with running(service) as (app, _pilot):
            banner = text_of(app.screen.query_one("#audit-banner"))
            assert AUDIT_RESTORED in banner
    finally:
        service.db.close()


@pytest.mark.sqlite_only("a database file replaced")
@pytest.mark.parametrize("how", ["moved over", "wal removed"])
@run_async
async def test_a_replaced_file_stops_decisions_until_reopened(tmp_path: Path, how: str) -> None:
    path = tmp_path / "approvals.db"
    service = _queue(path)
    copy = tmp_path / "copy.db"
    try:
        async with running(service) as (app, pilot):
            console = screen(app)
            if how == "moved over":
                other = _queue(copy)
                other.db.close()
                os.replace(copy, path)
                shutil.rmtree(tmp_path / "none", ignore_errors=True)
            else:
                os.unlink(path.with_name("approvals.db-wal"))
            # Noticed within a refresh; then reopened cleanly, and decisions are back.
            await wait_until(
                pilot,
                lambda: any(t[1] == "Database replaced" for t in toasts(app)),
                "the replacement noticed",
            )
            await wait_until(
                pilot,
                lambda: any(t[2].startswith("reopened") for t in toasts(app)),
                f"reopen {toasts(app)} {text_of(app.screen.query_one('#file-banner'))}",
            )
            assert console.service is not None
            assert console.service is not service
            assert console._open_error is None
            await pilot.press("a")
            await wait_until(pilot, lambda: any(t[1] == "Approved" for t in toasts(app)))
            assert console.service.get_action(1).status == "approved"
    finally:
        service.db.close()


@pytest.mark.sqlite_only("a database file replaced")
def test_a_decision_into_a_replaced_file_is_an_error(tmp_path: Path) -> None:
    """The service's own check, after the commit: never reported as done."""
    path = tmp_path / "approvals.db"
    service = _queue(path)
    try:
        service.change_token()  # the console watches: the file's identity is taken
        _queue(tmp_path / "copy.db").db.close()
        os.replace(tmp_path / "copy.db", path)
        with pytest.raises(Exception, match="database file was replaced") as caught:
            service.approve(1, "alice")
        assert type(caught.value).__name__ == "DatabaseReplaced"
    finally:
        service.db.close()


@run_async
async def test_the_reject_modal_keeps_its_title_to_one_line(
    queue: ApprovalService, db_target: DbTarget
) -> None:
    """A very long name or command used to push the modal's title off an 80x24 screen."""
    db_target.execute(
        "UPDATE remediation_actions SET service_name = :unit, command = :command WHERE id = 1",
        unit="x" * 255,  # the column's width, all PostgreSQL holds: three 80x24 lines
        command="systemctl restart " + "y " * 2000,
    )
    async with running(queue, size=(80, 24)) as (app, pilot):
        await open_reject(pilot, app)
        title = app.screen.query_one("#reject-title")
        assert title.size.height == 1
        assert title.region.y >= 0
        reason = app.screen.query_one("#reason")
        assert reason.region.bottom <= 24
        await pilot.press("escape")
