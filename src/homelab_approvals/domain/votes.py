"""Two-person approval, as the audit trail records it.

A vote that does not complete the quorum leaves the action `pending`: it is an
`action_events` row from `pending` to `pending` by the voter (no other transition has
that shape: creation comes from nothing). The vote that completes it is the ordinary
`pending -> approved` event, and `approved_by` names that person."""

VOTE_FROM = "pending"
VOTE_TO = "pending"


def vote_reason(count: int, required: int) -> str:
    """The reason on a vote's event: "approval 1 of 2"."""
    return f"approval {count} of {required}"


def waiting_line(count: int, required: int) -> str:
    """ "1 of 2 approvals; waiting for another approver" (or "for 2 more approvers")."""
    missing = required - count
    more = "another approver" if missing == 1 else f"{missing} more approvers"
    return f"{count} of {required} approvals; waiting for {more}"
