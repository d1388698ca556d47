"""How a committed change is reported, shared by the commands (commands.py) and the fast
decision (fast.py), which must say exactly the same. Light: the fast decision loads it."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from homelab_approvals.cli.cells import server_cell, text
from homelab_approvals.cli.errors import EXIT_OK, OutputFailed, report_line

if TYPE_CHECKING:
    from homelab_approvals.domain.views import ActionView


def about(action: ActionView) -> str:
    """ "#12 restart nginx on Web One", made inert for the terminal: the server as `show`
    and `list` name it (its label; every action view the service returns carries it)."""
    return f"#{action.id} {text(action.summary)} on {server_cell(action)}"


def approved_line(action: ActionView, plan: str = "") -> str:
    """An approval's sentence; `plan`: the plan it was bound to, as "; plan ...", if any."""
    return f"approved {about(action)}{plan}"


def rejected_line(action: ActionView) -> str:
    return f"rejected {about(action)}: {text(action.rejection_reason)}"


def cancelled_line(action: ActionView) -> str:
    return f"cancelled {about(action)} (now {text(action.status)})"


def committed(write: Callable[[], None]) -> int:
    """Write the result of a change that is already committed. If stdout fails (a full
    disk, a closed stdout, a reader that left), the change still happened: exit 0, as
    the database says, so a script does not retry into CONFLICT. stderr says the result
    was lost, except for a broken pipe (its reader chose to leave: quiet, as usual)."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
    except OutputFailed as failure:  # from to_stdout(), stdout already discarded
        report_line(unprinted(failure.why))
    except (OSError, ValueError, AttributeError) as error:  # AttributeError: stdout is None
        discard_stdout()
        report_line(unprinted(_why(error)))
    return EXIT_OK


def unprinted(why: str, action_id: int | None = None) -> str:
    """The warning for a committed change whose result stdout did not take."""
    which = "" if action_id is None else f"action {action_id}: "
    return f"warning: {which}the change was committed, but its result could not be printed ({why})"


def to_stdout(text: str) -> None:
    """Write `text` on stdout. A full disk or a closed stdout raises OutputFailed (one
    line, exit 74) with stdout discarded; a reader that left stays a BrokenPipeError
    (quiet, as usual)."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except (OSError, ValueError, AttributeError) as error:  # AttributeError: stdout is None
        raise output_failed(error) from None


def flush_stdout() -> None:
    """Flush stdout (if it is open at all), as `to_stdout` reports its failures."""
    if sys.stdout is None:  # fd 1 was closed before we started: nothing was written
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        raise output_failed(error) from None


def output_failed(error: BaseException) -> OutputFailed:
    """`error`, met writing stdout, as the one-line OutputFailed; stdout is pointed at
    /dev/null first, so the interpreter's last flush cannot fail again."""
    discard_stdout()
    return OutputFailed(_why(error))


def _why(error: BaseException) -> str:
    return getattr(error, "strerror", None) or "stdout is closed"


def discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # AttributeError: sys.stdout is None when fd 1 was closed at start
