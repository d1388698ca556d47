"""A stored preview as the service hands it out. No SQLAlchemy: the CLI's fast decision
(cli/fast.py, with --json) shows the newest preview the way `show --json` does."""

from __future__ import annotations

import json

from homelab_approvals.domain.plans import PlanFormatError, plan_from_json
from homelab_approvals.domain.previews import PreviewView
from homelab_approvals.storage.preview_rows import PreviewRow


def to_preview_view(row: PreviewRow) -> PreviewView:
    plan = None
    error = row.error
    if row.plan is not None:
        try:
            plan = plan_from_json(json.loads(row.plan))
        except (ValueError, PlanFormatError):
            error = "the stored plan cannot be read by this version"
    return PreviewView(
        row.action_id,
        row.taken_at,
        row.probe_command,
        row.exit_code,
        row.output,
        error,
        plan,
        row.digest if plan is not None else None,
    )
