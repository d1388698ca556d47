"""One function per command: check the input, call the service, print the result.
Every rule lives in the service; these only translate between it and the terminal."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from homelab_approvals.cli import many, output, pages
from homelab_approvals.cli.cells import server_cell, text
from homelab_approvals.cli.errors import EXIT_ERROR, EXIT_OK, UsageError, report
from homelab_approvals.cli.output import write_json
from homelab_approvals.cli.results import about as _about
from homelab_approvals.cli.results import approved_line as _approved_line
from homelab_approvals.cli.results import cancelled_line as _cancelled_line
from homelab_approvals.cli.results import committed as _committed
from homelab_approvals.cli.results import flush_stdout, to_stdout
from homelab_approvals.cli.results import rejected_line as _rejected_line
from homelab_approvals.cli.session import Session, open_from_args
from homelab_approvals.domain import validation
from homelab_approvals.domain.enums import ActionStatus, ActionType
from homelab_approvals.domain.errors import ConfigError, DeliveryError
from homelab_approvals.domain.expiry import approved_reason
from homelab_approvals.domain.previews import PreviewView, preview_headline, short_digest
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import (
    ActionView,
    ServerView,
)
from homelab_approvals.domain.votes import waiting_line
from homelab_approvals.service import ActionQuery
from homelab_approvals.service.bulk import Decision
from homelab_approvals.service.listing import query_from_options
from homelab_approvals.service.preview_settings import PlanCheck
from homelab_approvals.storage.paths import resolve_db_path

if TYPE_CHECKING:
    from homelab_approvals.domain.execution import SudoMode
    from homelab_approvals.executor.previews import PreviewTaker
    from homelab_approvals.service.config import NotifyConfig
    from homelab_approvals.service.executions import ExecutionService

Command = Callable[[Session], int]


_print, _lines, _width = pages.print_line, pages.print_lines, pages.stdout_width


def _print_action(s: Session, action: ActionView, sentence: str) -> int:
    """The result of a committed change (create): the sentence, or with --json the
    action's object with its `preview`."""
    if s.args.json:
        shown = _with_preview(output.as_dict(action), s.service.get_preview(action.id))
        return _committed(lambda: write_json(shown))
    return _committed(lambda: _print(sentence))


_with_preview = output.with_preview


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
    from homelab_approvals.tui.view_state import ViewState, is_default

    if args.database_url:
        keymap = _keymap(s)  # the config's errors come before the database's
        reason = s.console_read_only_reason()  # opens the database: its errors come first
        _require_terminal()
        # Imported here so that `list`, `approve`... never load Textual: startup time on a Pi.
        from homelab_approvals.tui.app import run_console

        assert s.db is not None
        state = ViewState.for_database(s.db.label)  # the URL, its password hidden
        return run_console(
            s.service,
            actor,
            read_only_reason=reason,
            view=None if args.fresh else state.load(),
            view_state=state,
            keymap=keymap,
            bell=s.load_config().bell,
        )
    from homelab_approvals.storage.backends import read_in_background
    from homelab_approvals.tui.collector import pause_collector

    config = s.load_config()  # the config's errors come before the database's
    policy = config.policy
    path = resolve_db_path(args.db)
    state = ViewState.for_database(str(path.resolve()))
    view = None if args.fresh else state.load()
    pause_collector()  # until the database is open: see tui/collector.py
    first_window = None
    if view is None or is_default(view):  # else the first window is not what is shown
        first_window = read_in_background(path, read_only=args.read_only)  # while Textual loads
    keymap = _keymap(s)  # imports Textual; a bad [keys] stops here, before the database
    from homelab_approvals.tui.app import console_app, run_app

    app = console_app(  # the database's errors, if any, come from here
        path,
        actor,
        policy=policy,
        read_only=args.read_only,
        group_shared=args.group_shared,
        config_path=s.config_path,
        first_window=first_window,
        view=view,
        view_state=state,
        keymap=keymap,
        bell=config.bell,
    )
    try:
        _require_terminal()
    except BaseException:
        app.close_database()
        raise
    return run_app(app)


