"""The actions table: a DataTable that takes a fresh window of rows and applies it as a
diff by action id, so live refresh never rebuilds, never loses the cursor and never
jumps the scroll position. Rows can be marked (for bulk decisions); a mark belongs to an
action id, survives refreshes, and goes when its row leaves the table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import is_
from time import monotonic
from typing import ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual._types import SegmentLines
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import DataTable
from textual.widgets.data_table import Row, RowKey

from homelab_approvals.domain.views import ActionView
from homelab_approvals.tui.formatting import FRESH_STYLE, age, cell, row_cells


class ColumnSpec(NamedTuple):
    key: str
    label: str
    width: int  # the width at 80 columns
    grow: int = 0  # share of any extra width
    most: int = 0  # never wider than this (0: no limit)


COLUMNS = (
    ColumnSpec("mark", "", 1),  # MARK on marked rows
    ColumnSpec("id", "#", 3),  # widened to the longest id in the window
    ColumnSpec("server", "server", 12, grow=1, most=24),
    ColumnSpec("action", "action", 21, grow=3),
    ColumnSpec("status", "status", 9),
    ColumnSpec("age", "age", 8),
    ColumnSpec("by", "decided by", 11, grow=1, most=20),
)
AGE_COLUMN = [c.key for c in COLUMNS].index("age")
_ID_SPEC = COLUMNS[[c.key for c in COLUMNS].index("id")]
#: What a marked row shows in the mark column: ASCII, so the Linux console has it too.
MARK = "*"
#: How long a row that arrived through live refresh stays highlighted.
FRESH_SECONDS = 3.0
#: Rendered cells and lines kept across table changes (see ActionTable._render_cell and
#: _render_line): a few screenfuls, even on a tall terminal.
_KEPT_CELLS = 4000
_KEPT_LINES = 600

#: A kept line: the cell values it shows, the row index it was rendered at, the line.
_KeptLine = tuple[tuple[object, ...], int, Strip]


def _mark_cell(marked: bool) -> Text:
    return Text(MARK if marked else "", style="bold", end="")


def _moved(line: Strip, row_index: int) -> Strip:
    """A row's line rendered at another row index, for `row_index`: all that differs is
    the row in the mouse metadata DataTable puts on each cell's segments."""
    place = Style.from_meta({"row": row_index})
    return Strip(
        [
            Segment(text, style + place, control)
            if style is not None and "row" in style.meta
            else Segment(text, style, control)
            for text, style, control in line
        ],
        line.cell_length,
    )


