"""The actions table: a DataTable that takes a fresh window of rows and applies it as a
diff by action id, so live refresh never rebuilds, never loses the cursor and never
jumps the scroll position. Rows can be marked (for bulk decisions); a mark belongs to an
action id, survives refreshes, and goes when its row leaves the table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from time import monotonic
from typing import ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual._types import SegmentLines
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.timer import Timer
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

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
#: Up to this many rows leaving at once go through DataTable.remove_row. It is O(n) per
#: call and costs about as much as _remove_many does for any number, so only one.
_FEW = 1
#: Rendered cells kept across table changes (see ActionTable._render_cell): a few
#: screenfuls of 7 columns, even on a tall terminal.
_KEPT_CELLS = 4000


def _key(action_id: int) -> RowKey:
    return RowKey(str(action_id))


def _mark_cell(marked: bool) -> Text:
    return Text(MARK if marked else "", style="bold", end="")


class ActionTable(DataTable[Text]):
    """Rows keyed by action id. `show()` is the only way rows change."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "scroll_top", "First row", show=False),
        Binding("G", "scroll_bottom", "Last row", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        # Before the base class: its __init__ may clear caches, this one included.
        self._kept_cells: LRUCache[tuple[object, ...], tuple[object, SegmentLines]] = LRUCache(
            _KEPT_CELLS
        )
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_row_labels=False)
        self._views: dict[int, ActionView] = {}
        self._cells: dict[int, tuple[Text, ...]] = {}
        self._order: list[int] = []
        self._fresh: dict[int, float] = {}  # action id -> when its highlight ends
        self._fresh_timer: Timer | None = None
        self._now: datetime | None = None
        self._id_width = _ID_SPEC.width
        self._marked: set[int] = set()

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
                    self.update_cell(_key(aid), "mark", self._cells[aid][0])
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
        added: list[int] = []
        with self.app.batch_update():
            self._drop(gone)
            for view in rows:
                if view.id in self._views:
                    self._update(view, now)
                else:
                    fresh = mark_new and bool(old_order)
                    if fresh:
                        self._fresh[view.id] = deadline
                    self._views[view.id] = view
                    self._cells[view.id] = self._row(view, now, fresh=fresh)
                    self.add_row(*self._cells[view.id], key=str(view.id))
                    added.append(view.id)
            laid_out = [aid for aid in old_order if aid in wanted_set] + added
            self._order = wanted
            if laid_out != wanted:
                position = {aid: index for index, aid in enumerate(wanted)}
                self.sort("id", key=lambda cell: position[int(cell.plain)])
            id_width = max(_ID_SPEC.width, len(str(max(wanted, default=0))))
            if id_width != self._id_width:
                self._id_width = id_width
                self.fit_columns(self.size.width)
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
                    self.update_cell(_key(aid), "age", new)

    def select_id(self, action_id: int) -> bool:
        if action_id not in self._views:
            return False
        self.move_cursor(row=self._order.index(action_id))
        return True

    def _update(self, view: ActionView, now: datetime, *, force: bool = False) -> None:
        if not force and self._views[view.id] == view:
            return  # unchanged (ages move on their own timer)
        old_cells = self._cells[view.id]
        cells = self._row(view, now, fresh=view.id in self._fresh)
        self._views[view.id] = view
        if cells == old_cells:
            return
        self._cells[view.id] = cells
        key = _key(view.id)
        for spec, old, new in zip(COLUMNS, old_cells, cells, strict=True):
            if old != new:
                self.update_cell(key, spec.key, new)

    def _row(self, view: ActionView, now: datetime, *, fresh: bool) -> tuple[Text, ...]:
        return (_mark_cell(view.id in self._marked), *row_cells(view, now, fresh=fresh))

    def _drop(self, gone: list[int]) -> None:
        for aid in gone:
            del self._views[aid]
            del self._cells[aid]
            self._fresh.pop(aid, None)
        if len(gone) <= _FEW:
            for aid in gone:
                self.remove_row(_key(aid))
            return
        self._remove_many({_key(aid) for aid in gone})

    def _remove_many(self, keys: set[RowKey]) -> None:
        """DataTable.remove_row renumbers every row, O(n) per call: 100 removals from
        1,000 rows cost over 100 ms. This does the same bookkeeping once, O(n) in all.
        It mirrors remove_row of Textual 8 (which pyproject pins); test_tui covers it."""
        survivors = [row.key for row in self.ordered_rows if row.key not in keys]
        for key in keys:
            del self.rows[key]
            del self._data[key]
        self._updated_cells = {cell for cell in self._updated_cells if cell.row_key not in keys}
        self._new_rows -= keys
        self._row_locations = TwoWayDict({key: index for index, key in enumerate(survivors)})
        self._require_update_dimensions = True
        self._update_count += 1
        self.cursor_coordinate = self.cursor_coordinate  # clamp to the new row count
        self.hover_coordinate = self.hover_coordinate
        self.refresh(layout=True)
        self.check_idle()

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
        # The virtual height is normally settled on idle; settle it now (every row is
        # one line high) so the scroll position below is not clamped to the old size.
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(self.virtual_size.width, len(self._order) + header)
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
                self._update(view, self._now, force=True)
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

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._kept_cells.clear()

    def notify_style_update(self) -> None:
        self._kept_cells.clear()  # a theme or CSS change restyles every cell
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
