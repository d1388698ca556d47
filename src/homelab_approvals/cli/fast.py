"""`approve ID` without loading the commands, the service or SQLAlchemy, when it can.

A CLI approval spent most of its time importing. For one id, without --json or
--expect-preview, on a database file opened for writing, the approval is tried through
service/fast_approval.py (which says what it leaves to the service). Its result is the
sentence `approve` prints. None: nothing was changed, and the ordinary path runs."""

from __future__ import annotations

import argparse
import sys

from homelab_approvals.cli.results import approved_line, committed
from homelab_approvals.cli.session import Session
from homelab_approvals.domain.errors import ApprovalsError


def approve_fast(args: argparse.Namespace) -> int | None:
    """The exit status of `approve` done the fast way, or None: use the commands."""
    if args.command != "approve" or args.json or getattr(args, "expect_preview", None):
        return None
    words = args.action_ids
    if len(words) != 1 or not isinstance(words[0], int):  # several, or '-': the bulk path
        return None
    session = Session(args)
    try:
        session.actor  # noqa: B018  (resolved now: its refusal is the ordinary path's)
    except ApprovalsError:
        return None
    action = session.approve_fast(words[0])
    if action is None:
        return None
    line = approved_line(action)  # no plan was bound (see service/fast_approval.py)

    def write() -> None:
        sys.stdout.write(line + "\n")

    return committed(write)
