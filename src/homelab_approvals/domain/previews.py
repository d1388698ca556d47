"""A stored preview as the service hands it out, with what the CLI and console show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homelab_approvals.domain.plans import (
    Plan,
    plan_lines,
    plan_summary,
    plan_to_json,
    plan_warnings,
)
from homelab_approvals.domain.probes import probe_for

#: What the console and `show` say for an action whose type has no probe.
NO_PROBE = "no preview for this action"
NO_PREVIEW_YET = "no preview yet"
NO_PREVIEW_TAKEN = "no preview was taken"
#: The action types whose plans can remove packages or install a new kernel.
WARNED_TYPES = frozenset({"apt_upgrade_all"})


@dataclass(frozen=True, slots=True)
class PreviewView:
    action_id: int
    taken_at: datetime
    probe_command: str
    exit_code: int | None
    #: The probe's output as stored (capped at 10,000 characters).
    output: str | None
    #: Why there is no plan: ssh's or the probe's own words. None when the plan was read.
    error: str | None
    plan: Plan | None
    digest: str | None

    @property
    def summary(self) -> str:
        if self.plan is not None:
            return plan_summary(self.plan)
        return f"no plan: {self.error or 'the probe gave no output'}"

    @property
    def lines(self) -> list[str]:
        return plan_lines(self.plan) if self.plan is not None else []

    @property
    def warnings(self) -> list[str]:
        return plan_warnings(self.plan) if self.plan is not None else []

    def to_json(self) -> dict[str, Any]:
        """`preview` in `show --json` and `list --json`."""
        return {
            "taken_at": self.taken_at.isoformat(),
            "exit_code": self.exit_code,
            "summary": self.summary,
            "plan": plan_to_json(self.plan) if self.plan is not None else None,
            "digest": self.digest,
            "error": self.error,
        }


def preview_headline(
    action_type: str,
    service_name: str | None,
    preview: PreviewView | None,
    status: str = "pending",
) -> str:
    """The one line every surface shows first: the plan's summary, why there is none,
    "no preview yet" (while pending), "no preview was taken" (decided without one), or
    "no preview for this action" (apt_update)."""
    if preview is not None:
        return preview.summary
    if probe_for(action_type, service_name or "unit") is None:
        return NO_PROBE
    return NO_PREVIEW_YET if status == "pending" else NO_PREVIEW_TAKEN


def short_digest(digest: str | None) -> str:
    """The first 12 hex digits, as shown next to a plan; scripts get the whole digest."""
    return digest[:12] if digest else "-"
