"""`[preview]` as the service uses it. Its own module, without SQLAlchemy: the config is
read on the console's first-screen path (service/config.py)."""

from dataclasses import dataclass
from datetime import timedelta

from homelab_approvals.domain.probes import Probe


@dataclass(frozen=True, slots=True)
class PreviewSettings:
    """`[preview]` in the config file."""

    #: Take previews at all.
    enabled: bool = True
    #: A plan that grew since the approval stops the run (False: recorded and shown only).
    bind: bool = True
    #: A pending action's preview older than this is taken again.
    max_age: timedelta = timedelta(minutes=15)
    #: Each probe's timeout; unattended-upgrade's dry run downloads, so it has its own.
    timeout: float = 30.0
    security_timeout: float = 300.0

    def timeout_for(self, probe: Probe) -> float:
        return self.security_timeout if probe.slow else self.timeout
