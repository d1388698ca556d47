"""`list`, `show ID`, `events` and `servers` without argparse, the commands, the service
or SQLAlchemy, when they can: main.py hands over what cli/fast.py did not take. A
command line of exactly this shape is read here:

    [--db PATH] [--config PATH] [--operator NAME] list [--status S]... [--server ID]
        [--type T] [--search TEXT] [--sort ORDER] [--limit N] [--offset N] [--json]
    [--db PATH] [--config PATH] [--operator NAME] show ID
    [--db PATH] [--config PATH] [--operator NAME] events [--action ID] [--since ISO]
        [--json | --csv]
    [--db PATH] [--config PATH] [--operator NAME] servers [--json]

(each option at most once but --status, in any order within its place, `--opt=value` or
`--opt value`, every value as argparse would take it; `show ID --json` is fast.py's). It
reads through service/fast_reading.py and prints through cli/pages.py, as the commands
do. Anything else (another option, a value starting with "-", a value argparse refuses, a
config or file the fast path cannot take, no such action) returns None with nothing
changed, and the ordinary path runs and words every error as always."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from homelab_approvals.cli.fast import GLOBALS, config_and_path, read_options
from homelab_approvals.cli.words import action_id_of, count_of, since_of
from homelab_approvals.domain.enums import ActionStatus, ActionType, SortOrder

if TYPE_CHECKING:
    from pathlib import Path

    from homelab_approvals.service.policy import Policy

#: Each command's options that take a value: the option -> its name in argparse's result.
_VALUED = {
    "list": {
        "--status": "statuses",
        "--server": "server_id",
        "--type": "action_type",
        "--search": "search",
        "--sort": "sort",
        "--limit": "limit",
        "--offset": "offset",
    },
    "show": {},
    "events": {"--action": "action_id", "--since": "since"},
    "servers": {},
}
#: Each command's flags (store_true); events' two are mutually exclusive.
_FLAGS = {"list": ("--json",), "show": (), "events": ("--json", "--csv"), "servers": ("--json",)}
#: The values argparse's `choices` allow.
_CHOICES = {
    "statuses": frozenset(s.value for s in ActionStatus),
    "action_type": frozenset(t.value for t in ActionType),
    "sort": frozenset(s.value for s in SortOrder),
}
_READERS: dict[str, Callable[[str], object]] = {
    "limit": count_of,
    "offset": count_of,
    "action_id": action_id_of,
    "since": since_of,
}


class ReadCall:
    """A read command line the fast path may take, as argparse would have read it:
    `values` holds the options given, by their name in argparse's result."""

    __slots__ = ("config", "db", "flags", "statuses", "values", "verb")

    def __init__(
        self, verb: str, globals_: dict[str, str], values: dict[str, object], flags: set[str]
    ) -> None:
        self.verb = verb
        self.db = globals_.get("db")
        self.config = globals_.get("config")
        self.statuses: list[str] = []
        self.values = values
        self.flags = flags


def parse_read(words: list[str]) -> ReadCall | None:
    """The command line, if it has a shape of the module's doc; None: argparse reads it."""
    globals_: dict[str, str] = {}
    at = read_options(words, 0, GLOBALS, globals_)
    if at is None or at >= len(words) or words[at] not in _VALUED:
        return None
    verb = words[at]
    call = ReadCall(verb, globals_, {}, set())
    positional: list[str] = []
    at += 1
    while at < len(words):
        word = words[at]
        if word in _FLAGS[verb] and word not in call.flags:
            call.flags.add(word)
            at += 1
        elif word.startswith("-"):
            given: dict[str, str] = {}
            after = read_options(words, at, _VALUED[verb], given, once=True)
            if after is None or not _take(call, given):
                return None
            at = after
        else:
            positional.append(word)
            at += 1
    if len(call.flags & {"--json", "--csv"}) > 1:
        return None  # argparse refuses both
    if verb != "show":
        return None if positional else call
    if len(positional) != 1:
        return None
    aid = action_id_of(positional[0])
    if aid is None:
        return None
    call.values["action_id"] = aid
    return call


def _take(call: ReadCall, given: dict[str, str]) -> bool:
    """Add the option just read to `call` as argparse would; False to let argparse judge."""
    ((name, word),) = given.items()
    if name in _CHOICES and word not in _CHOICES[name]:
        return False
    if name == "statuses":
        call.statuses.append(word)  # repeatable (argparse's append)
        return True
    if name in call.values:
        return False  # given twice: argparse keeps the last; leave it the case
    read = _READERS.get(name)
    value = word if read is None else read(word)
    if value is None:
        return False
    call.values[name] = value
    return True


def run_read(words: list[str]) -> int | None:
    """The exit status of the read command the words ask for, done the fast way; or
    None, with nothing printed: then the ordinary path runs."""
    call = parse_read(words)
    if call is None:
        return None
    found = config_and_path(call.config, call.db)
    if found is None:
        return None
    path, policy = found
    from homelab_approvals.domain.errors import ApprovalsError

    try:
        return _RUN[call.verb](call, path, policy)
    except ApprovalsError:
        return None  # a value the service refuses: the ordinary path words it


def _list(call: ReadCall, path: Path, policy: Policy | None) -> int | None:
    from homelab_approvals.cli.pages import write_list
    from homelab_approvals.service.fast_reading import list_file
    from homelab_approvals.service.listing import query_from_options

    values = call.values
    limit = _int(values.get("limit"))
    query = query_from_options(
        call.statuses,
        _text(values.get("server_id")),
        _text(values.get("action_type")),
        _text(values.get("search")),
        _text(values.get("sort")) or SortOrder.OLDEST.value,
        limit,
        _int(values.get("offset")) or 0,
    )
    as_json = "--json" in call.flags
    read = list_file(path, query, with_previews=as_json)
    if read is None:
        return None
    page, previews = read
    write_list(query, page, previews if as_json else None, limit_given=limit is not None)
    return 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _show(call: ReadCall, path: Path, policy: Policy | None) -> int | None:
    from homelab_approvals.cli.pages import write_show
    from homelab_approvals.service.fast_reading import show_page_file

    aid = _int(call.values.get("action_id"))
    shown = None if aid is None else show_page_file(path, aid, policy)
    if shown is None:
        return None
    write_show(*shown)
    return 0


def _events(call: ReadCall, path: Path, policy: Policy | None) -> int | None:
    from datetime import datetime

    from homelab_approvals.cli.pages import write_events
    from homelab_approvals.service.fast_reading import events_file

    since = call.values.get("since")
    rows = events_file(
        path,
        _int(call.values.get("action_id")),
        since if isinstance(since, datetime) else None,
    )
    if rows is None:
        return None
    write_events(rows, as_json="--json" in call.flags, as_csv="--csv" in call.flags)
    return 0


def _servers(call: ReadCall, path: Path, policy: Policy | None) -> int | None:
    from homelab_approvals.cli.pages import write_servers
    from homelab_approvals.service.fast_reading import servers_file

    rows = servers_file(path)
    if rows is None:
        return None
    write_servers(rows, as_json="--json" in call.flags)
    return 0


_RUN: dict[str, Callable[[ReadCall, Path, Policy | None], int | None]] = {
    "list": _list,
    "show": _show,
    "events": _events,
    "servers": _servers,
}