def _keymap(s: Session) -> dict[str, str]:
    """The config's [keys], checked against the console's bindings (exit 2 if wrong)."""
    from homelab_approvals.tui.keymap import check_keymap

    return check_keymap(s.load_config().keys, s.config_path)


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
    pages.write_servers(s.service.list_servers(), as_json=s.args.json)
    return EXIT_OK


def _print_server(server: ServerView, as_json: bool, sentence: str) -> int:
    """The result of a committed change (server add, pause, unpause)."""
    if as_json:
        return _committed(lambda: write_json(output.as_dict(server)))
    return _committed(lambda: _print(sentence))


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
    return _print_action(s, action, f"created {_about(action)}, {outcome}")


def list_actions(s: Session) -> int:
    args = s.args
    query = query_from_options(
        args.statuses or (),
        args.server_id,
        args.action_type,
        args.search,
        args.sort,
        args.limit,
        args.offset,
    )
    page = s.service.list_actions(query)  # the query was validated before this opened the DB
    previews = s.service.previews_for([a.id for a in page.rows]) if args.json else None
    pages.write_list(query, page, previews, limit_given=args.limit is not None)
    return EXIT_OK


def _shown_json(s: Session, action: ActionView) -> dict[str, object]:
    """What `show --json` prints: the action, its approvals and its preview."""
    return output.shown_json(
        action, s.service.approval_tally(action.id), s.service.get_preview(action.id)
    )


def show(s: Session) -> int:
    action = s.service.get_action(s.args.action_id)
    if s.args.follow:
        return _follow(s, action)
    if s.args.json:
        write_json(_shown_json(s, action))
        return EXIT_OK
    service = s.service
    pages.write_show(
        action,
        service.approval_tally(action.id),
        service.get_preview(action.id),
        service.bound_preview(action.id),
        service.list_events(action_id=action.id),
    )
    return EXIT_OK


#: Seconds between looks at the database while following; a look is a change check
#: (`PRAGMA data_version`), and rows are read only when something changed.
FOLLOW_POLL = 0.1
#: Statuses an action can still leave on its own: following waits through them.
_UNDERWAY = frozenset({ActionStatus.PENDING, ActionStatus.APPROVED, ActionStatus.EXECUTING})


def _follow(s: Session, action: ActionView) -> int:
    """`show ID --follow`: the output of a run as it arrives (stdout to stdout, stderr to
    stderr, made inert), then how it ended. Exit 0 when it completed, 1 otherwise."""
    service = s.service
    _print(f"#{action.id} {text(action.summary)} on {server_cell(action)}: {text(action.status)}")
    flush_stdout()
    after, seen_any, token = 0, False, None
    while True:
        fresh = service.change_token()
        if fresh != token:
            token = fresh
            action = service.get_action(action.id)  # before the output: none is missed
            chunks, after = service.output_since(action.id, after)
            for chunk in chunks:
                if chunk.stream == "stderr":
                    sys.stderr.write(_inert_lines(chunk.text))
                    sys.stderr.flush()
                else:
                    to_stdout(_inert_lines(chunk.text))
                    flush_stdout()
            seen_any = seen_any or bool(chunks)
            if action.status not in _UNDERWAY:
                break
        time.sleep(FOLLOW_POLL)
    if not seen_any:  # run elsewhere (HomelabCmd), or refused before anything was sent
        for value, to_stderr in ((action.stdout, False), (action.stderr, True)):
            if value:
                lines = _inert_lines(value if value.endswith("\n") else value + "\n")
                if to_stderr:
                    sys.stderr.write(lines)
                else:
                    to_stdout(lines)
    exit_code = "" if action.exit_code is None else f" (exit {action.exit_code})"
    _print(f"#{action.id} {text(action.status)}{exit_code}")
    return EXIT_OK if action.status == ActionStatus.COMPLETED else EXIT_ERROR


def _inert_lines(chunk: str) -> str:
    """Output made inert line by line: its line breaks kept, every other control
    character (an escape sequence, a carriage return) shown as a stand-in."""
    return "\n".join(visible(line) for line in chunk.split("\n"))


