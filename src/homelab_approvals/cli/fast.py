"""`approve|reject|cancel ID` and `show ID --json` without argparse, the commands, the
service or SQLAlchemy, when it can.

A CLI decision spent most of its start-up importing. So before anything else, main.py
hands the words here. A command line of exactly this shape is decided here:

    [--db PATH] [--config PATH] [--operator NAME] approve|cancel ID [--json]
    [--db PATH] [--config PATH] [--operator NAME] reject ID --reason TEXT [--json]
    [--db PATH] [--config PATH] [--operator NAME] show ID --json

(each option at most once, in any order within its place, `--opt=value` or `--opt
value`). It reads the config only when there is one with something in it, and decides
through service/fast_approval.py, which says what it leaves to the service. With --json
it prints what `show --json` would (the approvals and the newest preview read under the
decision's lock). Anything else (another option, several ids, a value starting with "-",
a config, actor or file the fast path cannot take) returns None with nothing changed,
and the ordinary path (argparse, the commands, the service) runs and words every error
as always."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from homelab_approvals.cli.words import action_id_of

if TYPE_CHECKING:
    from pathlib import Path

    from homelab_approvals.service.policy import Policy
    from homelab_approvals.storage.decided import Decided

#: The global options the fast path takes, by their attribute name in argparse's result.
GLOBALS = {"--db": "db", "--config": "config", "--operator": "operator"}
_VERBS = ("approve", "reject", "cancel", "show")


class FastCall:
    """A command line the fast path may take, as argparse would have read it."""

    __slots__ = ("action_id", "config", "db", "json", "operator", "reason", "verb")

    def __init__(self, verb: str, action_id: int, options: dict[str, str]) -> None:
        self.verb = verb
        self.action_id = action_id
        self.json = "json" in options
        self.reason = options.get("reason")
        self.db = options.get("db")
        self.config = options.get("config")
        self.operator = options.get("operator")


def parse(words: list[str]) -> FastCall | None:
    """The command line, if it has the fast path's shape (see the module's doc); None
    means: let argparse read it."""
    options: dict[str, str] = {}
    at = read_options(words, 0, GLOBALS, options)
    if at is None or at >= len(words) or words[at] not in _VERBS:
        return None
    verb = words[at]
    ids: list[str] = []
    at += 1
    wanted = {"--reason": "reason"} if verb == "reject" else {}
    while at < len(words):
        if words[at] == "--json" and "json" not in options:
            options["json"] = ""
            at += 1
        elif words[at].startswith("-"):
            after = read_options(words, at, wanted, options, once=True)
            if after is None:
                return None
            at = after
        else:
            ids.append(words[at])
            at += 1
    if len(ids) != 1 or (verb == "reject") != ("reason" in options):
        return None
    if verb == "show" and "json" not in options:
        return None  # show's page (events, the bound plan): the commands print it
    action_id = action_id_of(ids[0])
    return None if action_id is None else FastCall(verb, action_id, options)


def read_options(
    words: list[str], at: int, known: dict[str, str], into: dict[str, str], *, once: bool = False
) -> int | None:
    """Read `--opt value` / `--opt=value` words of `known` from `at` into `into`; the
    index of the first other word, or None for anything argparse should judge."""
    while at < len(words) and words[at].startswith("-"):
        name, equals, value = words[at].partition("=")
        key = known.get(name)
        if key is None or key in into:
            return None
        if not equals:
            at += 1
            if at == len(words):
                return None
            value = words[at]
        if not value or value.startswith("-"):
            return None  # argparse refuses these, or reads them its own way
        into[key] = value
        at += 1
        if once:
            break
    return at


def run_fast(words: list[str]) -> int | None:
    """The exit status of the decision (or `show --json`) the words ask for, done the
    fast way; or None, with nothing changed: then the ordinary path runs."""
    call = parse(words)
    if call is None:
        return None
    found = config_and_path(call.config, call.db)
    if found is None:
        return None
    path, policy = found
    if call.verb == "show":
        return _show(path, call.action_id, policy)
    return _decide(call, path, policy)


def config_and_path(config: str | None, db: str | None) -> tuple[Path, Policy | None] | None:
    """The database file (--db, else as always) and the config's policy, None meaning the
    defaults (no file, or nothing in it); or None when the ordinary path must judge the
    config (one named but missing, or wrong) or the path, and word why."""
    from homelab_approvals.domain.errors import ApprovalsError
    from homelab_approvals.service.config_file import (
        CONFIG_ENV,
        is_blank,
        read_bounded,
        resolve_config_path,
    )
    from homelab_approvals.storage.paths import resolve_db_path

    try:
        config_path = resolve_config_path(config)
        raw = read_bounded(config_path)
        if raw is None and (config or os.environ.get(CONFIG_ENV)):
            return None  # the ordinary path refuses it, in its words
        path = resolve_db_path(db)
        if raw is None or is_blank(raw):
            return path, None
        from homelab_approvals.service.config import config_from_bytes

        return path, config_from_bytes(raw, config_path).policy
    except ApprovalsError:
        return None  # the ordinary path says it in its words


def _decide(call: FastCall, path: Path, policy: Policy | None) -> int | None:
    from homelab_approvals.cli.results import (
        approved_line,
        cancelled_line,
        committed,
        rejected_line,
    )
    from homelab_approvals.domain.errors import ApprovalsError
    from homelab_approvals.service.fast_approval import decide_file
    from homelab_approvals.service.identity import resolve_actor

    try:
        actor = resolve_actor(call.operator)
    except ApprovalsError:
        return None  # the ordinary path says it in its words
    decided = decide_file(
        path, call.verb, call.action_id, actor, policy, call.reason, with_show=call.json
    )
    if decided is None:
        return None
    action = decided.view
    if call.json:
        shown = _shown_json(decided, policy)

        def write() -> None:
            from homelab_approvals.cli.output import write_json

            write_json(shown)

        return committed(write)
    if call.verb == "approve":
        line = approved_line(action)  # no plan was bound (see service/fast_approval.py)
    elif call.verb == "reject":
        line = rejected_line(action)
    else:
        line = cancelled_line(action)

    def write_line() -> None:
        sys.stdout.write(line + "\n")

    return committed(write_line)


def _show(path: Path, action_id: int, policy: Policy | None) -> int | None:
    """`show ID --json`, read without SQLAlchemy; None: the commands show it."""
    from homelab_approvals.cli.output import write_json
    from homelab_approvals.service.fast_approval import show_file

    shown = show_file(path, action_id)
    if shown is None:
        return None
    write_json(_shown_json(shown, policy))
    return 0


def _shown_json(decided: Decided, policy: Policy | None) -> dict[str, object]:
    """What `show --json` prints for the action (a decision's --json result, too)."""
    from homelab_approvals.cli.output import shown_json
    from homelab_approvals.domain.views import ApprovalTally
    from homelab_approvals.service.policy import Policy
    from homelab_approvals.service.preview_views import to_preview_view

    view = decided.view
    required = (policy or Policy()).approvals_required(view.action_type)
    preview = None if decided.preview is None else to_preview_view(decided.preview)
    return shown_json(view, ApprovalTally(required, decided.approvals), preview)
