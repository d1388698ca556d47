"""The actions table: a widget of our own on Textual's public API (a ScrollView that paints
one line at a time with render_line, as Textualize's toolong does). It takes a fresh
window of rows and applies it as a diff by action id, so live refresh never rebuilds,
never loses the cursor and never jumps the scroll position. Rows can be marked (for bulk
decisions); a mark belongs to an action id, survives refreshes, and goes when its row
leaves the table.

Every row is one line. Line 0 is the header, fixed at the top; line y below it shows row
`scroll_y + y - 1`. A rendered line is kept (an LRU cache) while its cells, its cursor
and hover state and the table's look are the same, wherever the row has moved to, so a
refresh re-renders only the rows that changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from time import monotonic
from typing import ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from homelab_approvals.domain.views import ActionView
from homelab_approvals.tui.formatting import FRESH_STYLE, aged, row_cells


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
_COLUMN_INDEX = {spec.key: index for index, spec in enumerate(COLUMNS)}
AGE_COLUMN = _COLUMN_INDEX["age"]
_ID_SPEC = COLUMNS[_COLUMN_INDEX["id"]]
#: What a marked row shows in the mark column: ASCII, so the Linux console has it too.
MARK = "*"
#: How long a row that arrived through live refresh stays highlighted.
FRESH_SECONDS = 3.0
#: Blank columns either side of each cell's text.
CELL_PADDING = 1
#: The header is one line, every row is one line.
HEADER_HEIGHT = 1
#: Rendered lines kept across table changes: a few screenfuls, even on a tall terminal.
_KEPT_LINES = 600

_HEADER = tuple(Text(spec.label, end="") for spec in COLUMNS)


def _one_approval(_action_type: str) -> int:
    return 1


def _mark_cell(marked: bool) -> Text:
    return Text(MARK if marked else "", style="bold", end="")


class _Look(NamedTuple):
    """What a line's look depends on besides its cells: worked out once per paint."""

    base: Style
    header: Style
    cursor: Style
    hover: Style
    widths: tuple[int, ...]
    line_width: int


