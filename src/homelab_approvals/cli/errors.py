"""Exit codes and the one-line error report. Scripts depend on both, so they live in one place."""

from __future__ import annotations

import sys
from typing import TextIO

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.domain.text import visible

EXIT_OK = 0
EXIT_ERROR = 1  # unexpected, or the database failed (DATABASE_ERROR, DATABASE_BUSY)
EXIT_INVALID = 2  # usage, VALIDATION_ERROR, CONFIG_ERROR
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_FORBIDDEN = 5
#: stdout could not be written (a full disk, a closed stdout): the output is lost, nothing
#: was changed. sysexits.h's EX_IOERR.
EXIT_OUTPUT = 74
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C

#: Error code -> exit status. Anything not listed (DATABASE_*, INTERNAL...) exits 1.
EXIT_CODES: dict[str, int] = {
    "USAGE": EXIT_INVALID,
    "VALIDATION_ERROR": EXIT_INVALID,
    "CONFIG_ERROR": EXIT_INVALID,
    "NOT_FOUND": EXIT_NOT_FOUND,
    "CONFLICT": EXIT_CONFLICT,
    "FORBIDDEN": EXIT_FORBIDDEN,
    "OUTPUT": EXIT_OUTPUT,
    "INTERRUPTED": EXIT_INTERRUPTED,
}


class UsageError(ApprovalsError):
    """The command line itself is wrong: unknown option, bad choice, malformed value."""

    code = "USAGE"


class InternalError(ApprovalsError):
    """An exception we did not expect: reported in one line, never as a traceback."""

    code = "INTERNAL"


class Interrupted(ApprovalsError):
    code = "INTERRUPTED"


class OutputFailed(ApprovalsError):
    """stdout cannot be written (a full disk, a closed stdout): what a read command printed
    is lost. (A change already committed is reported as committed instead: results.py.)"""

    code = "OUTPUT"

    def __init__(self, why: str) -> None:
        super().__init__(f"cannot write to stdout: {why}")
        self.why = why


def exit_code_for(code: str) -> int:
    return EXIT_CODES.get(code, EXIT_ERROR)


def report(error: ApprovalsError, *, as_json: bool) -> int:
    """Write `error: CODE: message` as one line on stderr (and, for --json, the error object
    on stdout, so a script reading stdout always gets JSON); return the exit status."""
    # The message may quote database text or user input: make it inert and single-line.
    message = visible(error.message)
    if as_json:
        import json  # only here: the fast decision loads this module

        payload = {"error": {"code": error.code, "message": error.message}}
        _write(sys.stdout, json.dumps(payload, ensure_ascii=True) + "\n")
    _write(sys.stderr, f"error: {error.code}: {message}\n")
    return exit_code_for(error.code)


def report_line(line: str) -> None:
    """One inert line on stderr, if stderr works at all."""
    _write(sys.stderr, visible(line) + "\n")


def _write(stream: TextIO, text: str) -> None:
    # The reader may be gone (a closed pipe); the exit status still tells the story.
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError, AttributeError):  # AttributeError: None when fd 2 was closed
        pass
