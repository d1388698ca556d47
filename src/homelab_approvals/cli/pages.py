"""What the read commands print: `list`, `show` (its page), `events` and `servers`, from
what the service read. One place, whichever way it was read: the commands (through the
service) and the CLI's fast read (cli/fast_reads.py, without SQLAlchemy) both print
through here. Stdlib and the domain only."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from homelab_approvals.cli import output
from homelab_approvals.cli.cells import server_cell, text
from homelab_approvals.cli.output import when, write_json
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.previews import preview_headline, short_digest
from homelab_approvals.domain.text import visible

if TYPE_CHECKING:
    from homelab_approvals.domain.previews import PreviewView
    from homelab_approvals.domain.views import (
        ActionPage,
        ActionView,
        ApprovalTally,
        EventView,
        ServerView,
    )
    from homelab_approvals.service.listing import ActionQuery


def print_line(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def print_lines(lines: list[str]) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))


def stdout_width() -> int | None:
    """The terminal's width to fit tables to; None when stdout is no terminal."""
    return output.terminal_width(sys.stdout)


def write_servers(rows: Sequence[ServerView], *, as_json: bool) -> None:
    if as_json:
        write_json([output.as_dict(r) for r in rows])
    elif not rows:
        print_line("no servers yet; add one with: homelab-approvals server add ID --hostname H")
    else:
        print_lines(
            output.render_table(
                output.SERVER_COLUMNS, [output.server_row(r) for r in rows], stdout_width()
            )
        )


def write_list(
    query: ActionQuery,
    page: ActionPage,
    previews: dict[int, PreviewView] | None,
    *,
    limit_given: bool,
) -> None:
    """The rows as a table and a footer; with `previews` (--json), as a JSON array, each
    with its preview, and a note on stderr when the default window cut the list."""
    if previews is not None:
        write_json([output.with_preview(output.as_dict(a), previews.get(a.id)) for a in page.rows])
        if not limit_given and len(page.rows) < page.total - query.offset:
            # Not an error, but a script should know the default window cut the list.
            sys.stderr.write(
                f"note: {len(page.rows)} of {page.total} matching actions shown "
                "(the default --limit); use --limit and --offset for the rest\n"
            )
        return
    if page.rows:
        rows = [output.action_row(a) for a in page.rows]
        print_lines(output.render_table(output.ACTION_COLUMNS, rows, stdout_width()))
    print_line(list_footer(query, page, stdout_width()))


def list_footer(query: ActionQuery, page: ActionPage, width: int | None) -> str:
    shown, total, offset, counts = len(page.rows), page.total, query.offset, page.counts
    if total == 0:
        # Under --server, --type or --search the counts are empty too: "no actions yet"
        # would tell someone with a typo in --server that none exist.
        return "no actions match" if counts or query.narrowed else "no actions yet"
    if shown == 0:
        summary = f"no rows at offset {offset}; {total} match"
    elif shown < total:
        summary = f"rows {offset + 1}-{offset + shown} of {total} matching"
    else:
        summary = f"{total} action{'s' if total != 1 else ''}"
    order = [s.value for s in ActionStatus] + sorted(set(counts) - set(ActionStatus))
    present = [status for status in order if status in counts]
    by_status = f"(all statuses: {', '.join(f'{text(st)} {counts[st]}' for st in present)})"
    line = f"{summary}  {by_status}"
    # On a terminal too narrow for it (80 columns, with five statuses in the database), the
    # counts get a line of their own rather than wrapping mid-word.
    return f"{summary}\n{by_status}" if width is not None and len(line) > width else line


def write_show(
    action: ActionView,
    tally: ApprovalTally,
    preview: PreviewView | None,
    bound: PreviewView | None,
    events: Sequence[EventView],
) -> None:
    """`show ID`'s page: the details, the preview (and the plan approved), the events."""
    print_lines(_details(action, tally))
    print_lines(_preview_lines(action, preview, bound))
    print_line()
    if events:
        print_line("events")
        columns = [c for c in output.EVENT_COLUMNS if c.header != "ACTION"]
        rows = [output.event_row(e, with_action=False) for e in events]
        print_lines(output.render_table(columns, rows, stdout_width()))
    else:
        print_line("no events recorded (the action was created outside homelab-approvals)")


