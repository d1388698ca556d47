"""The console, driven headless through Pilot on real databases: each test on a SQLite
file and on a PostgreSQL database (the `backends` marker, tests/conftest.py)."""

from __future__ import annotations

import pytest
from textual.binding import Binding
from textual.command import CommandList
from textual.widgets import Input, Static

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus, ActionType, SortOrder
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.service.queries import DEFAULT_WINDOW
from homelab_approvals.tui.console import ConsoleScreen
from homelab_approvals.tui.formatting import age
from homelab_approvals.tui.help import HelpScreen
from homelab_approvals.tui.reject import REASON_REQUIRED, RejectScreen
from homelab_approvals.tui.topbar import TopBar
from tui_support import (
    NOW,
    detail_shows,
    highlighted,
    highlighted_id,
    open_reject,
    open_service,
    other_connection,
    rows,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_refresh,
    wait_settled,
    wait_until,
)

pytestmark = pytest.mark.backends

PENDING = ActionQuery(statuses=(ActionStatus.PENDING,))


def pending_ids(service: ApprovalService) -> list[int]:
    return [view.id for view in service.list_actions(PENDING).rows]


# -- the first screen -----------------------------------------------------------------------


@run_async
async def test_first_screen_is_the_pending_queue_oldest_first(demo: ApprovalService) -> None:
    async with running(demo) as (app, _pilot):
        console = screen(app)
        assert rows(app) == pending_ids(demo)
        assert highlighted_id(app) == pending_ids(demo)[0]
        topbar = console.query_one(TopBar)
        page = demo.list_actions(PENDING)
        assert (topbar.pending, topbar.total) == (page.pending, page.grand_total)
        rendered = topbar.render().plain
        assert "alice" in rendered
        assert f"{page.pending} pending · {page.grand_total} total" in rendered
        assert "Pending · oldest first" in str(console.table.border_title)
        assert console.table.has_focus


@run_async
async def test_detail_pane_shows_command_server_and_history(demo: ApprovalService) -> None:
    async with running(demo) as (app, _pilot):
        view = highlighted(app)
        assert view is not None
        body = text_of(screen(app).query_one("#detail-body", Static))
        assert view.command in body
        assert "in maintenance" in body
        assert "created → pending by homelabcmd" in body
        assert age(view.created_at, NOW) in body


@run_async
async def test_detail_says_so_on_screen_when_an_action_has_no_history(
    demo: ApprovalService, demo_target: DbTarget
) -> None:
    """An action HomelabCmd created before homelab-approvals was installed has no events.
    The pane must *draw* that, not only hold it: a last line without its newline used to
    be left out of the pane's height, so the history was blank."""
    server = demo.list_actions(PENDING).rows[0].server_id
    demo_target.execute(
        "INSERT INTO remediation_actions (server_id, action_type, status, service_name,"
        " command, created_at, created_by) VALUES (:server, 'restart_service', 'pending',"
        " 'nginx', 'systemctl restart nginx', '2020-01-01 00:00:00.000000', 'homelabcmd')",
        server=server,
    )
    async with running(demo) as (app, pilot):
        assert highlighted(app) is not None
        oldest = highlighted_id(app)
        assert oldest is not None
        assert demo.list_events(oldest) == []  # the row inserted above
        await wait_until(pilot, lambda: detail_shows(app, oldest), "its (empty) history")
        drawn = text_of(screen(app).query_one("#detail-body", Static)).splitlines()
        assert [line.strip() for line in drawn[-2:]] == ["History (UTC)", "no events recorded"]