class ActionTable(DataTable[Text]):
    """Rows keyed by action id. `show()` is the only way rows change."""

    # vim-style movement beside DataTable's arrows; the ids let [keys] remap them. None of
    # these keys is a decision key (a, r, c, A, R): a slip of the finger moves, never decides.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "scroll_top", "First row", show=False, id="top"),
        Binding("G", "scroll_bottom", "Last row", show=False, id="bottom"),
        Binding("j", "cursor_down", "Down", show=False, id="down"),
        Binding("k", "cursor_up", "Up", show=False, id="up"),
        Binding("ctrl+d", "half_page_down", "Half page down", show=False, id="half-page-down"),
        Binding("ctrl+u", "half_page_up", "Half page up", show=False, id="half-page-up"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        # Before the base class: its __init__ may clear caches, this one included.
        self._kept_cells: LRUCache[tuple[object, ...], tuple[object, SegmentLines]] = LRUCache(
            _KEPT_CELLS
        )
        self._kept_lines: LRUCache[tuple[object, ...], _KeptLine] = LRUCache(_KEPT_LINES)
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_row_labels=False)
        self._views: dict[int, ActionView] = {}
        self._row_keys: dict[int, RowKey] = {}  # action id -> its DataTable row key
        self._cells: dict[int, tuple[Text, ...]] = {}
        self._order: list[int] = []
        self._fresh: dict[int, float] = {}  # action id -> when its highlight ends
        self._fresh_timer: Timer | None = None
        self._now: datetime | None = None
        self._id_width = _ID_SPEC.width
        self._marked: set[int] = set()
        self._paint_style: Style | None = None  # see render_lines

    def action_half_page_down(self) -> None:
        self._move_by(self._half_page())

    def action_half_page_up(self) -> None:
        self._move_by(-self._half_page())

    def _half_page(self) -> int:
        shown = self.scrollable_content_region.height - (
            self.header_height if self.show_header else 0
        )
        return max(1, shown // 2)

    def _move_by(self, rows: int) -> None:
        if self.row_count:
            self.move_cursor(row=min(max(self.cursor_row + rows, 0), self.row_count - 1))

    def on_mount(self) -> None:
        for spec in COLUMNS:
            self.add_column(spec.label, width=spec.width, key=spec.key)

    # -- reading ---------------------------------------------------------------------------

    @property
    def highlighted_id(self) -> int | None:
        if not self._order:
            return None
        row = min(max(self.cursor_row, 0), len(self._order) - 1)
        return self._order[row]

    @property
    def highlighted_view(self) -> ActionView | None:
        aid = self.highlighted_id
        return None if aid is None else self._views.get(aid)

    @property
    def action_ids(self) -> list[int]:
        """The ids on screen, top to bottom."""
        return list(self._order)

    def view_of(self, action_id: int) -> ActionView | None:
        return self._views.get(action_id)

    def is_fresh(self, action_id: int) -> bool:
        return action_id in self._fresh

    # -- marks -----------------------------------------------------------------------------

    @property
    def marked_ids(self) -> list[int]:
        """The marked actions, top to bottom."""
        return [aid for aid in self._order if aid in self._marked]

    def is_marked(self, action_id: int) -> bool:
        return action_id in self._marked

    def set_marked(self, action_ids: Iterable[int], marked: bool = True) -> int:
        """Mark (or unmark) these actions, where they are in the table; how many changed."""
        changed = 0
        with self.app.batch_update():
            for aid in action_ids:
                if aid in self._views and (aid in self._marked) != marked:
                    if marked:
                        self._marked.add(aid)
                    else:
                        self._marked.discard(aid)
                    self._cells[aid] = (_mark_cell(marked), *self._cells[aid][1:])
                    self.update_cell(self._row_keys[aid], "mark", self._cells[aid][0])
                    changed += 1
        return changed

    def clear_marks(self) -> int:
        return self.set_marked(list(self._marked), marked=False)

    # -- applying a window -----------------------------------------------------------------

    def show(
        self,
        rows: Sequence[ActionView],
        now: datetime,
        *,
        mark_new: bool = False,
        cursor_to_top: bool = False,
    ) -> None:
        """Make the table hold exactly `rows`, in order, by the smallest change: drop rows
        that left, add rows that arrived (highlighted briefly when `mark_new`), update only
        the cells that changed. The cursor stays on the same action, at the same height
        on screen; if that action left, it moves to the next one."""
        self._now = now
        old_order = self._order
        old_row = self.cursor_row
        cursor_id = self.highlighted_id
        screen_offset = old_row - round(self.scroll_y)
        wanted = [view.id for view in rows]
        wanted_set = set(wanted)
        gone = [aid for aid in old_order if aid not in wanted_set]
        self._marked &= wanted_set  # a row that leaves the table is no longer marked
        deadline = monotonic() + FRESH_SECONDS
        fresh = mark_new and bool(old_order)
        views = self._views
        added: list[int] = []
        with self.app.batch_update():
            for aid in gone:
                del views[aid]
                del self._cells[aid]
                self._fresh.pop(aid, None)
            for view in rows:
                old = views.get(view.id)
                if old is None:
                    if fresh:
                        self._fresh[view.id] = deadline
                    views[view.id] = view
                    self._cells[view.id] = self._row(view, now, fresh=fresh)
                    added.append(view.id)
                elif old is not view and old != view:  # `is`: the feed reuses unchanged views
                    self._update(view, now)
            if gone or added or old_order != wanted:
                self._lay_out(gone, added, wanted)
            self._order = wanted
            id_width = max(_ID_SPEC.width, len(str(max(wanted, default=0))))
            if id_width != self._id_width:
                self._id_width = id_width
                self.fit_columns(self.size.width)
            # Settled now rather than on idle, so the scroll position below is not
            # clamped to the old size (and a layout happens only if the size changed).
            self._settle_virtual_size()
            self._place_cursor(old_order, old_row, cursor_id, screen_offset, cursor_to_top)
        if self._fresh:
            self._arm_fresh_timer()

    def refresh_ages(self, now: datetime) -> None:
        """Re-render only the age cells whose text changed ("3m ago" -> "4m ago")."""
        self._now = now
        with self.app.batch_update():
            for aid, view in self._views.items():
                text = age(view.created_at, now)
                cells = self._cells[aid]
                if cells[AGE_COLUMN].plain != text:
                    new = cell(text)
                    if aid in self._fresh:
                        new.stylize(FRESH_STYLE)
                    self._cells[aid] = (*cells[:AGE_COLUMN], new, *cells[AGE_COLUMN + 1 :])
                    self.update_cell(self._row_keys[aid], "age", new)

    def select_id(self, action_id: int) -> bool:
        if action_id not in self._views:
            return False
        self.move_cursor(row=self._order.index(action_id))
        return True

    def _update(self, view: ActionView, now: datetime) -> None:
        """Re-render a row whose view changed (or whose highlight ended); only the cells
        that look different are replaced."""
        old_cells = self._cells[view.id]
        cells = self._row(view, now, fresh=view.id in self._fresh)
        self._views[view.id] = view
        if cells == old_cells:
            return
        self._cells[view.id] = cells
        key = self._row_keys[view.id]
        for spec, old, new in zip(COLUMNS, old_cells, cells, strict=True):
            if old != new:
                self.update_cell(key, spec.key, new)

    def _row(self, view: ActionView, now: datetime, *, fresh: bool) -> tuple[Text, ...]:
        return (_mark_cell(view.id in self._marked), *row_cells(view, now, fresh=fresh))

    def _lay_out(self, gone: list[int], added: list[int], order: list[int]) -> None:
        """Remove the rows of `gone`, add those of `added` (their cells are ready in
        _cells) and put every row in `order`: the bookkeeping of DataTable's remove_row,
        add_row and sort, done once for all rows. Each of those is O(n) per call (or
        costs ~60 µs per row), so 100 rows through them cost 10-100 ms; this is one O(n)
        pass. It mirrors Textual 8 (which pyproject pins); tests/test_tui_table.py
        checks the table against DataTable's own view of its rows. Unlike remove_row it
        asks for a repaint, not a layout: show() settles the virtual size, which lays
        out only if the number of rows changed."""
        was_empty = not self.rows
        rows, data, keys = self.rows, self._data, self._row_keys
        dropped: set[RowKey] = set()
        for aid in gone:
            key = keys.pop(aid)
            dropped.add(key)
            del rows[key]
            del data[key]
        if dropped:
            self._new_rows -= dropped
            if self._updated_cells:
                self._updated_cells = {c for c in self._updated_cells if c.row_key not in dropped}
        column_keys = [column.key for column in self.ordered_columns]
        for aid in added:
            key = keys[aid] = RowKey(str(aid))
            # One line high, always: _settle_virtual_size and _get_offsets rely on it.
            rows[key] = Row(key, 1)
            data[key] = dict(zip(column_keys, self._cells[aid], strict=True))
        self._row_locations = TwoWayDict({keys[aid]: index for index, aid in enumerate(order)})
        self._update_count += 1
        self.cursor_coordinate = self.cursor_coordinate  # clamp to the new row count
        if was_empty and rows and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # as add_row does for a table's first row
        self.refresh()

    def _settle_virtual_size(self) -> None:
        """The scrollable size, from what is known without measuring anything: every
        column has a set width (fit_columns) and every row is one line high."""
        header = self.header_height if self.show_header else 0
        width = sum(column.get_render_width(self) for column in self.columns.values())
        self.virtual_size = Size(width + self._row_label_column_width, self.row_count + header)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable measures each new row's cells on idle, to widen auto-width columns
        and size auto-height rows (about 0.25 ms a row here, 25 ms for a 1% refresh with
        the change on screen). Neither exists in this table, so only the virtual size
        is left to settle. Mirrors Textual 8 (pinned); tests/test_tui_table.py covers it."""
        self._settle_virtual_size()

    def _place_cursor(
        self,
        old_order: list[int],
        old_row: int,
        cursor_id: int | None,
        screen_offset: int,
        to_top: bool,
    ) -> None:
        if not self._order:
            return
        if to_top:
            target, scroll = 0, 0
        else:
            target = self._follow(old_order, old_row, cursor_id)
            scroll = max(0, target - max(screen_offset, 0))
        self.scroll_to(y=scroll, animate=False, immediate=True)
        self.move_cursor(row=target, scroll=False)

    def _follow(self, old_order: list[int], old_row: int, cursor_id: int | None) -> int:
        """Where the cursor goes: its action if still here, else the next survivor below
        it, else the nearest above (like a mail client after deleting a message)."""
        index = {aid: i for i, aid in enumerate(self._order)}
        if cursor_id in index:
            return index[cursor_id]
        for aid in old_order[old_row + 1 :]:
            if aid in index:
                return index[aid]
        for aid in reversed(old_order[:old_row]):
            if aid in index:
                return index[aid]
        return 0

    # -- new-row highlight -----------------------------------------------------------------

    def _arm_fresh_timer(self) -> None:
        if self._fresh_timer is not None:
            self._fresh_timer.stop()
        delay = max(0.0, min(self._fresh.values()) - monotonic())
        self._fresh_timer = self.set_timer(delay + 0.05, self._expire_fresh)

    def _expire_fresh(self) -> None:
        self._fresh_timer = None
        now = monotonic()
        expired = [aid for aid, until in self._fresh.items() if until <= now]
        for aid in expired:
            del self._fresh[aid]
            view = self._views.get(aid)
            if view is not None and self._now is not None:
                self._update(view, self._now)
        if self._fresh:
            self._arm_fresh_timer()

    # -- rendering ---------------------------------------------------------------------------

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """DataTable keys its render caches on a counter that every add, remove and
        update_cell bumps, so after any live change it renders every visible cell again
        through Rich (over half of a 1% refresh on the benchmark machine). A cell renders
        the same while its value object, its place and its look are the same, so those
        are kept across changes. Safe because cell values are never changed in place here:
        every change is a new Text through add_row or update_cell."""
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:  # header or row label: as is
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = self._data[row_key].get(column_key)
        key = (
            row_key,
            column_key,
            row_index,  # part of the rendered cell (mouse metadata)
            column_index,
            base_style,
            width,
            self.cell_padding,
            cursor,
            hover,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority,
            self.cursor_background_priority,
            self._pseudo_class_state,
        )
        kept = self._kept_cells.get(key)
        if kept is not None and kept[0] is value:
            return kept[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        self._kept_cells[key] = (value, lines)
        return lines

    def render_lines(self, crop: Region) -> list[Strip]:
        # DataTable.render_line works out the widget's style from the DOM for every
        # line (walking all its ancestors); it cannot change during one paint.
        self._paint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    def render_line(self, y: int) -> Strip:
        """DataTable.render_line, with the style worked out once per paint."""
        style = self._paint_style
        if style is None or self.fixed_rows:
            return super().render_line(y)
        if y >= (self.header_height if self.show_header else 0):
            y += self.scroll_offset.y
        scroll_x = self.scroll_offset.x
        return self._render_line(y, scroll_x, scroll_x + self.size.width, style)

    def _get_offsets(self, y: int) -> tuple[RowKey, int]:
        """The row at line `y` and the line within it. DataTable looks it up in a list of
        every line of every row, rebuilt after each change (1,000 rows: about a ms);
        here every row is one line, so line y is row y (below the header)."""
        if self.show_header:
            if y < self.header_height:
                return self._header_row_key, y
            y -= self.header_height
        row_key = self._row_locations.get_key(y)
        if row_key is None:
            raise LookupError(f"Y coord {y!r} is greater than total height")
        return row_key, 0

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable keys its line cache on the same change counter as its cells, so
        after any change every visible line is assembled again, even when no row on
        screen changed. A line looks the same while its row, its cell values, its cursor
        and hover state and the table's look are the same, so it is kept (cell values
        are never changed in place here, see _render_cell). A row that moved up or down
        (rows above it left) keeps its line too, with its new place in the metadata."""
        try:
            row_key, _ = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        columns = self.ordered_columns
        if row_key is self._header_row_key:
            row_index = -1
            values: tuple[object, ...] = tuple(column.label for column in columns)
        else:
            row_index = y - (self.header_height if self.show_header else 0)
            values = tuple(self._data[row_key].values())
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        if self.cursor_type == "row":  # only whether the cursor is on this row matters
            pointers: tuple[object, ...] = (cursor.row == row_index, hover.row == row_index)
        else:
            pointers = (cursor, hover)
        key = (
            x1,
            x2,
            row_key,
            base_style,
            *pointers,
            self.size.width,
            tuple(column.get_render_width(self) for column in columns),
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority,
            self.cursor_background_priority,
            self._pseudo_class_state,
            self.fixed_columns,
            self.show_row_labels,
            self._labelled_row_exists,
            self.zebra_stripes,
        )
        kept = self._kept_lines.get(key)
        strip: Strip | None = None
        if kept is not None and len(kept[0]) == len(values) and all(map(is_, kept[0], values)):
            if kept[1] == row_index:
                return kept[2]
            if not (self.zebra_stripes or self.fixed_rows):  # else its look depends on its place
                strip = _moved(kept[2], row_index)
        if strip is None:
            strip = super()._render_line(y, x1, x2, base_style)
        self._kept_lines[key] = (values, row_index, strip)
        return strip

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._kept_cells.clear()
        self._kept_lines.clear()

    def notify_style_update(self) -> None:
        # A theme or CSS change restyles every cell.
        self._kept_cells.clear()
        self._kept_lines.clear()
        super().notify_style_update()

    # -- responsive column widths ----------------------------------------------------------

    def on_resize(self) -> None:
        self.fit_columns(self.size.width)

    def fit_columns(self, width: int) -> None:
        """Share the width beyond the 80-column layout among the growable columns.
        (The base class's own resize handler invalidates its render caches.)"""
        padding = 2 * self.cell_padding
        scrollbar = self.styles.scrollbar_size_vertical
        widths = {spec.key: spec.width for spec in COLUMNS}
        widths["id"] = self._id_width
        extra = width - scrollbar - sum(w + padding for w in widths.values())
        if extra < 0:
            widths["action"] = max(12, widths["action"] + extra)
        else:
            shares = sum(spec.grow for spec in COLUMNS)
            for spec in COLUMNS:
                if spec.grow and spec.key != "action":
                    grant = extra * spec.grow // shares
                    if spec.most:
                        grant = min(grant, spec.most - spec.width)
                    widths[spec.key] += grant
            granted = sum(widths[s.key] - s.width for s in COLUMNS if s.grow and s.key != "action")
            widths["action"] += extra - granted
        for column in self.columns.values():
            column.width = widths[str(column.key.value)]
        total = sum(column.get_render_width(self) for column in self.columns.values())
        self.virtual_size = Size(total, self.virtual_size.height)
        self.refresh()
