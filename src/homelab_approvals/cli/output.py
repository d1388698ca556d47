"""Rendering for the CLI: aligned plain-text tables, JSON and CSV. Stdlib only, so a `list`
on a Raspberry Pi does not pay for a rendering library.

Every string that came from the database goes through `visible()` before it reaches a
terminal: a display name holding "\\x1b[2J" is shown as "␛[2J", never executed."""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from homelab_approvals.cli.cells import NONE, server_cell, text
from homelab_approvals.domain.damaged import problem_of
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.timestamps import utc_text
from homelab_approvals.domain.views import (
    ActionView,
    Approval,
    ApprovalTally,
    EventView,
    ServerView,
    to_json,
)

if TYPE_CHECKING:
    from homelab_approvals.domain.previews import PreviewView

ELLIPSIS = "…"

# -- text measurement -------------------------------------------------------------------


def char_width(char: str) -> int:
    """Terminal cells one character takes: 2 for wide (CJK, most emoji), 0 for combining."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def truncate(text: str, width: int) -> str:
    """`text` cut to `width` cells, ending in an ellipsis when cut."""
    if cell_width(text) <= width:
        return text
    kept: list[str] = []
    used = 0
    for char in text:
        w = char_width(char)
        if used + w > width - 1:
            break
        kept.append(char)
        used += w
    return "".join(kept) + ELLIPSIS


def pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - cell_width(text))
    return gap + text if right else text + gap


# -- tables -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    right: bool = False  # right-align (numbers)
    shrink: bool = False  # may be cut with "…" to fit a narrow terminal
    min_width: int = 8


def terminal_width(stream: TextIO) -> int | None:
    """The width to fit, or None when the output is not a terminal (a pipe or a file
    keeps every character, so `grep` sees whole values)."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    import shutil  # only for a terminal: a pipe's reader (a script) never pays for it

    return shutil.get_terminal_size().columns


def render_table(
    columns: Sequence[Column], rows: Iterable[Sequence[str]], max_width: int | None
) -> list[str]:
    """Aligned columns, two spaces apart. Cells must already be visible() text."""
    table = [[c.header for c in columns], *([*row] for row in rows)]
    widths = [max(cell_width(row[i]) for row in table) for i in range(len(columns))]
    if max_width is not None:
        widths = _fit(columns, widths, max_width)
    lines = []
    for row in table:
        cells = [
            pad(truncate(cell, widths[i]), widths[i], right=columns[i].right)
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _fit(columns: Sequence[Column], widths: list[int], max_width: int) -> list[int]:
    """Shrink the shrinkable columns, widest first, until the table fits (or cannot)."""
    widths = list(widths)
    excess = sum(widths) + 2 * (len(widths) - 1) - max_width
    while excess > 0:
        candidates = [
            i for i, c in enumerate(columns) if c.shrink and widths[i] > max(c.min_width, 1)
        ]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


# -- values -----------------------------------------------------------------------------


def when(moment: datetime | None, *, seconds: bool = False) -> str:
    """A UTC timestamp for people; the header or label says UTC."""
    if moment is None:
        return NONE
    return visible(utc_text(moment, seconds=seconds, zone=False))


# -- the three table kinds ----------------------------------------------------------------

ACTION_COLUMNS = (
    Column("ID", right=True),
    Column("STATUS"),
    Column("SERVER", shrink=True, min_width=10),
    Column("ACTION", shrink=True, min_width=12),
    Column("CREATED (UTC)"),
    Column("BY", shrink=True, min_width=6),
)


def action_row(a: ActionView) -> list[str]:
    return [
        str(a.id),
        text(a.status),
        server_cell(a),
        text(a.summary),
        when(a.created_at),
        text(a.decided_by or a.created_by),
    ]


SERVER_COLUMNS = (
    Column("ID", shrink=True, min_width=10),
    Column("NAME", shrink=True, min_width=10),
    Column("HOSTNAME", shrink=True, min_width=10),
    Column("MAINTENANCE"),
)


def server_row(s: ServerView) -> list[str]:
    state = f"paused since {when(s.paused_at)} UTC" if s.is_paused else "off (auto-approve)"
    if s.is_paused and s.paused_at is None:
        state = "paused"
    return [text(s.id), text(s.display_name), text(s.hostname), state]


EVENT_COLUMNS = (
    Column("AT (UTC)"),
    Column("ACTION", right=True),
    Column("CHANGE", min_width=10),
    Column("ACTOR", shrink=True, min_width=6),
    Column("REASON", shrink=True, min_width=10),
)


def event_row(e: EventView, *, with_action: bool = True) -> list[str]:
    change = f"{text(e.from_status) if e.from_status else 'created'} -> {text(e.to_status)}"
    row = [when(e.at, seconds=True), str(e.action_id), change, text(e.actor), text(e.reason)]
    return row if with_action else [row[0], *row[2:]]


# -- machine formats --------------------------------------------------------------------


def as_dict(view: ActionView | EventView | ServerView | Approval) -> dict[str, Any]:
    """Column names as keys; datetimes as ISO 8601 with their UTC offset.

    A row with values that could not be read as stored (see domain/damaged.py) gets one
    more key, "damaged": {field: why}, and those fields hold what is shown instead."""
    fields = zip(view._fields, view, strict=True)
    values: dict[str, Any] = {name: to_json(value) for name, value in fields}
    damaged = {
        name: problem
        for name, value in zip(view._fields, view, strict=True)
        if (problem := problem_of(value)) is not None
    }
    if damaged:
        values["damaged"] = damaged
    return values


def with_preview(shown: dict[str, object], preview: PreviewView | None) -> dict[str, object]:
    """An action's JSON with `preview`: {taken_at, exit_code, summary, plan, digest,
    error}, or null when none was taken."""
    shown["preview"] = preview.to_json() if preview else None
    return shown


def shown_json(
    action: ActionView, tally: ApprovalTally, preview: PreviewView | None
) -> dict[str, object]:
    """What `show --json` prints (and a decision with --json): the action, with
    `approvals_required`, `approvals` ({actor, at} each) and its `preview`."""
    shown: dict[str, object] = as_dict(action)
    shown["approvals_required"] = tally.required
    shown["approvals"] = [as_dict(approval) for approval in tally.approvals]
    return with_preview(shown, preview)


def write_json(value: Any, stream: TextIO | None = None) -> None:
    # ensure_ascii: every non-ASCII or control character becomes a \\u escape, so even a
    # terminal showing the raw JSON sees nothing it could act on. Any JSON reader decodes it.
    out = stream or sys.stdout
    out.write(json.dumps(value, ensure_ascii=True, indent=2) + "\n")


EVENT_FIELDS = EventView._fields


def write_events_csv(events: Iterable[EventView], stream: TextIO | None = None) -> None:
    """CSV (the csv module's quoting, "\\n" line ends) with a header row. Values are exact
    when written to a file or a pipe, and made inert with visible() only on a terminal.
    Either way a cell a spreadsheet would run as a formula is neutralised (`formula_safe`)."""
    out = stream or sys.stdout
    inert = terminal_width(out) is not None
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_FIELDS)
    for event in events:
        values = as_dict(event)
        row = [formula_safe(values[name]) for name in EVENT_FIELDS]
        writer.writerow([visible(cell) for cell in row] if inert else row)


#: What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> str:
    """A CSV cell no spreadsheet runs: one starting like a formula (`=HYPERLINK(...)`,
    `+`, `-`, `@`, a tab or a carriage return) gets a leading single quote, as OWASP
    recommends; the csv module's quoting does the rest."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
