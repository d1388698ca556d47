"""Hostile text from the database is shown literally and does nothing.

HomelabCmd (or anyone with write access) can put anything in these columns. Textual
reads `[@click=app.quit]` in markup as a real action bound to a mouse click, and a raw
escape sequence would reach the operator's terminal. Neither may happen, on either
backend: PostgreSQL's text holds escape and control characters as SQLite's does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.text import visible
from homelab_approvals.service import ApprovalService
from homelab_approvals.tui.reject import RejectScreen
from tui_support import (
    RecordingApp,
    detail_shows,
    frozen_clock,
    rows,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_until,
)

HOSTILE = (
    "[/]",
    "[bold]x",
    "[@click=app.quit]boom[/]",
    "\x1b]0;PWNED\x07",
    "\x1b[2J",
)
CLICK = HOSTILE[2]

pytestmark = pytest.mark.backends


@pytest.fixture
def hostile(db_target: DbTarget) -> Iterator[ApprovalService]:
    """One server named by markup, and one pending action per hostile string, written
    with plain SQL as another program would."""
    service = ApprovalService(db_target.open(), clock=frozen_clock)  # our schema first
    db_target.execute(
        "INSERT INTO servers (id, hostname, display_name, is_paused)"
        " VALUES ('evil', 'evil.lan', :name, :paused)",
        name=CLICK,
        paused=True,
    )
    for index, text in enumerate(HOSTILE, start=1):
        db_target.execute(
            "INSERT INTO remediation_actions (id, server_id, action_type, status, service_name,"
            " command, created_at, created_by, stdout) VALUES (:id, 'evil', 'restart_service',"
            " 'pending', :unit, :command, :at, :by, :stdout)",
            id=index,
            unit=text,
            command=f"systemctl restart {text}",
            at=f"2026-11-27 09:5{index}:00",
            by=text,
            stdout=text,
        )
    yield service
    service.db.close()


def _rendered_table(app) -> str:  # type: ignore[no-untyped-def]
    return text_of(screen(app).table)


@run_async
async def test_hostile_cells_are_literal_and_inert(hostile: ApprovalService) -> None:
    async with running(hostile, size=(200, 30)) as (app, _pilot):  # room for whole cells
        assert rows(app) == [1, 2, 3, 4, 5]
        table = screen(app).table
        for action_id, text in enumerate(HOSTILE, start=1):
            server = table.cell_of(action_id, "server")
            action = table.cell_of(action_id, "action")
            assert server.plain == visible(CLICK)
            assert action.plain == visible(f"restart {text}")
            assert all(not span.style or "@click" not in str(span.style) for span in action.spans)
        shown = _rendered_table(app)
        assert "[@click=app.quit]boom[/]" in shown
        assert "restart [bold]x" in shown
        assert "restart [/]" in shown
        assert "restart ␛]0;PWNED␇" in shown
        assert "restart ␛[2J" in shown
        assert "\x1b" not in shown
        assert "\x07" not in shown


@run_async
async def test_hostile_detail_is_literal(hostile: ApprovalService) -> None:
    async with running(hostile, size=(200, 40)) as (app, pilot):
        for action_id, text in enumerate(HOSTILE, start=1):
            screen(app).table.select_id(action_id)
            await wait_until(pilot, lambda a=action_id: detail_shows(app, a))  # type: ignore[misc]
            body = text_of(screen(app).query_one("#detail-body"))
            assert f"systemctl restart {visible(text)}" in body
            assert "\x1b" not in body
            title = str(screen(app).detail.border_title)
            assert visible(text) in title.replace("\\[", "[")


@run_async
async def test_clicking_a_click_markup_cell_does_not_quit(hostile: ApprovalService) -> None:
    async with running(hostile) as (app, pilot):
        table = screen(app).table
        # Border line, header line, then the rows; the server column starts after the id.
        for row in range(len(HOSTILE)):
            await pilot.click(table, offset=(8, 2 + row))
            await pilot.click(table, offset=(24, 2 + row))
        await pilot.pause()
        assert app.is_running
        assert app.return_code is None


@run_async
async def test_toasts_and_the_reject_modal_show_hostile_text_literally(
    hostile: ApprovalService,
) -> None:
    async with running(hostile) as (app, pilot):
        await pilot.press("a")  # action 1: "restart [/]" on the click-markup server
        await wait_until(pilot, lambda: any(t[1] == "Approved" for t in toasts(app)))
        assert isinstance(app, RecordingApp)
        [(_, _, message, markup)] = [t for t in app.toasts_shown if t[1] == "Approved"]
        assert markup is False
        assert message == f"#1 · restart [/] on {CLICK}"
        await wait_until(pilot, lambda: 1 not in rows(app))
        await pilot.press("r")  # action 2: "restart [bold]x"
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen))
        title = text_of(app.screen.query_one("#reject-title"))
        assert title.startswith(f"Reject #2 · restart [bold]x on {CLICK}")
        await pilot.press(*"[@click=app.quit]no[/]", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, RejectScreen))
        assert hostile.get_action(2).rejection_reason == "[@click=app.quit]no[/]"
        assert app.is_running


@run_async
async def test_a_typed_filter_is_shown_literally(hostile: ApprovalService) -> None:
    async with running(hostile) as (app, pilot):
        await pilot.press("slash", *"[bold]", "enter")
        await wait_until(pilot, lambda: rows(app) == [2])
        title = str(screen(app).table.border_title)
        assert 'filter "[bold]"' in title.replace("\\[", "[")