def _approved(s: Session, action: ActionView) -> str:
    bound = s.service.bound_preview(action.id)
    plan = f"; plan {short_digest(bound.digest)}: {visible(bound.summary)}" if bound else ""
    if action.status != ActionStatus.PENDING:
        return _approved_line(action, plan)
    # A vote short of the quorum: the action is still pending; say the count.
    tally = s.service.approval_tally(action.id)
    return f"{_about(action)}: {waiting_line(tally.count, tally.required)}{plan}"


def _rejected(s: Session, action: ActionView) -> str:
    return _rejected_line(action)


def _cancelled(s: Session, action: ActionView) -> str:
    return _cancelled_line(action)


def _decided_json(s: Session, action: ActionView) -> dict[str, object]:
    """A decision's result with --json: exactly what `show --json` prints next."""
    return _shown_json(s, action)


def _decide(s: Session, decision: Decision, reason: str | None = None) -> int:
    """One id: its sentence or object, as always. Several ids, or '-': each in its own
    transaction through the service's bulk path, one line or JSON item per id."""
    sentence = {
        Decision.APPROVE: _approved,
        Decision.REJECT: _rejected,
        Decision.CANCEL: _cancelled,
    }[decision]
    words = s.args.action_ids
    expected = getattr(s.args, "expect_preview", None)
    # Checked before the database is opened, so a malformed digest changes nothing.
    check = PlanCheck.expect(validation.plan_digest(expected)) if expected else None
    if not many.is_batch(words):
        (aid,) = words
        if decision is Decision.APPROVE:
            # The CLI binds the plan of now, or refuses one other than --expect-preview.
            action = s.service.approve(aid, s.actor, plan=check or PlanCheck.bind_current())
        elif decision is Decision.REJECT:
            action = s.service.reject(aid, s.actor, reason)
        else:
            action = s.service.cancel(aid, s.actor)
        # Committed: a result that cannot be written still exits 0 (see _committed).
        if s.args.json:
            decided = _decided_json(s, action)
            return _committed(lambda: write_json(decided))
        line = sentence(s, action)
        return _committed(lambda: _print(line))
    if check is not None:
        raise UsageError("--expect-preview takes one action id (a digest is one action's plan)")
    ids = many.ids_from(words, sys.stdin)  # all read and checked before deciding
    if not ids:
        sys.stderr.write("note: no action ids given on stdin; nothing to do\n")
        if s.args.json:
            write_json([])
        return EXIT_OK
    result = s.service.decide_many(ids, s.actor, decision, reason)
    return many.report_batch(
        result.outcomes,
        lambda action: sentence(s, action),
        lambda action: _decided_json(s, action),
        as_json=s.args.json,
    )


def approve(s: Session) -> int:
    return _decide(s, Decision.APPROVE)


def reject(s: Session) -> int:
    reason = validation.rejection_reason(s.args.reason)  # refused before the DB is opened
    return _decide(s, Decision.REJECT, reason)


def cancel(s: Session) -> int:
    return _decide(s, Decision.CANCEL)


def expire(s: Session) -> int:
    expired = s.service.expire()
    if s.args.json:
        shown = [output.as_dict(a) for a in expired]
        if expired:  # committed: a result stdout cannot take still exits 0
            return _committed(lambda: write_json(shown))
        write_json(shown)
        return EXIT_OK
    expiry = s.service.policy.expiry
    if expiry.pending is None and expiry.approved is None:
        _print(f"nothing expires: the config has no [expiry] table ({s.config_path})")
        return EXIT_OK
    if not expired:
        _print("nothing to expire")
        return EXIT_OK
    lines = []
    for action in expired:
        why = action.rejection_reason if action.status == ActionStatus.REJECTED else None
        why = why or _approved_expiry(s)
        lines.append(f"expired {_about(action)}, now {text(action.status)}: {text(why)}")
    # Committed: a result stdout cannot take still exits 0, as for a decision.
    return _committed(lambda: _lines(lines))


def _approved_expiry(s: Session) -> str:
    limit = s.service.policy.expiry.approved
    return approved_reason(limit.text) if limit else "expired"


