"""The command line grammar (argparse). Light on purpose: no SQLAlchemy, no Textual, so
`--help`, `--version` and usage errors answer instantly, even on a Raspberry Pi."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

from homelab_approvals import __version__
from homelab_approvals.cli import words
from homelab_approvals.cli.errors import UsageError
from homelab_approvals.domain.enums import ActionStatus, ActionType, SortOrder

PROG = "homelab-approvals"
GLOBAL_FLAGS = (
    "--db",
    "--database-url",
    "--operator",
    "--config",
    "--read-only",
    "--group-shared",
    "--fresh",
    "--no-listen",
)
STATUSES = tuple(s.value for s in ActionStatus)
TYPES = tuple(t.value for t in ActionType)
SORTS = tuple(s.value for s in SortOrder)
SHELLS = ("bash", "zsh")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: int() would also take "٤٢", "4_2" and "+4"
_UNDECODED = re.compile("[\udc80-\udcff]")  # undecodable argv bytes (surrogateescape)

DESCRIPTION = """\
Approve or reject homelab remediation actions. With no command, opens the console."""

EPILOG = """\
global options go before the command:  homelab-approvals --db ./x.db list --json

exit status:
  0  ok
  1  unexpected or database error (DATABASE_ERROR, DATABASE_BUSY, INTERNAL)
  2  invalid input (USAGE, VALIDATION_ERROR, CONFIG_ERROR)
  3  not found (NOT_FOUND)
  4  conflict: already decided, or a duplicate (CONFLICT)
  5  forbidden by the approvers policy (FORBIDDEN)
  130 interrupted (Ctrl-C)
Errors are one line on stderr: "error: CODE: message". With --json the same
error is also written to stdout as {"error": {"code": ..., "message": ...}}.

environment:
  HOMELAB_APPROVALS_DB      database file, when --db is not given
  HOMELAB_APPROVALS_CONFIG  config file, when --config is not given"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error becomes one `error: USAGE: ...` line (via UsageError)
    instead of a usage dump, so scripts see the same shape for every failure."""

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        """parse_args, but left-over words point at the help of the command they were
        given to (`show 1 2`: 'homelab-approvals show --help'), not the top level's."""
        args, extras = self.parse_known_args(argv)
        if extras:
            words = (getattr(args, "command", None), getattr(args, "server_command", None))
            where = " ".join([self.prog, *(word for word in words if word)])
            self._fail(f"unrecognized arguments: {' '.join(extras)}", where)
        return args

    def error(self, message: str) -> NoReturn:
        self._fail(message, self.prog)

    def _fail(self, message: str, where: str) -> NoReturn:
        hint = f"see '{where} --help'"
        if message.startswith("unrecognized arguments") and any(
            word in GLOBAL_FLAGS or word.split("=")[0] in GLOBAL_FLAGS for word in message.split()
        ):
            hint = f"global options such as --db go before the command; see '{self.prog} --help'"
        raise UsageError(f"{message} ({hint})")


# -- argument types: malformed values are usage errors (exit 2), never tracebacks --------


def shown(text: str) -> str:
    """`text` quoted for an error message. An argument that is not UTF-8 (Python keeps
    each such byte as a lone surrogate, '\\udcff') is shown as the bytes typed: '\\xff'."""
    if _UNDECODED.search(text):
        try:
            return repr(text.encode("utf-8", "surrogateescape"))[1:]  # b'...' without the b
        except UnicodeEncodeError:  # a surrogate no argv could hold; repr() will do
            pass
    return repr(text)


def action_id(text: str) -> int:
    """A positive 64-bit integer; `#42` (as the console shows ids) is accepted too."""
    value = words.action_id_of(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"an action id must be a positive integer, got {shown(text)}"
        )
    return value


STDIN = "-"


def action_id_or_stdin(text: str) -> int | str:
    """For approve, reject and cancel: an action id, or '-' (read the ids from stdin)."""
    return STDIN if text == STDIN else action_id(text)