@run_async
async def test_an_empty_view_says_why_on_screen(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        await pilot.press("slash", *"no-such-thing", "enter")
        await wait_until(pilot, lambda: rows(app) == [], "the filter to match nothing")
        await wait_settled(pilot, app)
        drawn = text_of(screen(app).query_one("#detail-body", Static))
        assert "No action matches the filter. Press escape to clear it." in drawn


@run_async
async def test_completed_action_detail_has_exit_code_and_output(demo: ApprovalService) -> None:
    done = demo.list_actions(ActionQuery(statuses=(ActionStatus.COMPLETED,))).rows[0]
    async with running(demo) as (app, pilot):
        await pilot.press("p")
        await wait_settled(pilot, app)
        assert screen(app).table.select_id(done.id)
        await wait_until(pilot, lambda: detail_shows(app, done.id))
        body = text_of(screen(app).query_one("#detail-body", Static))
        assert "Exit code 0" in body
        assert "approved → executing by agent" in body


# -- decisions ------------------------------------------------------------------------------


@run_async
async def test_approve_decides_the_highlighted_row_and_moves_on(demo: ApprovalService) -> None:
    first, second = pending_ids(demo)[:2]
    async with running(demo) as (app, pilot):
        before = screen(app).refreshes
        await pilot.press("a")
        await wait_refresh(pilot, app, before)
        await wait_until(pilot, lambda: first not in rows(app), "the approved row to leave")
        action = demo.get_action(first)
        assert (action.status, action.approved_by) == ("approved", "alice")
        assert highlighted_id(app) == second
        assert (
            "information",
            "Approved",
            f"#{first} · {action.summary} on {action.server_label}",
        ) in toasts(app)


@run_async
async def test_reject_refuses_a_blank_reason_and_escape_decides_nothing(
    demo: ApprovalService,
) -> None:
    first = pending_ids(demo)[0]
    async with running(demo) as (app, pilot):
        modal = await open_reject(pilot, app)
        title = text_of(modal.query_one("#reject-title", Static))
        assert title.startswith(f"Reject #{first} · ")
        field = modal.query_one("#reason", Input)
        assert field.max_length == 1000
        assert "reason is required" in field.placeholder
        assert "1000" in field.placeholder
        await pilot.press("space", "space", "enter")
        await pilot.pause()
        assert app.screen is modal
        assert modal.error_text == REASON_REQUIRED
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        assert demo.get_action(first).status == "pending"
        assert first in rows(app)


@run_async
async def test_reject_with_a_reason(demo: ApprovalService) -> None:
    first = pending_ids(demo)[0]
    async with running(demo) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen))
        await pilot.press(*"Backup running", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen), "the modal to close")
        action = demo.get_action(first)
        assert (action.status, action.rejected_by, action.rejection_reason) == (
            "rejected",
            "alice",
            "Backup running",
        )
        await wait_until(pilot, lambda: first not in rows(app))
        assert any(t[1] == "Rejected" for t in toasts(app))


@run_async
async def test_a_reason_the_service_refuses_is_shown_inside_the_modal(
    demo: ApprovalService,
) -> None:
    first = pending_ids(demo)[0]
    async with running(demo) as (app, pilot):
        modal = await open_reject(pilot, app)
        modal.query_one("#reason", Input).value = "pasted\x1b[2J junk"
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(modal.error_text) and not modal.busy)
        assert app.screen is modal
        assert "control characters" in modal.error_text
        assert demo.get_action(first).status == "pending"


@run_async
async def test_cancel_a_pending_action(demo: ApprovalService) -> None:
    first = pending_ids(demo)[0]
    async with running(demo) as (app, pilot):
        await pilot.press("c")
        await wait_until(pilot, lambda: first not in rows(app))
        action = demo.get_action(first)
        assert (action.status, action.exit_code) == ("failed", -1)
        assert any(t[1] == "Cancelled" for t in toasts(app))