class ActionTable(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows keyed by action id. `show()` is the only way rows change."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # The keys DataTable gave this table before it was a widget of its own.
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("left", "scroll_left", show=False),
        Binding("right", "scroll_right", show=False),
        # Also, unlisted (the help's key column is narrow): home and end.
        Binding("home", "scroll_top", show=False),
        Binding("end", "scroll_bottom", show=False),
        # vim-style movement beside the arrows; the ids let [keys] remap them. None of
        # these keys is a decision key (a, r, c, A, R): a slip of the finger moves, never
        # decides.
        Binding("g", "scroll_top", "First row", show=False, id="top"),
        Binding("G", "scroll_bottom", "Last row", show=False, id="bottom"),
        Binding("j", "cursor_down", "Down", show=False, id="down"),
        Binding("k", "cursor_up", "Up", show=False, id="up"),
        Binding("ctrl+d", "half_page_down", "Half page down", show=False, id="half-page-down"),
        Binding("ctrl+u", "half_page_up", "Half page up", show=False, id="half-page-up"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "action-table--header",
        "action-table--cursor",
        "action-table--hover",
    }

    # DataTable's look, which this table had before it was a widget of its own.
    DEFAULT_CSS = """
    ActionTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .action-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .action-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .action-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .action-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .action-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .action-table--hover {
            background: $block-hover-background;
        }
    }
    """

    class Highlighted(Message):
        """The cursor is on another action (`action_id`; None when the table is empty)."""

        def __init__(self, table: ActionTable, action_id: int | None) -> None:
            super().__init__()
            self.table = table
            self.action_id = action_id

        @property
        def control(self) -> ActionTable:
            return self.table

    class Selected(Message):
        """enter on a row, or a click on the highlighted row."""

        def __init__(self, table: ActionTable, action_id: int) -> None:
            super().__init__()
            self.table = table
            self.action_id = action_id

        @property
        def control(self) -> ActionTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._views: dict[int, ActionView] = {}
        self._cells: dict[int, tuple[Text, ...]] = {}
        self._order: list[int] = []
        self._fresh: dict[int, float] = {}  # action id -> when its highlight ends
        self._fresh_timer: Timer | None = None
        self._now: datetime | None = None
        self._id_width = _ID_SPEC.width
        self._widths = tuple(spec.width for spec in COLUMNS)
        self._marked: set[int] = set()
        #: Rows whose newest plan removes packages or installs a new kernel.
        self._warnings: dict[int, tuple[str, ...]] = {}
        self._cursor = 0
        self._cursor_id: int | None = None  # the action last announced as highlighted
        self._hover: int | None = None  # the row under the mouse, while it is shown
        # (action id or -1 for the header, on the cursor, under the mouse) ->
        # (the cells it shows, the look it was rendered with, the line)
        self._kept: LRUCache[tuple[int, bool, bool], tuple[tuple[Text, ...], _Look, Strip]] = (
            LRUCache(_KEPT_LINES)
        )
        self._look: _Look | None = None  # during a paint, see render_lines
        # The rules (set by the console): votes per pending action, approvals a type
        # needs, and when an action expires (None: never). Without rules, none of it.
        self._votes: Mapping[int, tuple[str, ...]] = {}
        self.approvals_required: Callable[[str], int] = _one_approval
        self.expires_at: Callable[[ActionView], datetime | None] | None = None

    # -- reading ---------------------------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def header_height(self) -> int:
        return HEADER_HEIGHT

    @property
    def column_widths(self) -> tuple[int, ...]:
        """Each column's text width (without its padding), in COLUMNS order."""
        return self._widths

    @property
    def highlighted_id(self) -> int | None:
        if not self._order:
            return None
        return self._order[min(self._cursor, len(self._order) - 1)]

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

    def cell_of(self, action_id: int, column: str) -> Text:
        """The cell of a row in a column (a key of COLUMNS), as it is painted."""
        return self._cells[action_id][_COLUMN_INDEX[column]]

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
        for aid in action_ids:
            if aid in self._views and (aid in self._marked) != marked:
                if marked:
                    self._marked.add(aid)
                else:
                    self._marked.discard(aid)
                self._cells[aid] = (_mark_cell(marked), *self._cells[aid][1:])
                changed += 1
        if changed:
            self.refresh()
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
        warnings: dict[int, tuple[str, ...]] | None = None,
        votes: Mapping[int, tuple[str, ...]] | None = None,
    ) -> None:
        """Make the table hold exactly `rows`, in order, by the smallest change: drop rows
        that left, add rows that arrived (highlighted briefly when `mark_new`), update only
        the cells that changed. The cursor stays on the same action, at the same height
        on screen; if that action left, it moves to the next one. `votes`: who has
        approved each half-approved row (a vote changes no row, so it is given apart)."""
        self._now = now
        old_votes = self._votes
        new_votes = self._votes = votes or {}
        revoted = (
            {
                aid
                for aid in old_votes.keys() | new_votes.keys()
                if old_votes.get(aid) != new_votes.get(aid)
            }
            if old_votes or new_votes
            else set()
        )
        old_order = self._order
        old_row = self._cursor
        cursor_id = self.highlighted_id
        screen_offset = old_row - round(self.scroll_y)
        wanted = [view.id for view in rows]
        wanted_set = set(wanted)
        self._marked &= wanted_set  # a row that leaves the table is no longer marked
        deadline = monotonic() + FRESH_SECONDS
        fresh = mark_new and bool(old_order)
        views, cells = self._views, self._cells
        new_warnings = warnings or {}
        old_warnings = self._warnings
        rewarned = {
            aid
            for aid in old_warnings.keys() | new_warnings.keys()
            if old_warnings.get(aid) != new_warnings.get(aid)
        }
        self._warnings = new_warnings
        changed = old_order != wanted
        for aid in old_order:
            if aid not in wanted_set:
                del views[aid]
                del cells[aid]
                self._fresh.pop(aid, None)
        for view in rows:
            old = views.get(view.id)
            if old is None:
                if fresh:
                    self._fresh[view.id] = deadline
                views[view.id] = view
                cells[view.id] = self._row(view, now, fresh=fresh)
            elif (old is not view and old != view) or view.id in rewarned or view.id in revoted:
                # `is`: the feed reuses unchanged views
                changed = self._update(view, now) or changed
        self._order = wanted
        id_width = max(_ID_SPEC.width, len(str(max(wanted, default=0))))
        if id_width != self._id_width:
            self._id_width = id_width
            self.fit_columns(self.size.width)
        # Settled now, so the scroll position below is not clamped to the old size.
        self._settle_virtual_size()
        self._place_cursor(old_order, old_row, cursor_id, screen_offset, cursor_to_top)
        if changed:
            self.refresh()
        if self._fresh:
            self._arm_fresh_timer()

    def refresh_ages(self, now: datetime) -> None:
        """Re-render only the age cells whose text changed ("3m ago" -> "4m ago", "run 1m"
        -> "run 2m", or marked as expiring within the hour)."""
        self._now = now
        changed = False
        expires_at = self.expires_at
        for aid, view in self._views.items():
            new = aged(view, now, expires_at(view) if expires_at else None)
            if aid in self._fresh:
                new.stylize(FRESH_STYLE)
            cells = self._cells[aid]
            if cells[AGE_COLUMN] != new:  # its text or its mark changed
                self._cells[aid] = (*cells[:AGE_COLUMN], new, *cells[AGE_COLUMN + 1 :])
                changed = True
        if changed:
            self.refresh()

    def select_id(self, action_id: int) -> bool:
        if action_id not in self._views:
            return False
        self.move_cursor(row=self._order.index(action_id))
        return True

    def _update(self, view: ActionView, now: datetime) -> bool:
        """Re-render a row whose view changed (or whose highlight ended); True if it
        looks different."""
        old_cells = self._cells[view.id]
        cells = self._row(view, now, fresh=view.id in self._fresh)
        self._views[view.id] = view
        if cells == old_cells:
            return False
        self._cells[view.id] = cells
        return True

    def _row(self, view: ActionView, now: datetime, *, fresh: bool) -> tuple[Text, ...]:
        warnings = self._warnings.get(view.id, ())
        voters = self._votes.get(view.id)
        decided = f"{len(voters)}/{self.approvals_required(view.action_type)}" if voters else None
        expires_at = self.expires_at(view) if self.expires_at is not None else None
        cells = row_cells(
            view, now, fresh=fresh, warnings=warnings, decided=decided, expires_at=expires_at
        )
        return (_mark_cell(view.id in self._marked), *cells)

    def _settle_virtual_size(self) -> None:
        width = sum(w + 2 * CELL_PADDING for w in self._widths)
        self.virtual_size = Size(width, len(self._order) + HEADER_HEIGHT)

    def _place_cursor(
        self,
        old_order: list[int],
        old_row: int,
        cursor_id: int | None,
        screen_offset: int,
        to_top: bool,
    ) -> None:
        if not self._order:
            self._cursor = 0
            self._announce()
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

    # -- the cursor ------------------------------------------------------------------------

    def move_cursor(self, *, row: int, scroll: bool = True) -> None:
        """Put the cursor on row `row` (kept within the table), in sight if `scroll`."""
        row = max(0, min(row, len(self._order) - 1))
        if row != self._cursor:
            self.refresh_line(self._cursor + HEADER_HEIGHT)
            self._cursor = row
            self.refresh_line(row + HEADER_HEIGHT)
        if scroll:
            self._scroll_to_cursor()
        self._announce()

    def _announce(self) -> None:
        """Say so when the cursor is on another action than last said."""
        aid = self.highlighted_id
        if aid != self._cursor_id:
            self._cursor_id = aid
            self.post_message(self.Highlighted(self, aid))

    @property
    def _rows_in_sight(self) -> int:
        return max(1, self.scrollable_content_region.height - HEADER_HEIGHT)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + self._rows_in_sight:
            self.scroll_to(y=self._cursor - self._rows_in_sight + 1, animate=False)

    def _keys_moved(self, row: int) -> None:
        self._hide_hover()  # as DataTable does: the keys, not the mouse, are in use
        self.move_cursor(row=row)

    def action_cursor_up(self) -> None:
        self._keys_moved(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._keys_moved(self._cursor + 1)

    def action_page_up(self) -> None:
        page = self._rows_in_sight
        self.scroll_to(y=round(self.scroll_y) - page, animate=False, immediate=True)
        self._keys_moved(self._cursor - page)

    def action_page_down(self) -> None:
        page = self._rows_in_sight
        self.scroll_to(y=round(self.scroll_y) + page, animate=False, immediate=True)
        self._keys_moved(self._cursor + page)

    def _half_page(self) -> int:
        return max(1, self._rows_in_sight // 2)

    def action_half_page_down(self) -> None:
        self._keys_moved(self._cursor + self._half_page())

    def action_half_page_up(self) -> None:
        self._keys_moved(self._cursor - self._half_page())

    def action_scroll_top(self) -> None:
        self._keys_moved(0)

    def action_scroll_bottom(self) -> None:
        self._keys_moved(len(self._order) - 1)

    def action_select_cursor(self) -> None:
        self._hide_hover()
        aid = self.highlighted_id
        if aid is not None:
            self.post_message(self.Selected(self, aid))

    # -- the mouse -------------------------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_HEIGHT:
            return None
        row = round(self.scroll_y) + offset.y - HEADER_HEIGHT
        return row if row < len(self._order) else None

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor to the row; a click on the highlighted row selects it."""
        row = self._row_at(event)
        if row is None:
            return
        event.stop()
        if row == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row=row)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def on_leave(self) -> None:
        self._hide_hover()

    def _set_hover(self, row: int | None) -> None:
        if row != self._hover:
            if self._hover is not None:
                self.refresh_line(self._hover + HEADER_HEIGHT)
            if row is not None:
                self.refresh_line(row + HEADER_HEIGHT)
            self._hover = row

    def _hide_hover(self) -> None:
        self._set_hover(None)

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
        changed = False
        for aid in expired:
            del self._fresh[aid]
            view = self._views.get(aid)
            if view is not None and self._now is not None:
                changed = self._update(view, self._now) or changed
        if changed:
            self.refresh()
        if self._fresh:
            self._arm_fresh_timer()

    # -- rendering ---------------------------------------------------------------------------

    def _current_look(self) -> _Look:
        padded = sum(w + 2 * CELL_PADDING for w in self._widths)
        return _Look(
            self.rich_style,
            self.get_component_rich_style("action-table--header"),
            self.get_component_rich_style("action-table--cursor"),
            self.get_component_rich_style("action-table--hover"),
            self._widths,
            max(padded, self.scrollable_content_region.width),
        )

    def render_lines(self, crop: Region) -> list[Strip]:
        # The look (worked out from the DOM, walking all ancestors) cannot change
        # during one paint: once for all its lines.
        self._look = self._current_look()
        try:
            return super().render_lines(crop)
        finally:
            self._look = None

    def render_line(self, y: int) -> Strip:
        look = self._look or self._current_look()
        scroll_x = round(self.scroll_x)
        width = self.scrollable_content_region.width
        if y < HEADER_HEIGHT:
            strip = self._line(-1, _HEADER, False, False, look)
        else:
            row = round(self.scroll_y) + y - HEADER_HEIGHT
            if row >= len(self._order):
                return Strip.blank(width, look.base)
            aid = self._order[row]
            strip = self._line(aid, self._cells[aid], row == self._cursor, row == self._hover, look)
        return strip.crop_extend(scroll_x, scroll_x + width, look.base)

    def _line(
        self, aid: int, cells: tuple[Text, ...], cursor: bool, hover: bool, look: _Look
    ) -> Strip:
        """A row's whole line, kept while its cells (never changed in place: every change
        is a new tuple of new Texts) and its look are the same."""
        key = (aid, cursor, hover)
        kept = self._kept.get(key)
        if kept is not None and kept[0] is cells and kept[1] == look:
            return kept[2]
        strip = self._paint_line(cells, cursor, hover, look, header=aid == -1)
        self._kept[key] = (cells, look, strip)
        return strip

    def _paint_line(
        self, cells: tuple[Text, ...], cursor: bool, hover: bool, look: _Look, *, header: bool
    ) -> Strip:
        style = look.base + look.header if header else look.base
        if hover:
            style += look.hover
        if cursor:
            style += look.cursor
        line = Text(end="", no_wrap=True)
        pad = " " * CELL_PADDING
        for value, width in zip(cells, look.widths, strict=True):
            text = value.copy()
            text.align("right" if text.justify == "right" else "left", width)
            line.append(pad)
            line.append_text(text)
            line.append(pad)
        line.align("left", look.line_width)
        # Under the cells' own styles (Text.render leaves a Text's base style out).
        line.stylize_before(style)
        if cursor and look.cursor.color is not None:
            # The cursor's colour wins over the cells' own (status colours), as in
            # DataTable, so the cursor row reads the same whatever it shows.
            line.stylize(Style(color=look.cursor.color))
        return Strip(line.render(self.app.console), look.line_width)

    def notify_style_update(self) -> None:
        # A theme or CSS change restyles every line.
        self._kept.clear()
        super().notify_style_update()

    # -- responsive column widths ----------------------------------------------------------

    def on_resize(self) -> None:
        self.fit_columns(self.size.width)

    def fit_columns(self, width: int) -> None:
        """Share the width beyond the 80-column layout among the growable columns."""
        padding = 2 * CELL_PADDING
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
        self._widths = tuple(widths[spec.key] for spec in COLUMNS)
        self._settle_virtual_size()
        self.refresh()
