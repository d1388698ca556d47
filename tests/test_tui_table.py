"""The actions table on its own, in a real headless app: its diffing keeps its rows, cells,
marks and cursor right through any sequence of windows, it paints exactly the rows it
holds, and the lines it keeps across changes are exactly what it would render afresh.
No database here (rows are made in memory), so nothing depends on the backend: run once."""

from __future__ import annotations

import random
from datetime import timedelta

from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from homelab_approvals.domain.views import ActionView
from homelab_approvals.tui.formatting import status_label
from homelab_approvals.tui.table import MARK, ActionTable
from tui_support import NOW, SIZE, run_async


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[int] = []
        self.highlighted: list[int | None] = []

    def compose(self) -> ComposeResult:
        yield ActionTable(id="actions")

    def on_action_table_selected(self, message: ActionTable.Selected) -> None:
        self.selected.append(message.action_id)

    def on_action_table_highlighted(self, message: ActionTable.Highlighted) -> None:
        self.highlighted.append(message.action_id)


def view(action_id: int, status: str = "pending") -> ActionView:
    return ActionView(
        id=action_id,
        server_id="pi-4",
        action_type="restart_service",
        status=status,
        service_name=f"svc-{action_id % 7}",
        command="systemctl restart svc",
        created_at=NOW - timedelta(minutes=action_id),
        created_by="automation",
        alert_id=None,
        approved_at=None,
        approved_by="bob" if status == "approved" else None,
        rejected_at=None,
        rejected_by=None,
        rejection_reason=None,
        executed_at=None,
        completed_at=None,
        exit_code=None,
        stdout=None,
        stderr=None,
        server_label="PI-4",
        server_paused=True,
    )


def assert_consistent(table: ActionTable, rows: list[ActionView]) -> None:
    """What the table says it holds, and what it paints, are `rows`, in the same order."""
    ids = [v.id for v in rows]
    assert table.action_ids == ids
    assert table.row_count == len(ids)
    for shown in rows:
        assert table.view_of(shown.id) == shown
        assert table.cell_of(shown.id, "id").plain == str(shown.id)
        assert table.cell_of(shown.id, "status").plain == status_label(shown)
        assert (table.cell_of(shown.id, "mark").plain == MARK) == table.is_marked(shown.id)
    assert table.virtual_size.height == len(ids) + table.header_height
    if ids:
        assert 0 <= table.cursor_row < len(ids)
        assert table.highlighted_id in ids
        assert table.highlighted_id == ids[table.cursor_row]
    assert set(table.marked_ids) <= set(ids)
    # Each line below the header shows the row at the scroll position plus its place.
    top = round(table.scroll_y)
    in_sight = table.scrollable_content_region.height - table.header_height
    for y in range(in_sight):
        words = table.render_line(table.header_height + y).text.split()
        row = top + y
        if row < len(ids):
            expected = [MARK, str(ids[row])] if table.is_marked(ids[row]) else [str(ids[row])]
            assert words[: len(expected)] == expected
        else:
            assert words == []


def lines(table: ActionTable) -> list[list[tuple[str, Style | None]]]:
    """What the table paints: text and style (mouse metadata included) of each segment."""
    width, height = table.size
    strips = table.render_lines(Region(0, 0, width, height))
    return [[(segment.text, segment.style) for segment in strip] for strip in strips]


async def assert_paints_like_a_fresh_table(pilot: Pilot[None], table: ActionTable) -> None:
    await pilot.pause()
    painted = lines(table)  # as painted: kept lines and cells where they could be reused
    table.notify_style_update()  # drops every kept line: it is all rendered afresh
    assert painted == lines(table)


@run_async
async def test_rows_cells_and_cursor_stay_right_through_random_windows() -> None:
    rng = random.Random(7)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(ActionTable)
        shown: list[ActionView] = []
        next_id = 1
        for step in range(40):
            kept = [v for v in shown if rng.random() > 0.2]
            kept = [v._replace(status="approved") if rng.random() < 0.1 else v for v in kept]
            arrived = [view(i) for i in range(next_id, next_id + rng.randrange(15))]
            next_id += len(arrived)
            rows = kept + arrived
            if step % 13 == 12:
                rows = []  # everything leaves
            elif step % 10 == 5:
                rows = shown[::-1]  # the same rows in another order, nothing else
            elif rng.random() < 0.2:
                rows = arrived + kept  # new rows on top, as in "newest first"
            elif rng.random() < 0.2:
                rng.shuffle(rows)  # another sort order
            # Equal copies, as a fresh read gives; or the very objects, as the feed reuses.
            rows = [v._replace() if rng.random() < 0.5 else v for v in rows]
            if rows and rng.random() < 0.3:
                table.set_marked([rng.choice(rows).id])
            cursor = table.highlighted_id
            table.show(rows, NOW, mark_new=True)
            await pilot.pause()
            assert_consistent(table, rows)
            if cursor in table.action_ids:
                assert table.highlighted_id == cursor  # the cursor stays on its action
            shown = rows
        await assert_paints_like_a_fresh_table(pilot, table)


