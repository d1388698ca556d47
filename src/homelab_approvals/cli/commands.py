"""One function per command: check the input, call the service, print the result.
Every rule lives in the service; these only translate between it and the terminal."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from homelab_approvals.cli import output
from homelab_approvals.cli.errors import EXIT_OK, UsageError
from homelab_approvals.cli.output import text, when, write_json
from homelab_approvals.cli.session import Session, open_from_args
from homelab_approvals.domain import validation
from homelab_approvals.domain.enums import ActionStatus, ActionType, SortOrder
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionPage, ActionView, EventView, ServerView
from homelab_approvals.service import ActionQuery
from homelab_approvals.storage.paths import resolve_db_path

Command = Callable[[Session], int]


def _print(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _lines(lines: list[str]) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))


def _width() -> int | None:
    return output.terminal_width(sys.stdout)


def _about(action: ActionView) -> str:
    """ "#12 restart nginx on Web One", made inert for the terminal: the server as `show`
    and `list` name it (its label; every action view the service returns carries it)."""
    return f"#{action.id} {text(action.summary)} on {output.server_cell(action)}"


def _print_action(action: ActionView, as_json: bool, sentence: str) -> int:
    if as_json:
        write_json(output.as_dict(action))
    else:
        _print(sentence)
    return EXIT_OK


# -- the console ----------------------------------------------------------------------------


def _require_terminal() -> None:
    """The console draws on a terminal and reads keys from one; piped or under cron it
    would only spray escape codes, so say what to use instead."""
    try:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # no stdin at all, or a closed one
        interactive = False
    if not interactive:
        raise UsageError(
            "the console needs a terminal on stdin and stdout; in scripts use a command "
            "such as 'list --json' (see --help)"
        )


def console(s: Session) -> int:
    actor = s.actor
    args = s.args
    if args.database_url:
        reason = s.console_read_only_reason()  # opens the database: its errors come first
        _require_terminal()
        # Imported here so that `list`, `approve`... never load Textual: startup time on a Pi.
        from homelab_approvals.tui.app import run_console

        return run_console(s.service, actor, read_only_reason=reason, simulate=False)
    from homelab_approvals.storage.backends import read_in_background
    from homelab_approvals.tui.collector import pause_collector

    policy = s.load_policy()  # the config's errors come before the database's
    path = resolve_db_path(args.db)
    pause_collector()  # until the database is open: see tui/collector.py
    first_window = read_in_background(path, read_only=args.read_only)  # while Textual loads
    from homelab_approvals.tui.app import console_app, run_app

    app = console_app(  # the database's errors, if any, come from here
        path,
        actor,
        policy=policy,
        read_only=args.read_only,
        group_shared=args.group_shared,
        config_path=s.config_path,
        first_window=first_window,
    )
    try:
        _require_terminal()
    except BaseException:
        app.close_database()
        raise
    return run_app(app)


def demo(s: Session) -> int:
    """The console on demo data with simulated activity. Uses --db/--database-url only when
    given explicitly (never $HOMELAB_APPROVALS_DB: demo rows must not land in a real
    database by accident), else a fresh temporary file that is kept for inspection."""
    args = s.args
    if args.read_only:
        raise UsageError("demo writes its demo data; --read-only does not apply to it")
    _require_terminal()
    from homelab_approvals.service import ApprovalService
    from homelab_approvals.service.demo import build_demo
    from homelab_approvals.tui.app import run_console

    actor = s.actor
    path: Path | None = None
    if not args.database_url:
        if args.db:
            path = Path(args.db)
        else:
            path = Path(tempfile.mkdtemp(prefix="homelab-approvals-demo-")) / "approvals-demo.db"
    if path is not None:  # said before opening, so the path is known even if that fails
        sys.stderr.write(f"demo database: {path}\n")
        sys.stderr.flush()
    s.db = open_from_args(args, path)
    if path is None:
        sys.stderr.write(f"demo database: {s.db.label}\n")  # a URL, its password hidden
    # The demo shows the whole workflow, so it runs with the default policy, not config.toml.
    service = ApprovalService(s.db)
    # The simulator keeps writing made-up actions: never let it loose on real data.
    if service.list_servers() or service.list_actions(ActionQuery(limit=0)).grand_total:
        raise UsageError(
            f"the demo needs a new or empty database, and {s.db.label} already has data; "
            "leave out --db for a fresh one, or open this one with --db PATH tui"
        )
    build_demo(service)
    return run_console(service, actor, read_only_reason=None, simulate=True)


# -- servers ------------------------------------------------------------------------------


def servers(s: Session) -> int:
    rows = s.service.list_servers()
    if s.args.json:
        write_json([output.as_dict(r) for r in rows])
    elif not rows:
        _print("no servers yet; add one with: homelab-approvals server add ID --hostname H")
    else:
        _lines(
            output.render_table(
                output.SERVER_COLUMNS, [output.server_row(r) for r in rows], _width()
            )
        )
    return EXIT_OK


def _print_server(server: ServerView, as_json: bool, sentence: str) -> int:
    if as_json:
        write_json(output.as_dict(server))
    else:
        _print(sentence)
    return EXIT_OK


def _server_name(server: ServerView) -> str:
    name = text(server.id)
    return f"{name} ({text(server.display_name)})" if server.display_name else name


def server_add(s: Session) -> int:
    args = s.args
    # Checked before the database is opened, so a refused add creates no file.
    validation.server_id(args.server_id)
    validation.hostname(args.hostname)
    validation.display_name(args.display_name)
    server = s.service.add_server(
        args.server_id, args.hostname, args.display_name, paused=args.paused
    )
    mode = "in maintenance: its actions wait for approval" if server.is_paused else "active"
    return _print_server(server, args.json, f"added server {_server_name(server)}, {mode}")


def server_pause(s: Session) -> int:
    server = s.service.set_paused(s.args.server_id, True)
    sentence = f"paused {_server_name(server)}: new actions on it wait for approval"
    return _print_server(server, s.args.json, sentence)


def server_unpause(s: Session) -> int:
    server = s.service.set_paused(s.args.server_id, False)
    sentence = f"unpaused {_server_name(server)}: new actions on it are approved automatically"
    return _print_server(server, s.args.json, sentence)


# -- actions ------------------------------------------------------------------------------


def create(s: Session) -> int:
    args = s.args
    actor = s.actor
    action = s.service.create_action(
        args.server_id, ActionType(args.action_type), args.service, actor=actor
    )
    if action.status == ActionStatus.PENDING:
        outcome = "pending: the server is in maintenance, so it waits for a decision"
    else:
        outcome = f"{text(action.status)} automatically: the server is not in maintenance"
    return _print_action(action, args.json, f"created {_about(action)}, {outcome}")


def list_actions(s: Session) -> int:
    args = s.args
    query = ActionQuery(
        statuses=tuple(dict.fromkeys(ActionStatus(v) for v in args.statuses or ())),
        server_id=args.server_id,
        action_type=ActionType(args.action_type) if args.action_type else None,
        search=args.search,
        sort=SortOrder(args.sort),
        offset=args.offset,
    )
    if args.limit is not None:
        query = query.with_(limit=args.limit)
    page = s.service.list_actions(query)  # the query was validated before this opened the DB
    if args.json:
        write_json([output.as_dict(a) for a in page.rows])
        if args.limit is None and len(page.rows) < page.total - query.offset:
            # Not an error, but a script should know the default window cut the list.
            sys.stderr.write(
                f"note: {len(page.rows)} of {page.total} matching actions shown "
                "(the default --limit); use --limit and --offset for the rest\n"
            )
        return EXIT_OK
    if page.rows:
        rows = [output.action_row(a) for a in page.rows]
        _lines(output.render_table(output.ACTION_COLUMNS, rows, _width()))
    _print(_list_footer(query, page, _width()))
    return EXIT_OK


def _list_footer(query: ActionQuery, page: ActionPage, width: int | None) -> str:
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


def show(s: Session) -> int:
    action = s.service.get_action(s.args.action_id)
    if s.args.json:
        write_json(output.as_dict(action))
        return EXIT_OK
    events = s.service.list_events(action_id=action.id)
    _lines(_details(action))
    _print()
    if events:
        _print("events")
        columns = [c for c in output.EVENT_COLUMNS if c.header != "ACTION"]
        rows = [output.event_row(e, with_action=False) for e in events]
        _lines(output.render_table(columns, rows, _width()))
    else:
        _print("no events recorded (the action was created outside homelab-approvals)")
    return EXIT_OK


def _details(a: ActionView) -> list[str]:
    """`show`'s key/value block. Fields HomelabCmd leaves empty are left out."""
    server = output.server_cell(a)
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
        ("rejected", _by(a.rejected_at, a.rejected_by)),
        ("reason", a.rejection_reason),
        ("executed", _by(a.executed_at)),
        ("completed", _by(a.completed_at)),
        ("exit code", None if a.exit_code is None else str(a.exit_code)),
        ("stdout", a.stdout),
        ("stderr", a.stderr),
    ]
    lines = [f"#{a.id}  {text(a.summary)} on {output.server_cell(a)}"]
    for label, value in fields:
        if not value:
            continue
        # Multi-line values (a run's stdout/stderr) keep their lines, each made inert.
        first, *rest = value.splitlines() or [""]
        lines.append(f"  {label:<10}  {visible(first)}".rstrip())
        lines.extend(f"  {'':<10}  {visible(line)}".rstrip() for line in rest)
    return lines