def not_empty(text: str) -> str:
    """For --db, --database-url and --config: `--db "$DB"` with DB unset must not quietly
    fall back to the default database (and approve there)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty; leave it out for the default")
    return text


def count(text: str) -> int:
    """A non-negative integer for --limit / --offset."""
    value = words.count_of(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0, got {shown(text)}")
    return value


def since(text: str) -> datetime:
    """ISO 8601 with a UTC offset or Z: an audit query must not depend on the local zone."""
    moment = words.since_of(text)
    if moment is not None:
        return moment
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-11-27T10:00Z, got {shown(text)}"
        ) from None
    raise argparse.ArgumentTypeError(
        f"{text!r} has no UTC offset; add Z or +HH:MM, e.g. 2026-11-27T10:00Z"
    )


# -- the grammar ---------------------------------------------------------------------------

# A command that prints one sentence prints, with --json, the object it is about.
_ACTION_JSON = "print the action as a JSON object instead of a sentence"
_SERVER_JSON = "print the server as a JSON object instead of a sentence"
_SERVER_ID = "the server's id, as 'servers' lists it"
_DECISION_JSON = (
    "print the action as a JSON object instead of a sentence; with several ids or '-', "
    "a JSON array with one object (or error object) per id"
)


def build_parser(*, path_completion: object = None) -> Parser:
    """The grammar. `path_completion` (shtab's FILE, for `completion`) marks the options
    that take a path, so a completion script offers files for them."""
    parser = Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # an abbreviation in a script breaks when an option is added
    )
    where = parser.add_mutually_exclusive_group()
    db = where.add_argument(
        "--db",
        type=not_empty,
        metavar="PATH",
        help="database file (default: $HOMELAB_APPROVALS_DB, else the user data dir)",
    )
    where.add_argument(
        "--database-url", type=not_empty, metavar="URL", help="any SQLAlchemy database URL"
    )
    parser.add_argument(
        "--operator", metavar="NAME", help="who is acting (default: the OS account name)"
    )
    config = parser.add_argument(
        "--config",
        type=not_empty,
        metavar="PATH",
        help="config file (default: $HOMELAB_APPROVALS_CONFIG, else the user config dir)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="open the database read-only; decide nothing"
    )
    parser.add_argument(
        "--group-shared",
        action="store_true",
        help="create a new database group-readable/writable (0660, folder 0770)",
    )
    parser.add_argument(
        "--no-listen",
        action="store_true",
        help="PostgreSQL: poll for changes instead of LISTEN (e.g. behind PgBouncer's "
        "transaction mode)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="console: start with the default view, not the one remembered from last time",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    if path_completion is not None:
        for action in (db, config):
            action.complete = path_completion  # type: ignore[attr-defined]  # read by shtab

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add(commands, "tui", "open the console (the default)")
    _add(commands, "demo", "open the console on a demo database with simulated activity")

    servers = _add(commands, "servers", "list servers")
    _json(servers)

    server = _add(commands, "server", "add a server, or turn maintenance mode on/off")
    actions = server.add_subparsers(
        dest="server_command", metavar="{add,pause,unpause}", required=True
    )
    add = _add(actions, "add", "add a server")
    add.add_argument("server_id", metavar="ID", help="slug: lowercase letters, digits and '-'")
    add.add_argument("--hostname", required=True, metavar="H", help="the server's hostname")
    add.add_argument(
        "--display-name", metavar="N", help="a name for people (default: the hostname)"
    )
    add.add_argument(
        "--paused", action="store_true", help="start in maintenance mode (actions wait)"
    )
    _json(add, _SERVER_JSON)
    for name, what in (
        ("pause", "maintenance mode on: new actions wait for approval"),
        ("unpause", "maintenance mode off: new actions are approved automatically"),
    ):
        toggle = _add(actions, name, what)
        toggle.add_argument("server_id", metavar="ID", help=_SERVER_ID)
        _json(toggle, _SERVER_JSON)

    create = _add(commands, "create", "propose a new action")
    create.add_argument("--server", required=True, metavar="ID", dest="server_id", help=_SERVER_ID)
    create.add_argument(
        "--type",
        required=True,
        choices=TYPES,
        metavar="TYPE",
        dest="action_type",
        help="one of: " + ", ".join(TYPES),
    )
    create.add_argument("--service", metavar="NAME", help="systemd unit, for restart_service")
    _json(create, _ACTION_JSON)

    listing = _add(commands, "list", "list actions")
    listing.add_argument(
        "--status",
        action="append",
        choices=STATUSES,
        metavar="S",
        dest="statuses",
        help="repeatable; one of: " + ", ".join(STATUSES),
    )
    listing.add_argument(
        "--server", metavar="ID", dest="server_id", help="only this server's actions (its id)"
    )
    listing.add_argument(
        "--type", choices=TYPES, metavar="T", dest="action_type", help="one of: " + ", ".join(TYPES)
    )
    listing.add_argument("--search", metavar="TEXT", help="server, service, command or #id")
    listing.add_argument(
        "--sort", choices=SORTS, default=SortOrder.OLDEST.value, help="default: oldest"
    )
    listing.add_argument("--limit", type=count, metavar="N", help="at most N rows (default 1000)")
    listing.add_argument("--offset", type=count, default=0, metavar="N", help="skip N rows")
    _json(listing)

    show = _add(commands, "show", "one action, with its events")
    _id(show)
    shown = show.add_mutually_exclusive_group()
    shown.add_argument(
        "--json",
        action="store_true",
        help="print the action as a JSON object (its events: events --action ID --json)",
    )
    shown.add_argument(
        "--follow",
        action="store_true",
        help="print its output as it runs; end with it (exit 0 completed, 1 otherwise)",
    )

    approve = _add(commands, "approve", "approve pending actions")
    _ids(approve)
    approve.add_argument(
        "--expect-preview",
        metavar="DIGEST",
        help="refuse (exit 4) unless the action's current plan has this digest "
        "(preview.digest of 'show ID --json'); one id only",
    )
    _json(approve, _DECISION_JSON)
    reject = _add(commands, "reject", "reject pending actions, with one reason for all")
    _ids(reject)
    reject.add_argument("--reason", required=True, metavar="TEXT", help="1-1000 characters")
    _json(reject, _DECISION_JSON)
    cancel = _add(commands, "cancel", "cancel pending or approved actions (they become failed)")
    _ids(cancel)
    _json(cancel, _DECISION_JSON)

    completion = _add(commands, "completion", "print a shell completion script (see README)")
    completion.add_argument("shell", choices=SHELLS, help="one of: " + ", ".join(SHELLS))

    expire = _add(
        commands, "expire", "expire stale actions now, as the config's [expiry] says (for cron)"
    )
    _json(expire, "print the expired actions as a JSON array")

    notify = _add(commands, "notify", "send the config's [[notify]] notifications, until stopped")
    notify.add_argument(
        "--once", action="store_true", help="send what is waiting, then exit (for cron)"
    )

    copy_to = _add(
        commands,
        "copy-to",
        "copy servers, actions and the whole audit trail into an empty database",
    )
    copy_to.add_argument(
        "destination",
        type=not_empty,
        metavar="DEST_URL",
        help="the database to fill, e.g. postgresql://user:pass@host/db or sqlite:///path",
    )

    ssh_config = _add_executor(commands)
    preview_ssh_config = _add_preview(commands)
    if path_completion is not None:
        ssh_config.complete = path_completion  # type: ignore[attr-defined]  # read by shtab
        preview_ssh_config.complete = path_completion  # type: ignore[attr-defined]

    events = _add(commands, "events", "the audit trail, oldest first")
    events.add_argument(
        "--action", type=action_id, metavar="ID", dest="action_id", help="only this action's events"
    )
    events.add_argument("--since", type=since, metavar="ISO", help="e.g. 2026-11-27T10:00Z")
    fmt = events.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    return parser


def positive_seconds(text: str) -> float:
    """--timeout, --lease: seconds, more than 0 (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf") or value > 86400 * 7:
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {shown(text)}")
    return value


def positive_count(text: str) -> int:
    """--concurrency: a whole number from 1."""
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to 256, got {shown(text)}"
        )
    return int(text)


def _add_executor(commands: Any) -> argparse.Action:
    """The executor's options; returns --ssh-config (a file, for completion)."""
    executor = _add(commands, "executor", "carry out approved actions over SSH, each exactly once")
    executor.add_argument(
        "--once",
        action="store_true",
        help="run what is approved now, wait for those runs, and exit (for cron and tests)",
    )
    ssh_config = executor.add_argument(
        "--ssh-config",
        type=not_empty,
        metavar="FILE",
        help="ssh's -F file (default: the config key executor.ssh_config, else ssh's own)",
    )
    executor.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="each command's time limit (default 300, as HomelabCmd)",
    )
    executor.add_argument(
        "--lease",
        type=positive_seconds,
        metavar="SECONDS",
        help="heartbeat lease: renewed at a third of it; past it, runs are outcome unknown "
        "(default 60)",
    )
    executor.add_argument(
        "--concurrency",
        type=positive_count,
        metavar="N",
        help="commands running at once (default 4)",
    )
    executor.add_argument(
        "--name", metavar="NAME", help="this executor's name in events (default executor@HOST)"
    )
    executor.add_argument(
        "--json", action="store_true", help="log transitions as JSON lines on stderr"
    )
    return ssh_config