def notify(s: Session) -> int:
    """Send notifications: one pass with --once (exit 1 if a target failed; the next
    run retries it), else pass after pass until interrupted."""
    from homelab_approvals.notify.sender import Pass, Sender
    from homelab_approvals.notify.targets import targets_from

    targets = targets_from(s.load_config().notify)
    if not targets:
        raise ConfigError(f"no [[notify]] targets in the config ({s.config_path})")
    sender = Sender(s.service, targets)
    if s.args.once:
        sender.start()
        result = sender.run_once()
        sent = f"sent {result.sent} notification{'s' if result.sent != 1 else ''}"
        _committed(lambda: _print(sent))  # sent and recorded, whatever stdout does
        for target, why in result.failed.items():
            report(DeliveryError(f"{target}: {why}; it is sent again next time"), as_json=False)
        return EXIT_ERROR if result.failed else EXIT_OK

    def said(result: Pass) -> None:
        if result.sent:
            _print(f"sent {result.sent} notification{'s' if result.sent != 1 else ''}")
            sys.stdout.flush()
        for target, why in result.failed.items():
            report(DeliveryError(f"{target}: {why}; retrying with backoff"), as_json=False)

    _print(f"sending notifications to {len(targets)} target(s); ctrl+c stops")
    sys.stdout.flush()
    sender.run_forever(threading.Event(), said)
    return EXIT_OK


def events(s: Session) -> int:
    args = s.args
    rows = s.service.list_events(action_id=args.action_id, since=args.since)
    pages.write_events(rows, as_json=args.json, as_csv=args.csv)
    return EXIT_OK


def copy_to(s: Session) -> int:
    """Copy the queue (servers, actions, events, and our state about them: previews,
    plan bindings, live output, executor claims, notification cursors; ids and times as
    they are) into an empty database: SQLite to PostgreSQL, or back."""
    from homelab_approvals.storage import open_database
    from homelab_approvals.storage.copying import copy_database

    source = s.service.db
    destination = open_database(url=s.args.destination)
    try:
        copied = copy_database(source, destination, _copy_progress())
    finally:
        destination.close()
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    state = ""
    if copied.other_rows:
        state = f" (and {copied.other_rows} rows of previews, runs and notification cursors)"
    said = (
        f"copied {copied.servers} servers, {copied.actions} actions and {copied.events} "
        f"events{state} to {text(destination.label)}"
    )
    return _committed(lambda: _print(said))  # the copy is committed whatever stdout does


def _copy_progress() -> Callable[[str, int, int], None]:
    """Progress on a terminal (stderr, one line rewritten); nothing otherwise."""
    if not sys.stderr.isatty():
        return lambda _table, _done, _total: None

    def show(table: str, done: int, total: int) -> None:
        sys.stderr.write(f"\rcopying {table}: {done}/{total}\x1b[K")
        sys.stderr.flush()

    return show


def executor(s: Session) -> int:
    """Carry out approved actions over SSH (see executor/)."""
    import socket

    from homelab_approvals.domain import execution
    from homelab_approvals.executor.run import run_executor
    from homelab_approvals.executor.worker import Settings
    from homelab_approvals.service.executions import ExecutionService
    from homelab_approvals.storage.paths import expand_user_path

    args = s.args
    if args.read_only:
        raise UsageError("the executor writes each run's result; --read-only does not apply to it")
    given = args.name if args.name is not None else f"executor@{socket.gethostname()}"
    name = validation.actor(given)
    whole = s.load_config()  # the config's errors come before the database's
    config = whole.executor
    chosen = args.ssh_config or config.ssh_config
    ssh_config = expand_user_path(chosen) if chosen else None
    if ssh_config is not None and not ssh_config.is_file():
        where = "--ssh-config" if args.ssh_config else f"{s.config_path}: 'executor.ssh_config'"
        raise UsageError(f"{where}: no such file: {ssh_config}")
    settings = Settings(
        name=name,
        ssh_config=ssh_config,
        timeout=args.timeout or execution.DEFAULT_TIMEOUT_S,
        lease=args.lease or execution.DEFAULT_LEASE_S,
        concurrency=args.concurrency or execution.DEFAULT_CONCURRENCY,
        once=args.once,
        sudo=execution.SudoMode(config.sudo),
    )
    policy = s.service.policy
    approved = policy.expiry.approved
    service = ExecutionService(s.service.db, approved_expiry=approved.delta if approved else None)
    sweep = s.service.expire if policy.expires else None
    previews = _preview_taker(s, service, ssh_config, settings.sudo)
    with _notifying(s, whole.notify, once=args.once):
        return run_executor(
            service, settings, as_json=args.json, previews=previews, housekeeping=sweep
        )


