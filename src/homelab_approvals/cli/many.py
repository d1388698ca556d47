"""approve / reject / cancel with several ids, or '-' for ids on stdin.

Each id is decided in its own transaction by the service's bulk path; one refusal never
stops the rest. The whole input is read and checked before anything is decided, so a
malformed line changes nothing (exit 2). One id on the command line keeps the single-id
output exactly (a sentence, or one JSON object); several ids, or '-', print one line per
id, or with --json one JSON array: per id its action, or `{"id": N, "error": {...}}`."""

from __future__ import annotations

import json
from argparse import ArgumentTypeError
from collections.abc import Callable, Sequence
from typing import TextIO

from homelab_approvals.cli.errors import (
    EXIT_CONFLICT,
    EXIT_ERROR,
    EXIT_FORBIDDEN,
    EXIT_INVALID,
    EXIT_NOT_FOUND,
    EXIT_OK,
    OutputFailed,
    UsageError,
    exit_code_for,
    report,
    report_line,
)
from homelab_approvals.cli.output import write_json
from homelab_approvals.cli.parser import STDIN, action_id, shown
from homelab_approvals.cli.results import discard_stdout, flush_stdout, to_stdout, unprinted
from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.domain.views import ActionView

#: Exit statuses from most to least severe: a batch exits with the worst it met.
SEVERITY = (EXIT_ERROR, EXIT_FORBIDDEN, EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_INVALID)
#: More than any 'list --json' a person would pipe (1,000 rows are about 1 MB).
MAX_STDIN_BYTES = 64 * 1024 * 1024
_SHOWN_CHARS = 40


def is_batch(words: Sequence[int | str]) -> bool:
    """Several ids, or '-': the batch output (a list). One id keeps the single output."""
    return len(words) != 1 or words[0] == STDIN


def ids_from(words: Sequence[int | str], stdin: TextIO | None) -> list[int]:
    """The ids the command line names, with '-' replaced by those read from stdin."""
    if STDIN not in words:
        return [word for word in words if isinstance(word, int)]
    if len(words) > 1:
        raise UsageError("'-' reads the ids from stdin and cannot be mixed with ids")
    return parse_ids(_read(stdin))


def _read(stdin: TextIO | None) -> str:
    try:
        data = stdin.buffer.read(MAX_STDIN_BYTES + 1) if stdin is not None else b""
    except (AttributeError, OSError, ValueError) as failure:  # no stdin, or a closed one
        raise UsageError(f"cannot read the ids from stdin: {failure}") from None
    if len(data) > MAX_STDIN_BYTES:
        raise UsageError(f"stdin holds more than {MAX_STDIN_BYTES // 2**20} MiB; send fewer ids")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("stdin is not UTF-8 text") from None


def parse_ids(text: str) -> list[int]:
    """One id per line (`12` or `#12`; blank lines skipped), or a JSON array as
    'list --json' prints it (objects with an integer `id`; bare integers also do)."""
    if text.lstrip().startswith(("[", "{")):
        return _json_ids(text)
    ids = []
    for number, line in enumerate(text.splitlines(), start=1):
        word = line.strip()
        if not word:
            continue
        try:
            ids.append(action_id(word))
        except ArgumentTypeError as refusal:  # worded as for an id on the command line
            raise UsageError(f"stdin line {number}: {refusal}") from None
    return ids


def _json_ids(text: str) -> list[int]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError(
            "stdin starts like JSON but is not valid JSON; expected the array 'list --json' "
            "prints, or one id per line"
        ) from None
    if not isinstance(document, list):
        raise UsageError(
            "stdin holds a JSON object, not an array; expected the array 'list --json' prints"
            + (" (the command before failed)" if _is_error(document) else "")
        )
    ids = []
    for index, item in enumerate(document):
        value = item.get("id") if isinstance(item, dict) else item
        # bool is an int in Python, and `true` is no id.
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            try:
                ids.append(action_id(str(value)))
                continue
            except ArgumentTypeError:  # past 2**63-1: worded below like any other bad id
                pass
        raise UsageError(
            f"stdin item {index}: expected an action with an integer 'id' "
            f"(as 'list --json' prints), got {_clip(json.dumps(item, ensure_ascii=True))}"
        )
    return ids


def _is_error(document: object) -> bool:
    return isinstance(document, dict) and "error" in document


def _clip(text: str) -> str:
    clipped = text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
    return shown(clipped)


def worst(codes: Sequence[int]) -> int:
    """0 when every id succeeded, else the most severe status met: 1 > 5 > 4 > 3 > 2."""
    for code in SEVERITY:
        if code in codes:
            return code
    return max(codes, default=EXIT_OK)


def report_batch(
    outcomes: dict[int, ActionView | ApprovalsError],
    sentence: Callable[[ActionView], str],
    as_object: Callable[[ActionView], dict[str, object]],
    *,
    as_json: bool,
) -> int:
    """Print one line (or one JSON item) per id, in order; return the batch's exit status.

    The changes are committed by now: when stdout cannot take their results (a full disk,
    a closed stdout), each committed id is named on stderr with a warning and the status
    stays what the database said, as for one id (results.committed)."""
    codes: list[int] = []
    items: list[dict[str, object]] = []
    out = _Stdout()
    for aid, outcome in outcomes.items():
        if isinstance(outcome, ApprovalsError):
            codes.append(exit_code_for(outcome.code))
            if as_json:
                error = {"code": outcome.code, "message": outcome.message}
                items.append({"id": aid, "error": error})
                report(outcome, as_json=False)  # the stderr line, as for one id
            else:
                out.run(flush_stdout)  # keep the lines in order on a shared terminal
                report(outcome, as_json=False)
        elif as_json:
            items.append(as_object(outcome))
        else:
            out.run(to_stdout, sentence(outcome) + "\n")
    if as_json:
        out.run(write_json, items)
    out.run(flush_stdout)
    if out.lost:  # which of them reached stdout is unknown: each is named
        for aid, outcome in outcomes.items():
            if not isinstance(outcome, ApprovalsError):
                report_line(unprinted(out.lost, aid))
    return worst(codes)


class _Stdout:
    """Writes to stdout until it fails once; then remembers why (`lost`), or "" when the
    reader left (a broken pipe: quiet, as usual), and writes nothing more."""

    def __init__(self) -> None:
        self.failed = False
        self.lost = ""

    def run(self, write: Callable[..., None], *args: object) -> None:
        if self.failed:
            return
        try:
            write(*args)
        except OutputFailed as failure:  # stdout is discarded already
            self.failed, self.lost = True, failure.why
        except BrokenPipeError:
            discard_stdout()
            self.failed = True
