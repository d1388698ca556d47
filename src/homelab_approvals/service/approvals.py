"""The approval service: atomic transitions, creation, servers, queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, distinct, func, insert, or_, select, update
from sqlalchemy.sql.expression import Executable, Select, Update

from homelab_approvals.domain import validation
from homelab_approvals.domain.cancelling import (
    CANCELLED_EVENT_REASON,
    CANCELLED_EXIT_CODE,
    CANCELLED_STDERR,
)
from homelab_approvals.domain.commands import command_for
from homelab_approvals.domain.enums import CANCELLABLE, DECIDABLE, ActionStatus, ActionType
from homelab_approvals.domain.errors import (
    ActionNotFound,
    InvalidTransition,
    PermissionDenied,
    ValidationError,
)
from homelab_approvals.domain.timestamps import utc_text, utcnow
from homelab_approvals.domain.views import (
    ActionPage,
    ActionView,
    Approval,
    ApprovalTally,
    EventView,
)
from homelab_approvals.domain.votes import VOTE_FROM, VOTE_TO, vote_reason
from homelab_approvals.service.bulk import BulkOps
from homelab_approvals.service.decision_events import event_origin
from homelab_approvals.service.expiry import ExpiryOps
from homelab_approvals.service.listing import event_parameters, page_of
from homelab_approvals.service.notifications import NotifyOps
from homelab_approvals.service.policy import Policy
from homelab_approvals.service.preview_settings import PlanCheck, PreviewSettings
from homelab_approvals.service.previews import PreviewOps, bind_plan
from homelab_approvals.service.queries import (
    ACTION_COLUMNS,
    ROW_QUERY,
    ActionQuery,
    counts_statement,
    rows_statement,
    storable_id,
    to_view,
)
from homelab_approvals.service.servers import ServerOps
from homelab_approvals.storage import Database, WriteTransaction
from homelab_approvals.storage.execution_tables import event_has_command
from homelab_approvals.storage.tables import ActionEvent as E
from homelab_approvals.storage.tables import RemediationAction as A
from homelab_approvals.storage.tables import Server as S

AUTO_APPROVER = "auto"
_DECIDERS_KEPT = 64  # operator names remembered as allowed (see ApprovalService._decider)
_PENDING = ActionStatus.PENDING.value
_APPROVED = ActionStatus.APPROVED.value

# Statements are built once: on the hot path SQLAlchemy then only binds and executes.
# The transitions have no RETURNING: SQLite's costs more than reading the row back by its
# primary key in the same transaction (_ONE_ACTION), see _transition.
_APPROVE = (
    update(A)
    .where(A.id == bindparam("aid"), A.status == _PENDING)
    .values(status=_APPROVED, approved_at=bindparam("at"), approved_by=bindparam("actor"))
)
_APPROVE_NOT_OWN = _APPROVE.where(A.created_by != bindparam("actor"))
_REJECT = (
    update(A)
    .where(A.id == bindparam("aid"), A.status == _PENDING)
    .values(
        status=ActionStatus.REJECTED.value,
        rejected_at=bindparam("at"),
        rejected_by=bindparam("actor"),
        rejection_reason=bindparam("reason"),
    )
)
_CANCEL = (
    update(A)
    .where(A.id == bindparam("aid"), A.status.in_(sorted(CANCELLABLE)))
    .values(
        status=ActionStatus.FAILED.value,
        completed_at=bindparam("at"),
        exit_code=CANCELLED_EXIT_CODE,
        stderr=CANCELLED_STDERR,
    )
)
_EVENT = insert(E).values(
    action_id=bindparam("aid"),
    from_status=bindparam("from_status"),
    to_status=bindparam("to_status"),
    actor=bindparam("actor"),
    at=bindparam("at"),
    reason=bindparam("reason"),
    command=bindparam("command"),
)
# One action with its server's label and pause state: `get_action`, and a decision's result.
_ONE_ACTION = ROW_QUERY.where(A.id == bindparam("aid"))
_PAST = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}
_CURRENT = select(*ACTION_COLUMNS).where(A.id == bindparam("aid"))
_IS_VOTE = and_(E.from_status == VOTE_FROM, E.to_status == VOTE_TO)
# The votes so far, and whether `actor` cast one: read under the decision's write lock.
_VOTES = select(
    func.count(distinct(E.actor)), func.max(case((E.actor == bindparam("actor"), 1), else_=0))
).where(E.action_id == bindparam("aid"), _IS_VOTE)
# The vote completing the quorum: the approval itself checks the count of the others'
# votes, so two last votes racing cannot both approve (nor can one count stale votes).
_APPROVE_QUORUM = _APPROVE.where(
    select(func.count(distinct(E.actor)))
    .where(E.action_id == A.id, _IS_VOTE, E.actor != bindparam("actor"))
    .scalar_subquery()
    >= bindparam("others")
)
# FOR UPDATE (nothing on SQLite, whose BEGIN IMMEDIATE already serialises writers): on
# other databases two voters on one action queue here, so each counts the other's vote.
_LOCK_ACTION = select(A.id).where(A.id == bindparam("aid")).with_for_update()
_APPROVALS = (
    select(E.actor, E.at)
    .where(
        E.action_id == bindparam("aid"),
        E.from_status == _PENDING,
        or_(E.to_status == _PENDING, E.to_status == _APPROVED),
        E.actor != AUTO_APPROVER,
    )
    .order_by(E.id)
)
_LAST_EVENT = (
    select(E.actor, E.at, E.to_status)
    .where(E.action_id == bindparam("aid"))
    .order_by(E.id.desc())
    .limit(1)
)


def events_statement(columns: Iterable[Any], values: dict[str, object]) -> Select[Any]:
    """The audit trail, oldest first: of one action (`aid` in `values`), from a moment on
    (`since`), or both; the values are bound by name at execution (the CLI's fast read
    runs this statement rendered, with the same values)."""
    where = []
    if "aid" in values:
        where.append(E.action_id == bindparam("aid"))
    if "since" in values:
        where.append(E.at >= bindparam("since"))
    return select(*columns).order_by(E.id).where(and_(True, *where))


EVENT_COLUMNS = tuple(E.__table__.c)


def format_when(moment: datetime | None) -> str:
    return utc_text(moment) if moment else "an unknown time"


def _excluding(stmt: Update, types: frozenset[str]) -> Update:
    """`stmt` for every action type but these (constants, so it stays one compiled
    statement): the types a rule governs take the slow path, the rest stay as fast."""
    if not types:
        return stmt
    return stmt.where(and_(*(A.action_type != t for t in sorted(types))))


class ApprovalService(ServerOps, BulkOps, ExpiryOps, NotifyOps, PreviewOps):
    """Every rule, written once. Thread-safe; each call is its own transaction."""

    def __init__(
        self,
        db: Database,
        policy: Policy | None = None,
        clock: Callable[[], datetime] = utcnow,
        preview_settings: PreviewSettings | None = None,
    ) -> None:
        self.db = db
        self.policy = policy = policy or Policy()
        self.clock = clock
        self._events_have_command: bool | None = None
        self.preview_settings = preview_settings or PreviewSettings()
        # With no [rules], these are the module's statements: the hot path is unchanged.
        # Otherwise the types a rule governs are left out of them, and an UPDATE that
        # matches nothing because of that is worked out in `_held_back`.
        plain_approve = _APPROVE if policy.allow_self_approval else _APPROVE_NOT_OWN
        self._approve_stmt = _excluding(plain_approve, policy.voting_types | policy.narrowed_types)
        self._reject_stmt = _excluding(_REJECT, policy.narrowed_types)
        #: Operator names as given -> (the policy that let them decide, the name as
        #: validated): an operator decides many times, and the checks were five Python
        #: calls of each decision.
        self._deciders: dict[str, tuple[Policy, str]] = {}

    # -- decisions -------------------------------------------------------------------------

    def approve(self, action_id: int, actor: str, *, plan: PlanCheck | None = None) -> ActionView:
        """`plan`: bind the approval to the plan its approver saw (service/previews.py);
        refused (CONFLICT) when the action's preview now holds another plan."""
        actor = self._decider(actor)
        aid = self._stored_id(action_id)
        return self._transition(self._approve_stmt, aid, actor, "approve", DECIDABLE, plan=plan)

    def reject(self, action_id: int, actor: str, reason: str | None) -> ActionView:
        actor = self._decider(actor)
        aid = self._stored_id(action_id)
        clean = validation.rejection_reason(reason)
        return self._transition(self._reject_stmt, aid, actor, "reject", DECIDABLE, clean)

    def cancel(self, action_id: int, actor: str) -> ActionView:
        actor = self._decider(actor)
        aid = self._stored_id(action_id)
        return self._transition(_CANCEL, aid, actor, "cancel", CANCELLABLE, CANCELLED_EVENT_REASON)

    def may_decide(self, actor: str) -> bool:
        return self.policy.may_decide(actor)

    def _stored_id(self, action_id: int) -> int:
        """A valid id; ActionNotFound when it is past what this database can hold."""
        aid = storable_id(self.db, action_id)  # validates it (ValidationError)
        if aid is None:
            raise ActionNotFound(f"action {action_id} not found")
        return aid

    def _decider(self, actor: str) -> str:
        """`actor` validated, and allowed to decide by the policy (or an error)."""
        policy = self.policy
        known = self._deciders.get(actor)
        if known is not None and known[0] is policy:
            return known[1]
        clean = validation.actor(actor)
        policy.check_may_decide(clean)
        if len(self._deciders) >= _DECIDERS_KEPT:
            self._deciders = {}  # a new dict: a thread reading the old one is unharmed
        self._deciders[actor] = (policy, clean)
        return clean

    def _transition(
        self,
        stmt: Executable,
        aid: int,
        actor: str,
        verb: str,
        allowed: frozenset[str],
        reason: str | None = None,
        *,
        plan: PlanCheck | None = None,
    ) -> ActionView:
        """One conditional UPDATE plus its event row, in one transaction. When the UPDATE
        matches nothing, work out why (under the same lock) and say so."""
        at = self.clock()
        params: dict[str, object] = {
            "aid": aid,
            "actor": actor,
            "at": at,
            "reason": reason,
            "command": None,  # set on the approval itself (a vote short of quorum: none)
        }
        # The hot path: each backend runs these statements its fastest way.
        with self.db.write_transaction() as tx:
            if not tx.run(stmt, params):
                vote = self._held_back(tx, aid, actor, verb, allowed, params)
                if vote is not None:
                    if plan is not None:  # every vote binds the plan its voter saw
                        bind_plan(tx, vote, actor, at, plan)
                    return vote
            # Read back after the write, under its lock: the row as this UPDATE left it.
            # (Cheaper on SQLite than UPDATE ... RETURNING, and it brings the join.)
            row = tx.first_values(_ONE_ACTION, params)
            if row is None:  # cannot be: this transaction just changed it, under its lock
                raise ActionNotFound(f"action {aid} not found")
            view = to_view(row)
            if plan is not None:  # may refuse: raising here rolls the UPDATE back
                bind_plan(tx, view, actor, at, plan)
            # Where it came from, and the command an approval approved (the rule the
            # CLI's fast decision shares).
            params["from_status"], params["command"] = event_origin(verb, view)
            params["to_status"] = view.status
            tx.run(_EVENT, params)
        return view

    def _held_back(
        self,
        tx: WriteTransaction,
        aid: int,
        actor: str,
        verb: str,
        allowed: frozenset[str],
        params: dict[str, object],
    ) -> ActionView | None:
        """The transition's UPDATE matched nothing. Raise why, or apply the rule that held
        it back (under the same lock): a vote short of its quorum returns the still
        pending action; otherwise the transition is made and None returned."""
        if not self.policy.rules:
            raise self._refusal(tx, aid, actor, verb, allowed)
        tx.first(_LOCK_ACTION, params)
        current = tx.first(_CURRENT, params)
        if current is None or current["status"] not in allowed or verb == "cancel":
            raise self._refusal(tx, aid, actor, verb, allowed)
        action = ActionView(**current)
        refusal = self.policy.type_refusal(actor, action.action_type)
        if refusal is not None:
            raise PermissionDenied(refusal)
        if verb == "reject":
            applied = tx.run(_REJECT, params)
        elif not self.policy.allow_self_approval and action.created_by == actor:
            raise self._refusal(tx, aid, actor, verb, allowed)
        else:
            required = self.policy.approvals_required(action.action_type)
            if required > 1:
                return self._vote(tx, aid, required, params)
            applied = tx.run(_APPROVE, params)
        if not applied:  # cannot be: the row is pending and locked
            raise self._refusal(tx, aid, actor, verb, allowed)
        return None

    @staticmethod
    def _vote(
        tx: WriteTransaction, aid: int, required: int, params: dict[str, object]
    ) -> ActionView | None:
        """Record `params["actor"]`'s approval of a pending action needing `required`."""
        row = tx.first_values(_VOTES, params)
        votes, mine = (row[0], row[1]) if row is not None else (0, 0)
        if mine:
            raise InvalidTransition(f"already approved by you: {votes} of {required}")
        params["reason"] = vote_reason(votes + 1, required)
        if votes + 1 < required:
            params["from_status"] = params["to_status"] = VOTE_FROM
            tx.run(_EVENT, params)
            back = tx.first_values(_ONE_ACTION, params)
            if back is None:  # cannot be: the row is locked
                raise ActionNotFound(f"action {aid} not found")
            return to_view(back)
        if not tx.run(_APPROVE_QUORUM, {**params, "others": required - 1}):
            raise InvalidTransition(f"cannot approve action {aid}: its votes changed")
        return None

    def _refusal(
        self, tx: WriteTransaction, aid: int, actor: str, verb: str, allowed: frozenset[str]
    ) -> Exception:
        current = tx.first(_CURRENT, {"aid": aid})
        if current is None:
            return ActionNotFound(f"action {aid} not found")
        action = ActionView(**current)
        if action.status in allowed:  # only the self-approval guard can leave it unmatched
            return PermissionDenied(
                f"{actor!r} created action {aid} and may not approve it "
                "(allow_self_approval is false)"
            )
        allowed_text = " or ".join(sorted(allowed))
        already = f"cannot {verb} action {aid}: already {self._how_it_got_there(tx, action)}"
        if verb == "approve":
            return InvalidTransition(already)
        return InvalidTransition(f"{already}; only {allowed_text} actions can be {_PAST[verb]}")

    @staticmethod
    def _how_it_got_there(tx: WriteTransaction, action: ActionView) -> str:
        """ "approved by alice at 2026-11-27 10:02 UTC", "executing (approved by ...)"."""
        status = action.status
        if status == ActionStatus.REJECTED and action.rejected_by:
            return f"{status} by {action.rejected_by} at {format_when(action.rejected_at)}"
        if status == ActionStatus.APPROVED and action.approved_by:
            return f"{status} by {action.approved_by} at {format_when(action.approved_at)}"
        last = tx.first(_LAST_EVENT, {"aid": action.id})
        if last is not None and last["to_status"] == status:
            how = "cancelled" if action.is_cancelled else status
            return f"{status} ({how} by {last['actor']} at {format_when(last['at'])})"
        # Executing, completed or failed by HomelabCmd's executor: the decision behind it
        # is the approval, so name that.
        if action.approved_by:
            return (
                f"{status} (approved by {action.approved_by} at {format_when(action.approved_at)})"
            )
        if action.rejected_by:
            return (
                f"{status} (rejected by {action.rejected_by} at {format_when(action.rejected_at)})"
            )
        return status

    # -- creation --------------------------------------------------------------------------

    def create_action(
        self,
        server_id: str,
        action_type: ActionType | str,
        service_name: str | None = None,
        *,
        actor: str,
    ) -> ActionView:
        actor = validation.actor(actor)
        server_id = validation.server_ref(server_id)
        try:
            kind = ActionType(action_type)
        except ValueError:
            choices = ", ".join(t.value for t in ActionType)
            raise ValidationError(
                f"unknown action type {action_type!r}; choose one of {choices}"
            ) from None
        if kind is ActionType.RESTART_SERVICE:
            unit: str | None = validation.unit_name(service_name)
        elif service_name is not None:
            raise ValidationError(f"{kind.value} takes no service name")
        else:
            unit = None
        command = command_for(kind, unit)
        now = self.clock()
        with self.db.writing() as conn:
            paused = conn.execute(select(S.is_paused).where(S.id == server_id)).scalar()
            if paused is None:
                raise ActionNotFound(f"server {server_id!r} not found")
            duplicate = conn.execute(
                select(A.id).where(
                    A.server_id == server_id,
                    A.action_type == kind.value,
                    A.service_name.is_not_distinct_from(unit),
                    A.status == _PENDING,
                )
            ).scalar()
            if duplicate is not None:
                raise InvalidTransition(
                    f"action {duplicate} is already pending for {kind.value}"
                    f"{' ' + unit if unit else ''} on {server_id}"
                )
            status = _PENDING if paused else _APPROVED
            row = conn.execute(
                insert(A)
                .values(
                    server_id=server_id,
                    action_type=kind.value,
                    status=status,
                    service_name=unit,
                    command=command,
                    created_at=now,
                    created_by=actor,
                    approved_at=None if paused else now,
                    approved_by=None if paused else AUTO_APPROVER,
                )
                .returning(*ACTION_COLUMNS)
            ).one()
            view = to_view(row)
            events: list[tuple[str | None, str, str, str | None]] = [(None, _PENDING, actor, None)]
            if not paused:
                events.append((_PENDING, _APPROVED, AUTO_APPROVER, "server not in maintenance"))
            for from_status, to_status, who, why in events:
                approved = command if to_status == _APPROVED else None
                conn.execute(
                    _EVENT,
                    {
                        "aid": view.id,
                        "from_status": from_status,
                        "to_status": to_status,
                        "actor": who,
                        "at": now,
                        "reason": why,
                        "command": approved,
                    },
                )
        return self.get_action(view.id)

    # -- reading ---------------------------------------------------------------------------

    def get_action(self, action_id: int) -> ActionView:
        aid = self._stored_id(action_id)
        with self.db.reading() as conn:
            row = conn.execute(_ONE_ACTION, {"aid": aid}).one_or_none()
        if row is None:
            raise ActionNotFound(f"action {aid} not found")
        return to_view(row)

    def approval_tally(self, action_id: int) -> ApprovalTally:
        """How many approvals the action needs under the current rules, and whose it has
        (votes, then the approval that completed them; never the automatic one)."""
        action = self.get_action(action_id)
        with self.db.reading() as conn:
            rows = conn.execute(_APPROVALS, {"aid": action.id}).all()
        return ApprovalTally(
            self.policy.approvals_required(action.action_type),
            tuple(Approval(row.actor, row.at) for row in rows),
        )

    def voters(self, actions: Iterable[ActionView]) -> dict[int, tuple[str, ...]]:
        """Who has voted for each of these that is pending and needs several approvals
        (absent: nobody). Without such a rule this reads nothing."""
        voting = self.policy.voting_types
        ids = [a.id for a in actions if a.status == _PENDING and a.action_type in voting]
        if not ids:
            return {}
        stmt = select(E.action_id, E.actor).where(E.action_id.in_(ids), _IS_VOTE).order_by(E.id)
        found: dict[int, list[str]] = {}
        with self.db.reading() as conn:
            for action_id, actor in conn.execute(stmt):
                found.setdefault(action_id, []).append(actor)
        return {aid: tuple(dict.fromkeys(names)) for aid, names in found.items()}

    def list_actions(self, query: ActionQuery | None = None) -> ActionPage:
        query = query or ActionQuery()
        with self.db.reading() as conn:
            rows = conn.execute(rows_statement(query)).all()
            counts = {row[0]: row[1] for row in conn.execute(counts_statement(query))}
        views = tuple(to_view(r) for r in rows)
        votes = self.voters(views) if self.policy.voting_types else {}
        return page_of(query, views, counts, votes)

    def list_events(
        self,
        action_id: int | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[EventView]:
        aid = None
        if action_id is not None:
            aid = storable_id(self.db, action_id)
            if aid is None:
                return []  # no action has an id this database cannot hold
        values = event_parameters(aid, since)
        stmt = events_statement(self._event_columns(), values).limit(limit)
        with self.db.reading() as conn:
            rows = conn.execute(stmt, values).all()
        return [EventView(**row._mapping) for row in rows]

    def _event_columns(self) -> list[Any]:
        """action_events' columns; without `command` on a database opened read-only
        before it was brought up to schema version 2 (it cannot be added there)."""
        if self._events_have_command is None:
            with self.db.reading() as conn:
                self._events_have_command = event_has_command(conn)
        return [c for c in EVENT_COLUMNS if c.name != "command" or self._events_have_command]

    def reopened(self) -> ApprovalService:
        """This service on its database file opened afresh: after the file was replaced
        under it (DatabaseReplaced). Never creates a file that has gone."""
        return ApprovalService(self.db.reopened(), self.policy, clock=self.clock)

    def change_token(self, *, fresh: bool = False) -> object:
        """Moves whenever anyone commits; a few µs on SQLite. For live refresh. `fresh`:
        commits that completed before the call are counted for certain (a server round
        trip where news of them may still be on its way)."""
        return self.db.change_token(fresh=fresh)

    def change_signal(self) -> int | None:
        """A descriptor that turns readable when the change token may have moved (a
        PostgreSQL notification), or None. For live refresh: it wakes at once."""
        return self.db.change_signal()
