"""The team's rules in the console: two-person approval and per-type approvers (which
keys a row offers, and why not), expiry (swept on a timer, off the event loop), and what
the terminal shows of the queue (its title, and the bell on a new pending action).

The rules themselves are the service's (its Policy); this only asks them."""

from __future__ import annotations

from textual import work

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.domain.views import ActionPage, ActionView
from homelab_approvals.service.policy import Policy
from homelab_approvals.tui.console_part import ConsolePart
from homelab_approvals.tui.detail import DetailExtras

#: How often an open console expires stale actions (when the config has [expiry]).
EXPIRY_SWEEP_SECONDS = 30.0
TITLE = "homelab-approvals"
_DEFAULT = Policy()


class RulesMixin(ConsolePart):
    """The rules of ConsoleScreen (console.py), which mixes this in."""

    def __init__(self) -> None:
        super().__init__()
        self._sweeping = False
        self._last_pending: int | None = None

    @property
    def policy(self) -> Policy:
        if self.service is not None:
            return self.service.policy
        if self.deferred is not None:
            return self.deferred.policy
        return _DEFAULT

    def _start_rules(self) -> None:
        """On mount: teach the table the rules, and sweep expiry on a timer."""
        policy, table = self.policy, self.table
        if policy.voting_types:
            table.approvals_required = policy.approvals_required
        if policy.expires:
            table.expires_at = policy.expires_at
            every = getattr(self.app, "sweep_interval", EXPIRY_SWEEP_SECONDS)
            self.set_interval(every, self._sweep)

    # -- which keys a row offers -----------------------------------------------------------

    def _rule_refusal(self, verb: str, view: ActionView) -> str | None:
        """Why the rules keep `verb` ("approve", "reject") from this row, or None."""
        policy = self.policy
        if verb not in ("approve", "reject"):
            return None
        if not policy.rule(view.action_type).permits(self.actor):
            names = ", ".join(sorted(policy.rule(view.action_type).approvers or ()))
            return f"only {names} may approve or reject {view.action_type}"
        if verb == "approve":
            voters = self.page.votes.get(view.id, ()) if self.page is not None else ()
            if self.actor in voters:
                required = policy.approvals_required(view.action_type)
                return f"you approved it already ({len(voters)} of {required})"
        return None

    def _detail_extras(self, view: ActionView) -> DetailExtras | None:
        policy = self.policy
        if not (policy.rules or policy.expires):
            return None
        notes = []
        refusal = self._rule_refusal("reject", view)
        if refusal is not None:
            notes.append(f"a, r off: {refusal}")
        elif (refusal := self._rule_refusal("approve", view)) is not None:
            notes.append(f"a off: {refusal}")
        voters = self.page.votes.get(view.id, ()) if self.page is not None else ()
        return DetailExtras(
            policy.approvals_required(view.action_type),
            voters,
            policy.expires_at(view),
            tuple(notes),
        )

    # -- the queue in the terminal: title and bell -----------------------------------------

    def _show_queue(self, page: ActionPage, *, same_view: bool, arrived: bool) -> None:
        """After a window is applied: the terminal title, and the bell when a new action
        started waiting (the pending count rose, or a pending row arrived live)."""
        pending = page.pending
        risen = self._last_pending is not None and pending > self._last_pending
        if same_view and (risen or arrived):
            ring = getattr(self.app, "ring_for_pending", None)
            if ring is not None:
                ring()
        self._last_pending = pending
        scope = " (filtered)" if self.view_query.narrowed else ""
        set_title = getattr(self.app, "set_terminal_title", None)
        if set_title is not None:
            set_title(f"{TITLE} · {pending:,} pending{scope}")

    # -- expiry ----------------------------------------------------------------------------

    def _sweep(self) -> None:
        if self._sweeping or self.service is None or self.read_only_reason:
            return
        self._sweeping = True
        self._expire()

    @work(thread=True, group="expiry", exit_on_error=False)
    def _expire(self) -> None:
        try:
            self._opened_service().expire()
        except ApprovalsError:
            pass  # a locked or read-only database: the next sweep tries again
        finally:
            self._sweeping = False
