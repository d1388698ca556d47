"""Who is acting: --operator if given, otherwise the OS account name."""

import os

from homelab_approvals.domain import validation


def resolve_actor(operator: str | None) -> str:
    if operator is not None:
        return validation.actor(operator)
    import getpass  # only here: the CLI's fast decision with --operator does without it

    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        name = str(os.getuid())
    return validation.actor(name)
