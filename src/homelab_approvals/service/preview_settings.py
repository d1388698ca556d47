"""`[preview]` as the service uses it, and what an approval binds. Their own module,
without SQLAlchemy: the config and the CLI are loaded on the console's first-screen path."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class PlanCheck:
    """What an approval binds. `seen`: the digest the approver was shown (None: no plan
    was shown); a different current plan refuses the approval. `current`: bind whatever
    the newest preview holds (the CLI without --expect-preview)."""

    seen: str | None = None
    current: bool = False

    @classmethod
    def bind_current(cls) -> PlanCheck:
        return cls(current=True)

    @classmethod
    def expect(cls, digest: str | None) -> PlanCheck:
        return cls(seen=digest)