@contextmanager
def _notifying(s: Session, configured: Sequence[NotifyConfig], *, once: bool) -> Iterator[None]:
    """The executor daemon sends the [[notify]] notifications too: in a thread while it
    runs; with --once, one pass after its runs (exit 1 if a target failed)."""
    if not configured:
        yield
        return
    from homelab_approvals.notify.sender import Pass, Sender
    from homelab_approvals.notify.targets import targets_from

    sender = Sender(s.service, targets_from(configured))
    sender.start()

    def said(result: Pass) -> None:
        for target, why in result.failed.items():
            report(DeliveryError(f"{target}: {why}; retrying with backoff"), as_json=False)

    if once:
        yield
        result = sender.run_once()
        for target, why in result.failed.items():
            report(DeliveryError(f"{target}: {why}; it is sent again next time"), as_json=False)
        return
    stop = threading.Event()
    thread = threading.Thread(target=sender.run_forever, args=(stop, said), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(15)


def _preview_taker(
    s: Session, executions: ExecutionService, ssh_config: Path | None, sudo: SudoMode
) -> PreviewTaker:
    from homelab_approvals.executor.previews import PreviewTaker, ProbeSettings

    settings = ProbeSettings(ssh_config, sudo, s.service.preview_settings)
    return PreviewTaker(s.service, executions, settings)


def _ssh_config(s: Session) -> Path | None:
    """--ssh-config, else the config's executor.ssh_config; it must exist."""
    from homelab_approvals.storage.paths import expand_user_path

    args = s.args
    chosen = args.ssh_config or s.load_config().executor.ssh_config
    ssh_config = expand_user_path(chosen) if chosen else None
    if ssh_config is not None and not ssh_config.is_file():
        where = "--ssh-config" if args.ssh_config else f"{s.config_path}: 'executor.ssh_config'"
        raise UsageError(f"{where}: no such file: {ssh_config}")
    return ssh_config


def preview(s: Session) -> int:
    """Take previews over SSH without the executor daemon: of the given actions now, of
    every pending action whose preview is due (--once), or that, until stopped."""
    from homelab_approvals.domain import execution
    from homelab_approvals.executor.previews import run_previews
    from homelab_approvals.service.executions import ExecutionService

    args = s.args
    if args.read_only:
        raise UsageError("a preview is written to the database; --read-only does not apply")
    ssh_config = _ssh_config(s)
    sudo = execution.SudoMode(s.load_config().executor.sudo)
    executions = ExecutionService(s.service.db)
    taker = _preview_taker(s, executions, ssh_config, sudo)
    ids = list(dict.fromkeys(args.action_ids or ()))
    actions = [s.service.get_action(aid) for aid in ids]  # an unknown id: exit 3 first

    def said(action: ActionView, shown: PreviewView | None) -> None:
        words = (
            shown.summary
            if shown is not None
            else preview_headline(action.action_type, action.service_name, None)
        )
        digest = f" (plan {short_digest(shown.digest)})" if shown and shown.digest else ""
        _print(f"{_about(action)}: {visible(words)}{digest}")
        sys.stdout.flush()

    return run_previews(
        taker,
        actions if ids else None,
        concurrency=args.concurrency or execution.DEFAULT_CONCURRENCY,
        once=args.once or bool(ids),
        said=said,
    )


def completion(s: Session) -> int:
    from homelab_approvals.cli.completion import script

    sys.stdout.write(script(s.args.shell))
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
    "expire": expire,
    "notify": notify,
    "events": events,
    "copy-to": copy_to,
    "executor": executor,
    "preview": preview,
    "completion": completion,
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
