"""Which probe previews an action. No SQLAlchemy: the CLI's fast approval
(fast_approval.py) asks it too."""

from __future__ import annotations

from homelab_approvals.domain import validation
from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.domain.probes import Probe, probe_for
from homelab_approvals.domain.views import ActionView


def probe_of(action: ActionView) -> Probe | None:
    """The action's probe, from its type and validated unit name only (never the row's
    command). A unit name that fails validation gets no probe."""
    unit = action.service_name
    if unit is not None:
        try:
            unit = validation.unit_name(unit)
        except ValidationError:
            return None
    return probe_for(action.action_type, unit)