def _by(moment: datetime | None, who: str | None = None) -> str | None:
    if moment is None and who is None:
        return None
    stamp = f"{when(moment, seconds=True)} UTC" if moment else "-"
    return f"{stamp} by {visible(who)}" if who else stamp


def approve(s: Session) -> int:
    actor = s.actor
    action = s.service.approve(s.args.action_id, actor)
    return _print_action(action, s.args.json, f"approved {_about(action)}")


def reject(s: Session) -> int:
    actor = s.actor
    reason = validation.rejection_reason(s.args.reason)  # refused before the DB is opened
    action = s.service.reject(s.args.action_id, actor, reason)
    sentence = f"rejected {_about(action)}: {text(action.rejection_reason)}"
    return _print_action(action, s.args.json, sentence)


def cancel(s: Session) -> int:
    actor = s.actor
    action = s.service.cancel(s.args.action_id, actor)
    sentence = f"cancelled {_about(action)} (now {text(action.status)})"
    return _print_action(action, s.args.json, sentence)


def events(s: Session) -> int:
    args = s.args
    rows: list[EventView] = s.service.list_events(action_id=args.action_id, since=args.since)
    if args.json:
        write_json([output.as_dict(e) for e in rows])
    elif args.csv:
        output.write_events_csv(rows)
    elif not rows:
        _print("no events")
    else:
        table = [output.event_row(e) for e in rows]
        _lines(output.render_table(output.EVENT_COLUMNS, table, _width()))
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "tui": console,
    "demo": demo,
    "servers": servers,
    "server add": server_add,
    "server pause": server_pause,
    "server unpause": server_unpause,
    "create": create,
    "list": list_actions,
    "show": show,
    "approve": approve,
    "reject": reject,
    "cancel": cancel,
    "events": events,
}


def dispatch(args: argparse.Namespace) -> int:
    name = args.command or "tui"
    if name == "server":
        name = f"server {args.server_command}"
    session = Session(args)
    try:
        return COMMANDS[name](session)
    finally:
        session.close()