@run_async
async def test_decision_keys_are_disabled_where_the_status_does_not_allow_them(
    demo: ApprovalService,
) -> None:
    rejected = demo.list_actions(ActionQuery(statuses=(ActionStatus.REJECTED,))).rows[0]
    approved = demo.list_actions(ActionQuery(statuses=(ActionStatus.APPROVED,))).rows[0]
    async with running(demo) as (app, pilot):
        console = screen(app)
        assert console.check_action("approve", ()) is True
        await pilot.press("p")
        await wait_settled(pilot, app)
        console.table.select_id(rejected.id)
        await pilot.pause()
        for action in ("approve", "reject", "cancel_action"):
            assert console.check_action(action, ()) is None
        await pilot.press("a", "c", "r")
        await pilot.pause()
        assert isinstance(app.screen, ConsoleScreen)
        assert demo.get_action(rejected.id).status == "rejected"
        console.table.select_id(approved.id)
        await pilot.pause()
        assert console.check_action("approve", ()) is None
        assert console.check_action("cancel_action", ()) is True
        await pilot.press("c")
        await wait_until(pilot, lambda: demo.get_action(approved.id).status == "failed")


@run_async
async def test_conflict_is_a_warning_naming_who_decided(
    demo_target: DbTarget, demo: ApprovalService
) -> None:
    first = pending_ids(demo)[0]
    # A slow poll, so the row is still on screen (and still "pending" there) when we press.
    async with running(demo, poll_interval=30) as (app, pilot):
        with other_connection(demo_target) as bob_side:
            bob_side.reject(first, "bob", "Recovered on its own")
        assert highlighted_id(app) == first
        await pilot.press("a")
        await wait_until(pilot, lambda: any(t[0] == "warning" for t in toasts(app)))
        _severity, _title, message = next(t for t in toasts(app) if t[0] == "warning")
        assert "bob" in message
        assert "rejected" in message
        assert "2026-11-27 10:00 UTC" in message
        await wait_until(pilot, lambda: first not in rows(app), "the row to refresh")
        assert demo.get_action(first).rejected_by == "bob"


@run_async
async def test_a_database_error_is_a_toast_and_the_app_carries_on(
    demo_target: DbTarget, demo: ApprovalService
) -> None:
    first = pending_ids(demo)[0]
    async with running(demo, poll_interval=0.05) as (app, pilot):
        demo_target.execute("ALTER TABLE remediation_actions RENAME TO hidden_actions")
        try:
            await pilot.press("a")
            await wait_until(pilot, lambda: any(t[0] == "error" for t in toasts(app)))
            banner = screen(app).query_one("#refresh-error", Static)
            await wait_until(pilot, lambda: banner.display, "the refresh error banner")
            assert "retrying" in text_of(banner)
        finally:
            demo_target.execute("ALTER TABLE hidden_actions RENAME TO remediation_actions")
        await wait_until(pilot, lambda: not banner.display, "the refresh to recover")
        assert app.is_running
        await pilot.press("a")
        await wait_until(pilot, lambda: demo.get_action(first).status == "approved")


# -- view: filter, toggle, sort, windows ----------------------------------------------------


@run_async
async def test_filter_narrows_focuses_the_table_and_escape_clears(demo: ApprovalService) -> None:
    expected = [v.id for v in demo.list_actions(PENDING.with_(search="pihole")).rows]
    assert 0 < len(expected) < len(pending_ids(demo))
    async with running(demo) as (app, pilot):
        console = screen(app)
        await pilot.press("down", "down", "slash")
        assert console.filter_input.has_focus
        await pilot.press(*"pihole", "enter")
        await wait_until(pilot, lambda: rows(app) == expected, "the filtered rows")
        await wait_settled(pilot, app)
        assert console.table.has_focus
        assert highlighted_id(app) == expected[0]
        assert 'filter "pihole"' in str(console.table.border_title)
        await pilot.press("escape")
        await wait_until(pilot, lambda: rows(app) == pending_ids(demo), "the filter to clear")


@run_async
async def test_filter_by_id(demo: ApprovalService) -> None:
    target = pending_ids(demo)[3]
    async with running(demo) as (app, pilot):
        await pilot.press("slash", *f"#{target}", "enter")
        await wait_until(pilot, lambda: rows(app) == [target])


@run_async
async def test_a_filter_the_service_refuses_is_an_error_and_changes_nothing(
    demo: ApprovalService,
) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        await pilot.press("slash")
        console.filter_input.value = "x" * 201
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(t[0] == "error" for t in toasts(app)))
        assert "at most 200" in next(t[2] for t in toasts(app) if t[0] == "error")
        assert console.view_query.search is None