def write_events(rows: Sequence[EventView], *, as_json: bool, as_csv: bool) -> None:
    if as_json:
        write_json([output.as_dict(e) for e in rows])
    elif as_csv:
        output.write_events_csv(rows)
    elif not rows:
        print_line("no events")
    else:
        table = [output.event_row(e) for e in rows]
        print_lines(output.render_table(output.EVENT_COLUMNS, table, stdout_width()))


def _approvals_line(tally: ApprovalTally) -> str | None:
    """ "1 of 2: alice (2026-11-27 10:02:00 UTC)"; only for a type needing several."""
    if tally.required <= 1:
        return None
    who = ", ".join(f"{visible(a.actor)} ({when(a.at, seconds=True)} UTC)" for a in tally.approvals)
    return f"{tally.count} of {tally.required}" + (f": {who}" if who else "")


def _details(a: ActionView, tally: ApprovalTally) -> list[str]:
    """`show`'s key/value block. Fields HomelabCmd leaves empty are left out."""
    server = server_cell(a)
    if a.server_label and a.server_label != a.server_id:
        server = f"{server} ({text(a.server_id)})"
    if a.server_paused:
        server += ", in maintenance"
    fields: list[tuple[str, str | None]] = [
        ("status", a.status),
        ("server", server),
        ("type", a.action_type),
        ("service", a.service_name),
        ("command", a.command),
        ("created", _by(a.created_at, a.created_by)),
        ("alert", None if a.alert_id is None else str(a.alert_id)),
        ("approved", _by(a.approved_at, a.approved_by)),
        ("approvals", _approvals_line(tally)),
        ("rejected", _by(a.rejected_at, a.rejected_by)),
        ("reason", a.rejection_reason),
        ("executed", _by(a.executed_at)),
        ("completed", _by(a.completed_at)),
        ("exit code", None if a.exit_code is None else str(a.exit_code)),
        ("stdout", a.stdout),
        ("stderr", a.stderr),
    ]
    lines = [f"#{a.id}  {text(a.summary)} on {server_cell(a)}"]
    for label, value in fields:
        if not value:
            continue
        # Multi-line values (a run's stdout/stderr) keep their lines, each made inert.
        first, *rest = value.splitlines() or [""]
        lines.append(f"  {label:<10}  {visible(first)}".rstrip())
        lines.extend(f"  {'':<10}  {visible(line)}".rstrip() for line in rest)
    return lines


def _preview_lines(
    action: ActionView, preview: PreviewView | None, bound: PreviewView | None
) -> list[str]:
    """`show`'s preview: its headline, when it was taken, and every line of the plan."""
    headline = preview_headline(action.action_type, action.service_name, preview, action.status)
    lines = [f"  {'preview':<10}  {visible(headline)}"]
    pad = f"  {'':<10}  "
    if preview is not None:
        exit_code = "-" if preview.exit_code is None else str(preview.exit_code)
        lines.append(
            f"{pad}taken {when(preview.taken_at, seconds=True)} UTC, exit {exit_code}, "
            f"digest {short_digest(preview.digest)}"
        )
        lines.extend(f"{pad}{visible(line)}" for line in preview.lines)
    if bound is not None:
        lines.append(
            f"  {'approved':<10}  the plan of {when(bound.taken_at, seconds=True)} UTC, "
            f"digest {short_digest(bound.digest)}: {visible(bound.summary)}"
        )
    return lines


def _by(moment: datetime | None, who: str | None = None) -> str | None:
    if moment is None and who is None:
        return None
    stamp = f"{when(moment, seconds=True)} UTC" if moment else "-"
    return f"{stamp} by {visible(who)}" if who else stamp
