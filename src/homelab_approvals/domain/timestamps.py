"""Moments: the one clock, and the one way a moment is shown to people."""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from homelab_approvals.domain.damaged import DamagedTime, shown_moment

#: The clock: an aware UTC datetime. A partial, so a decision's clock reading is one C
#: call rather than a Python frame around one.
utcnow: Callable[[], datetime] = partial(datetime.now, UTC)


def utc_text(moment: datetime, *, seconds: bool = False, zone: bool = True) -> str:
    """ "2026-11-27 10:02 UTC": how the CLI, the console and the service's messages show
    a moment to people. `zone=False` where a column heading already says UTC. A damaged
    one (domain/damaged.py) shows as its stored text, marked."""
    layout = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if not isinstance(moment, DamagedTime):
        moment = moment.astimezone(UTC)
    return shown_moment(moment, layout + " UTC" if zone else layout)