@run_async
async def test_toggle_all_newest_first_and_back(demo: ApprovalService) -> None:
    everything = [v.id for v in demo.list_actions(ActionQuery(sort=SortOrder.NEWEST)).rows]
    async with running(demo) as (app, pilot):
        console = screen(app)
        assert console.check_action("show_all", ()) is True
        assert console.check_action("show_pending", ()) is False
        await pilot.press("p")
        await wait_until(pilot, lambda: rows(app) == everything)
        assert "All · newest first" in str(console.table.border_title)
        assert console.check_action("show_pending", ()) is True
        await pilot.press("p")
        await wait_until(pilot, lambda: rows(app) == pending_ids(demo))


@run_async
async def test_sort_cycles(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        seen = []
        for _ in range(len(SortOrder)):
            await pilot.press("s")
            await wait_settled(pilot, app)
            sort = console.view_query.sort
            expected = [v.id for v in demo.list_actions(PENDING.with_(sort=sort)).rows]
            await wait_until(pilot, lambda e=expected: rows(app) == e)  # type: ignore[misc]
            seen.append(sort)
        assert seen == [SortOrder.NEWEST, SortOrder.SERVER, SortOrder.ACTION, SortOrder.OLDEST]


@run_async
async def test_the_table_holds_a_window_and_pages_through_sql(demo: ApprovalService) -> None:
    ids = pending_ids(demo)
    async with running(demo, window=5) as (app, pilot):
        console = screen(app)
        assert rows(app) == ids[:5]
        assert f"1–5 of {len(ids)}" in str(console.table.border_title)
        assert console.check_action("previous_window", ()) is None
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: rows(app) == ids[5:10])
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: rows(app) == ids[:5])
    assert DEFAULT_WINDOW == 1000


# -- live refresh ---------------------------------------------------------------------------


@run_async
async def test_another_connection_writes_and_the_cursor_stays_on_its_action(
    demo_target: DbTarget,
    demo: ApprovalService,
) -> None:
    ids = pending_ids(demo)
    async with running(demo) as (app, pilot):
        console = screen(app)
        await pilot.press("down", "down", "down")
        watched = highlighted_id(app)
        assert watched == ids[3]
        row_on_screen = console.table.cursor_row - round(console.table.scroll_y)
        before = console.refreshes
        with other_connection(demo_target) as other:
            other.approve(ids[0], "bob")  # a row above the cursor leaves
            other.approve(ids[1], "bob")
            new = other.create_action("pi-4", ActionType.RESTART_SERVICE, "sshd", actor="cron")
        await wait_until(pilot, lambda: new.id in rows(app), "the new row")
        assert console.refreshes > before
        assert ids[0] not in rows(app)
        assert ids[1] not in rows(app)
        assert highlighted_id(app) == watched
        assert console.table.cursor_row - round(console.table.scroll_y) <= row_on_screen
        assert console.table.is_fresh(new.id)
        assert console.query_one(TopBar).pending == len(ids) - 1


@run_async
async def test_many_rows_leaving_at_once_keep_the_table_consistent(
    demo_target: DbTarget,
    demo: ApprovalService,
) -> None:
    ids = pending_ids(demo)
    async with running(demo) as (app, pilot):
        console = screen(app)
        keep = ids[-1]
        console.table.select_id(keep)
        with other_connection(demo_target) as other:
            for action_id in ids[:-3]:
                other.approve(action_id, "bob")
        await wait_until(pilot, lambda: rows(app) == ids[-3:])
        table = console.table
        assert table.row_count == 3
        assert table.virtual_size.height == 3 + table.header_height
        # What it paints, below its header: those three rows, in order, and nothing more.
        painted = [table.render_line(y).text.split() for y in range(1, 5)]
        assert [line[0] for line in painted[:3]] == [str(i) for i in ids[-3:]]
        assert painted[3] == []
        assert highlighted_id(app) == keep


