"""How a committed change is reported, shared by the commands (commands.py) and the fast
approval (fast.py), which must say exactly the same."""

from __future__ import annotations

import sys
from collections.abc import Callable

from homelab_approvals.cli import output
from homelab_approvals.cli.errors import EXIT_OK, report_line
from homelab_approvals.cli.output import text
from homelab_approvals.domain.views import ActionView


def about(action: ActionView) -> str:
    """ "#12 restart nginx on Web One", made inert for the terminal: the server as `show`
    and `list` name it (its label; every action view the service returns carries it)."""
    return f"#{action.id} {text(action.summary)} on {output.server_cell(action)}"


def approved_line(action: ActionView, plan: str = "") -> str:
    """An approval's sentence; `plan`: the plan it was bound to, as "; plan ...", if any."""
    return f"approved {about(action)}{plan}"


def committed(write: Callable[[], None]) -> int:
    """Write the result of a change that is already committed. If stdout fails (a full
    disk, a closed stdout, a reader that left), the change still happened: exit 0, as
    the database says, so a script does not retry into CONFLICT. stderr says the result
    was lost, except for a broken pipe (its reader chose to leave: quiet, as usual)."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        output.discard_stdout()
    except (OSError, ValueError, AttributeError) as error:  # AttributeError: stdout is None
        output.discard_stdout()
        why = getattr(error, "strerror", None) or "stdout is closed"
        report_line(
            f"warning: the change was committed, but its result could not be printed ({why})"
        )
    return EXIT_OK
