"""What an operator ran into at 80x24 over SSH: pastes into one-line fields, long names
in toasts and lists, an empty database, a write lock held by another program, and a
database file that stops being one. The real app under Pilot, on real databases of both
backends (a file that stops being one is SQLite's alone)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from textual import events

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.validation import REASON_MAX
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.tui.bulk import ConfirmApproval, MarkedList
from homelab_approvals.tui.inputs import one_line
from tui_support import (
    highlighted,
    open_reject,
    raw,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_settled,
    wait_until,
)

pytestmark = pytest.mark.backends


def fresh_service(path: Path) -> ApprovalService:
    return ApprovalService(open_database(path))


@contextmanager
def write_lock_held(target: DbTarget, action_id: int) -> Iterator[None]:
    """Another program writing, its transaction open: on SQLite the write lock on the
    whole file, on PostgreSQL the action's row."""
    if target.path is not None:
        holder = raw(target.path)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("COMMIT")
            holder.close()
        return
    with psycopg.connect(str(target.url)) as conn:  # committed on leaving
        conn.execute("SELECT 1 FROM remediation_actions WHERE id = %s FOR UPDATE", (action_id,))
        yield


@run_async
async def test_while_the_filter_is_edited_the_footer_names_enter_and_escape(
    demo: ApprovalService,
) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        await pilot.press("slash")
        await wait_until(pilot, lambda: console.filter_input.has_focus)
        await pilot.pause()
        shown = {
            binding.description
            for _key, (_ns, binding, _on, _tip) in console.active_bindings.items()
            if binding.show
        }
        assert {"Apply", "Clear"} <= shown
        assert "Filter" not in shown  # "/" is typed into the field, not a key here


def test_a_paste_becomes_one_line() -> None:
    assert one_line("first line\n  second\tline \r\n\n third ") == "first line second line third"


@run_async
async def test_a_pasted_reason_keeps_every_line(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        modal = await open_reject(pilot, app)
        field = modal.query_one("#reason")
        field.post_message(events.Paste("disk full\nbackup running\n\tuntil 02:00"))
        await wait_until(pilot, lambda: modal.query_one("#reason").value != "")  # type: ignore[attr-defined]
        assert modal.query_one("#reason").value == "disk full backup running until 02:00"  # type: ignore[attr-defined]


@run_async
async def test_a_paste_too_long_for_the_reason_goes_in_cut_and_says_so(
    demo: ApprovalService,
) -> None:
    async with running(demo) as (app, pilot):
        modal = await open_reject(pilot, app)
        modal.query_one("#reason").post_message(events.Paste("x" * (REASON_MAX + 25)))
        await wait_until(pilot, lambda: modal.error_text != "", "the note")
        assert modal.query_one("#reason").value == "x" * REASON_MAX  # type: ignore[attr-defined]
        assert "25 pasted characters left out" in modal.error_text


@run_async
async def test_long_names_do_not_make_a_toast_fill_the_screen(db_target: DbTarget) -> None:
    service = ApprovalService(db_target.open())
    service.add_server("long", "h" * 250, paused=True)
    service.create_action("long", ActionType.RESTART_SERVICE, "a" * 200, actor="cron")
    try:
        async with running(service) as (app, pilot):
            await pilot.press("a")
            await wait_until(pilot, lambda: any(t[1] == "Approved" for t in toasts(app)))
            message = next(t[2] for t in toasts(app) if t[1] == "Approved")
            assert len(message) < 100
            assert "…" in message
    finally:
        service.db.close()


@run_async
async def test_the_approval_list_cuts_a_long_action_instead_of_scrolling_sideways(
    db_target: DbTarget,
) -> None:
    service = ApprovalService(db_target.open())
    service.add_server("pi", "pi.lan", paused=True)
    service.create_action("pi", ActionType.RESTART_SERVICE, "a" * 120, actor="cron")
    service.create_action("pi", ActionType.CLEAR_LOGS, actor="cron")
    try:
        async with running(service) as (app, pilot):
            await pilot.press("ctrl+a", "A")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval))
            listed = app.screen.query_one(MarkedList)
            await wait_until(pilot, lambda: "…" in text_of(listed), "the cut action")
            assert listed.virtual_size.width <= listed.size.width
            assert not listed.show_horizontal_scrollbar
    finally:
        service.db.close()


@run_async
async def test_an_empty_database_says_there_are_no_actions_yet(db_target: DbTarget) -> None:
    service = ApprovalService(db_target.open())
    try:
        async with running(service) as (app, pilot):
            await wait_settled(pilot, app)
            shown = text_of(screen(app).query_one("#detail-body"))
            assert "No actions yet" in shown
            assert "Press p" not in shown  # there is nothing more to see under p
    finally:
        service.db.close()


@run_async
async def test_a_decision_waiting_on_a_write_lock_says_so_then_goes_through(
    demo: ApprovalService, demo_target: DbTarget
) -> None:
    async with running(demo) as (app, pilot):
        target = highlighted(app)
        assert target is not None
        with write_lock_held(demo_target, target.id):
            await pilot.press("a")
            await wait_until(
                pilot, lambda: any(t[1] == "Approving" for t in toasts(app)), "the waiting note"
            )
            assert "waiting for the database" in next(
                t[2] for t in toasts(app) if t[1] == "Approving"
            )
        await wait_until(pilot, lambda: any(t[1] == "Approved" for t in toasts(app)))
        assert demo.get_action(target.id).status == "approved"


# A database file that stops being one: a file's fate, SQLite's alone.


def rollback_journal_database(path: Path) -> ApprovalService:
    """A database in SQLite's default journal mode, as HomelabCmd's file is: there, a
    held connection reads the file's header again on every check."""
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE other (x)")
    plain.commit()
    plain.close()
    return fresh_service(path)


def spoil(path: Path) -> None:
    """Overwrite the file's header in place, under open connections."""
    with path.open("r+b") as file:
        file.write(b"garbage!" * 64)


@pytest.mark.sqlite_only("a file overwritten under the console")
@run_async
async def test_a_file_that_stops_being_a_database_is_retried_not_the_end_of_refresh(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spoilt.db"
    service = rollback_journal_database(path)
    service.add_server("pi", "pi.lan", paused=True)
    service.create_action("pi", ActionType.CLEAR_LOGS, actor="cron")
    try:
        async with running(service) as (app, pilot):
            banner = screen(app).query_one("#refresh-error")
            spoil(path)
            await wait_until(pilot, lambda: bool(banner.display), "the refresh error")
            shown = text_of(banner)
            assert "cannot refresh (retrying)" in shown  # not "live refresh stopped"
            assert "not a SQLite database" in shown
    finally:
        service.db.close()


@pytest.mark.sqlite_only("a file overwritten under the service")
def test_the_change_token_of_a_spoilt_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "spoilt.db"
    service = rollback_journal_database(path)
    try:
        service.change_token()
        spoil(path)
        with pytest.raises(StorageError, match="not a SQLite database"):
            service.change_token()
    finally:
        service.db.close()
