"""Service layer: every rule lives here, once. The CLI and the console are thin callers."""

from homelab_approvals.service.approvals import ApprovalService
from homelab_approvals.service.policy import Policy
from homelab_approvals.service.queries import ActionQuery

__all__ = ["ActionQuery", "ApprovalService", "Policy"]