@run_async
async def test_refresh_never_takes_focus_from_the_reject_modal(
    demo_target: DbTarget, demo: ApprovalService
) -> None:
    ids = pending_ids(demo)
    async with running(demo) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen))
        modal = app.screen
        field = modal.query_one("#reason", Input)
        await pilot.press(*"half a rea")
        before = screen(app).refreshes
        with other_connection(demo_target) as other:
            other.approve(ids[-1], "bob")
        await wait_refresh(pilot, app, before)
        assert app.screen is modal
        assert app.focused is field
        await pilot.press(*"son", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        assert demo.get_action(ids[0]).rejection_reason == "half a reason"


# -- read-only ------------------------------------------------------------------------------


@run_async
async def test_read_only_shows_a_banner_disables_decisions_and_still_refreshes(
    demo_target: DbTarget,
    demo: ApprovalService,
) -> None:
    demo.db.close()
    ro = open_service(demo_target, read_only=True)
    first = pending_ids(ro)[0]
    try:
        async with running(ro) as (app, pilot):
            console = screen(app)
            banner = text_of(console.query_one("#banner", Static))
            assert "READ-ONLY" in banner
            assert "--read-only was given" in banner
            for action in ("approve", "reject", "cancel_action"):
                assert console.check_action(action, ()) is None
            await pilot.press("a", "c", "r")
            await pilot.pause()
            assert isinstance(app.screen, ConsoleScreen)
            with other_connection(demo_target) as other:
                new = other.create_action("nas", ActionType.RESTART_SERVICE, "sshd", actor="cron")
            await wait_until(pilot, lambda: new.id in rows(app), "live refresh")
        assert ro.get_action(first).status == "pending"
    finally:
        ro.db.close()


@run_async
async def test_an_operator_outside_the_approvers_list_is_read_only(demo: ApprovalService) -> None:
    from homelab_approvals.service import ApprovalService, Policy

    limited = ApprovalService(demo.db, Policy(approvers=frozenset({"bob"})), clock=demo.clock)
    async with running(limited, "mallory") as (app, _pilot):
        assert "mallory is not in the approvers list" in text_of(
            screen(app).query_one("#banner", Static)
        )
        assert screen(app).check_action("approve", ()) is None


# -- help, palette, quit, detail focus ------------------------------------------------------


@run_async
async def test_help_lists_every_key_and_closes(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(text_of(s) for s in app.screen.query(Static))
        for binding in Binding.make_bindings(ConsoleScreen.BINDINGS):
            assert binding.description in text
        for key in (
            "a",
            "r",
            "c",
            "/",
            "p",
            "s",
            "enter",
            "?",
            "q",
            "^p",
            "esc",
            "[",
            "]",
            "j",
            "k",
        ):
            assert key in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen))


@run_async
async def test_q_quits_with_status_zero(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


@run_async
async def test_command_palette_offers_what_applies_and_runs_it(demo: ApprovalService) -> None:
    first = pending_ids(demo)[0]
    async with running(demo) as (app, pilot):
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: app.screen.has_class("--textual-command-palette"))
        await pilot.press(*"approve")
        commands = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: commands.option_count == 1, "one matching command")
        assert "Approve (a)" in str(commands.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_until(pilot, lambda: demo.get_action(first).status == "approved", "the palette")


@run_async
async def test_enter_opens_the_detail_and_escape_returns(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        await pilot.press("enter")
        assert console.detail.has_focus
        assert console.maximized is console.detail  # full screen at 80 columns
        await pilot.press("escape")
        assert not console.detail.has_class("-maximized")
        assert console.table.has_focus


@run_async
async def test_wide_terminal_puts_the_detail_beside_the_table(demo: ApprovalService) -> None:
    async with running(demo, size=(120, 40)) as (app, _pilot):
        console = screen(app)
        assert console.has_class("-wide")
        table, detail = console.table.region, console.detail.region
        assert detail.x >= table.right
        assert detail.y <= table.y + 1