def _add_preview(commands: Any) -> argparse.Action:
    """`preview`'s options; returns --ssh-config (a file, for completion)."""
    preview = _add(
        commands, "preview", "take dry-run previews over SSH, for setups without an executor"
    )
    preview.add_argument(
        "action_ids",
        type=action_id,
        nargs="*",
        metavar="ID",
        help="these actions, now (default: every pending action whose preview is due)",
    )
    preview.add_argument(
        "--once", action="store_true", help="take what is due now, then exit (for cron)"
    )
    ssh_config = preview.add_argument(
        "--ssh-config",
        type=not_empty,
        metavar="FILE",
        help="ssh's -F file (default: the config key executor.ssh_config, else ssh's own)",
    )
    preview.add_argument(
        "--concurrency", type=positive_count, metavar="N", help="probes at once (default 4)"
    )
    return ssh_config


def _add(commands: Any, name: str, what: str) -> Parser:
    parser: Parser = commands.add_parser(name, help=what, description=what, allow_abbrev=False)
    return parser


def _id(parser: Parser) -> None:
    parser.add_argument("action_id", type=action_id, metavar="ID", help="the action's id")


def _ids(parser: Parser) -> None:
    parser.add_argument(
        "action_ids",
        type=action_id_or_stdin,
        nargs="+",
        metavar="ID",
        help="the actions' ids, each decided in its own transaction; '-' reads them from "
        "stdin: one per line, or the JSON array 'list --json' prints",
    )


def _json(parser: Parser, what: str = "print a JSON array instead of a table") -> None:
    parser.add_argument("--json", action="store_true", help=what)