@run_async
async def test_kept_lines_paint_exactly_what_a_fresh_render_would() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(ActionTable)
        rows = [view(i) for i in range(1, 41)]
        table.show(rows, NOW)
        table.move_cursor(row=5)
        await assert_paints_like_a_fresh_table(pilot, table)

        # Rows above the cursor leave (the lines below move up), one on screen changes,
        # one is marked, and one arrives (highlighted) at the end.
        rows = [v for v in rows if v.id not in (2, 3)]
        rows[6] = rows[6]._replace(status="approved")
        rows.append(view(41))
        table.set_marked([rows[4].id])
        table.show(rows, NOW, mark_new=True)
        assert table.highlighted_id == 6
        assert table.cursor_row == 3
        await assert_paints_like_a_fresh_table(pilot, table)

        # Rows below the cursor leave, and a new one arrives on top.
        rows = [view(42), *(v for v in rows if v.id not in (8, 9, 10))]
        table.show(rows, NOW, mark_new=True)
        await assert_paints_like_a_fresh_table(pilot, table)

        table.scroll_to(y=5, animate=False, immediate=True)
        await assert_paints_like_a_fresh_table(pilot, table)

        await pilot.press("down", "down")  # the cursor leaves lines that were kept
        await assert_paints_like_a_fresh_table(pilot, table)


@run_async
async def test_a_click_on_a_row_that_moved_up_selects_that_row() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(ActionTable)
        rows = [view(i) for i in range(1, 31)]
        table.show(rows, NOW)
        await pilot.pause()  # every line painted, and kept
        rows = rows[2:]  # #1 and #2 leave: every line below moves up two
        table.show(rows, NOW)
        await pilot.pause()
        header = table.header_height
        await pilot.click(table, offset=(10, header + 4))
        await pilot.pause()
        assert table.highlighted_id == rows[4].id == 7


@run_async
async def test_the_keys_move_the_cursor_and_keep_it_in_sight() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(ActionTable)
        table.focus()
        rows = [view(i) for i in range(1, 101)]
        table.show(rows, NOW)
        await pilot.pause()
        in_sight = table.scrollable_content_region.height - table.header_height

        def on_screen() -> bool:
            return 0 <= table.cursor_row - round(table.scroll_y) < in_sight

        await pilot.press("down", "j", "down")
        assert table.highlighted_id == 4
        await pilot.press("k", "up")
        assert table.highlighted_id == 2
        await pilot.press("pagedown")
        assert table.cursor_row == 1 + in_sight
        assert on_screen()
        await pilot.press("pageup")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.highlighted_id == 100
        await pilot.pause()
        assert on_screen()
        await pilot.press("g")
        assert (table.highlighted_id, round(table.scroll_y)) == (1, 0)
        await pilot.press("end")
        assert table.highlighted_id == 100
        await pilot.press("home")
        assert table.highlighted_id == 1
        await pilot.press("up")  # at the top already: stays
        assert table.highlighted_id == 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [1]
        # Every move was announced once, ending where the cursor is.
        assert app.highlighted[-1] == 1
        assert all(a != b for a, b in zip(app.highlighted, app.highlighted[1:], strict=False))


@run_async
async def test_a_click_moves_the_cursor_and_a_second_click_selects() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(ActionTable)
        table.show([view(i) for i in range(1, 11)], NOW)
        await pilot.pause()
        await pilot.click(table, offset=(10, 0))  # the header: nothing happens
        await pilot.pause()
        assert (table.highlighted_id, app.selected) == (1, [])
        await pilot.click(table, offset=(10, table.header_height + 3))
        await pilot.pause()
        assert (table.highlighted_id, app.selected) == (4, [])
        await pilot.click(table, offset=(10, table.header_height + 3))
        await pilot.pause()
        assert app.selected == [4]
        await pilot.click(table, offset=(10, table.header_height + 15))  # below the rows
        await pilot.pause()
        assert (table.highlighted_id, app.selected) == (4, [4])
