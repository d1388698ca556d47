"""How actions look on screen: cells, statuses, ages. Pure functions over views.

Every string that came from the database goes through `safe()`: control characters
become visible stand-ins and the result is a `rich.text.Text`, which is never parsed
as markup, so `[@click=app.quit]` is just text.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.style import Style
from rich.text import Text

from homelab_approvals.domain.damaged import DamagedTime, shown_moment
from homelab_approvals.domain.durations import in_words
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.timestamps import utc_text
from homelab_approvals.domain.views import ActionView

#: What a cancel leaves behind in HomelabCmd's columns: status "failed", exit code -1.
#: Shown as "cancelled" so nobody reads it as a failed run.
CANCELLED = "cancelled"

# Colour is a hint, never the only signal: the status is always spelled out.
STATUS_STYLES: dict[str, Style] = {
    ActionStatus.PENDING: Style(color="yellow", bold=True),
    ActionStatus.APPROVED: Style(color="green"),
    ActionStatus.REJECTED: Style(color="magenta"),
    ActionStatus.EXECUTING: Style(color="cyan", bold=True),
    ActionStatus.COMPLETED: Style(color="green", dim=True),
    ActionStatus.FAILED: Style(color="red", bold=True),
    CANCELLED: Style(dim=True),
}
#: A plan that removes packages or installs a new kernel: colour, and words in capitals
#: ("REMOVES 1", "KERNEL") for NO_COLOR.
WARNING_STYLE = Style(color="red", bold=True)
#: A warning's word in the table, where the detail pane says it whole.
_TAGS = {"new kernel": "KERNEL"}
#: A row that just arrived through live refresh, for a few seconds.
FRESH_STYLE = Style(bold=True, underline=True)  # readable with and without colour


def safe(value: object, style: Style | str = "") -> Text:
    """Untrusted text, inert: control characters shown as stand-ins, never markup."""
    return Text(visible(None if value is None else str(value)), style=style, end="")


def cell(value: object, style: Style | str = "") -> Text:
    """`safe()` for a one-line table cell: cut with an ellipsis, never wrapped."""
    text = safe(value, style)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def status_label(view: ActionView) -> str:
    return CANCELLED if view.is_cancelled else view.status


def status_text(view: ActionView) -> Text:
    label = status_label(view)
    return cell(label, STATUS_STYLES.get(label, Style()))


def server_label(view: ActionView) -> str:
    return view.server_label or view.server_id


#: How much of a name a title shows: a 250-character host name made a toast fill the
#: screen at 80 columns. The detail pane always shows names in full.
TITLE_PART_MAX = 40


def clip(text: str, most: int = TITLE_PART_MAX) -> str:
    """`text`, cut with an ellipsis when longer than `most` characters."""
    return text if len(text) <= most else text[: most - 1] + "…"


def action_title(view: ActionView) -> str:
    """ "#12 · restart nginx on pi-4": plain text, for modal titles and toasts; long
    names are cut (see TITLE_PART_MAX)."""
    return visible(f"#{view.id} · {clip(view.summary)} on {clip(server_label(view))}")


def age(moment: datetime | None, now: datetime) -> str:
    """ "just now", "3m ago", "5h ago", "2d ago", "4mo ago", "2y ago"."""
    if moment is None:
        return ""
    if isinstance(moment, DamagedTime):
        return shown_moment(moment, "")  # the stored text, marked
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"  # also covers a clock a little behind the writer's
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h ago"
    days = hours // 24
    if days < 60:
        return f"{days}d ago"
    if days < 730:
        return f"{days // 30}mo ago"
    return f"{days // 365}y ago"


def duration(seconds: float) -> str:
    """ "12s", "4m", "3h", "2d": how long a run has gone on, in at most 3 characters."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def age_cell_text(view: ActionView, now: datetime) -> str:
    """The age column: how long an action waited, or for a run what matters more: an
    executing one's time so far ("run 2m"), a finished one's exit code ("exit 0")."""
    started = view.executed_at
    if view.status == ActionStatus.EXECUTING and started and not isinstance(started, DamagedTime):
        return f"run {duration((now - started).total_seconds())}"
    if (
        view.status in (ActionStatus.COMPLETED, ActionStatus.FAILED)
        and view.exit_code is not None
        and status_label(view) != CANCELLED
    ):
        return f"exit {view.exit_code}"
    return age(view.created_at, now)


def lines_text(value: str, style: Style | str = "") -> Text:
    """Multi-line untrusted text (a run's stdout or stderr): each line inert, the line
    breaks kept."""
    return Text("\n", end="").join(safe(line, style) for line in value.splitlines())


def when(moment: datetime | None) -> str:
    return utc_text(moment) if moment else "—"


#: The age column marks an action that expires within this long (see `expiry_mark`).
EXPIRES_SOON = timedelta(hours=1)
EXPIRY_MARK = "!"


def expires_in(expires_at: datetime, now: datetime) -> str:
    """ "in 3h", or "now (at the next sweep)" once the moment has passed."""
    left = expires_at - now
    if left.total_seconds() <= 0:
        return "now (at the next sweep)"
    return f"in {in_words(left)}"


def aged(view: ActionView, now: datetime, expires_at: datetime | None) -> Text:
    """The age cell: "3h ago", or "!23h ago" (bold) when the action expires within the
    hour: a mark that reads without colour."""
    text = age_cell_text(view, now)
    if expires_at is not None and expires_at - now <= EXPIRES_SOON:
        return cell(EXPIRY_MARK + text, "bold")
    return cell(text)


def action_cell(view: ActionView, warnings: tuple[str, ...] = ()) -> Text:
    """ "apt upgrade all", led by its plan's warnings in capitals, short enough for 80
    columns to keep a little of the action: "REMOVES 1 KERNEL apt upg…"."""
    text = cell(view.summary)
    if warnings:
        words = " ".join(_TAGS.get(w, w.upper()) for w in warnings)
        lead = Text(words + " ", style=WARNING_STYLE, end="")
        text = lead + text
        text.no_wrap = True
        text.overflow = "ellipsis"
    return text


def row_cells(
    view: ActionView,
    now: datetime,
    *,
    fresh: bool = False,
    warnings: tuple[str, ...] = (),
    decided: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[Text, ...]:
    """The table cells for one action, in column order (see table.COLUMNS). `decided`
    stands in for who decided it ("1/2": one of two approvals so far)."""
    cells = (
        Text(str(view.id), justify="right", end=""),
        cell(server_label(view)),
        action_cell(view, warnings),
        status_text(view),
        aged(view, now, expires_at),
        cell(decided or view.decided_by or ""),
    )
    if fresh:
        for text in cells:
            text.stylize(FRESH_STYLE)
    return cells
