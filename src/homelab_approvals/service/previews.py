"""Previews: recording what a probe found, reading it back, its age, the plan an approval
was bound to, and live output. The probes themselves run in the executor."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from homelab_approvals.domain import validation
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.errors import (
    ActionNotFound,
    InvalidTransition,
    PlanChanged,
    ValidationError,
)
from homelab_approvals.domain.plan_parsing import ProbeOutputError, parse_probe
from homelab_approvals.domain.plans import (
    plan_additions,
    plan_digest,
    plan_from_json,
    plan_summary,
    plan_to_json,
)
from homelab_approvals.domain.previews import PreviewView
from homelab_approvals.domain.probes import Probe, ProbeRun
from homelab_approvals.domain.text import storable
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.preview_settings import PlanCheck, PreviewSettings
from homelab_approvals.service.preview_views import to_preview_view
from homelab_approvals.service.probe_choice import probe_of
from homelab_approvals.service.queries import ROW_QUERY, storable_id, to_view
from homelab_approvals.storage import Database, WriteTransaction
from homelab_approvals.storage import previews as store
from homelab_approvals.storage.tables import RemediationAction as A


def _failure_words(run: ProbeRun) -> str:
    if run.failure:
        return run.failure
    words = run.stderr.strip() or run.stdout.strip()
    lines = words.splitlines()
    tail = "\n".join(lines[-5:]) if lines else ""
    return tail or f"the probe exited with status {run.exit_code} and printed nothing"


def bind_plan(
    tx: WriteTransaction, action: ActionView, actor: str, at: datetime, check: PlanCheck
) -> None:
    """Inside an approval's transaction, under its lock: refuse when the plan is not the
    one the approver saw, else record the binding. Only binding probes (apt) bind; a unit's
    state or the journal's size only inform."""
    probe = probe_of(action)
    if probe is None or not probe.binding:
        return
    row = tx.first(store.LATEST_PREVIEW, {"aid": action.id})
    digest = row["digest"] if row is not None else None
    if not check.current and digest != check.seen:
        if digest is None:
            now = "no plan now"
        else:
            plan = plan_from_json(json.loads(row["plan"])) if row is not None else None
            now = f"now {plan_summary(plan)}" if plan is not None else "now another plan"
            now += f" (preview {digest})"
        raise PlanChanged(
            f"cannot approve action {action.id}: its plan changed since it was shown ({now})"
        )
    if row is None or digest is None:
        return  # no plan: binds nothing
    # Two-person approval: every vote must be for the same plan.
    earlier = tx.first(store.OTHER_BINDING, {"aid": action.id, "digest": digest})
    if earlier is not None:
        raise PlanChanged(
            f"cannot approve action {action.id}: {earlier['actor']} approved another plan "
            f"(preview {earlier['digest'][:12]}); the plan is now {digest[:12]}. Every approval "
            "must be for the same plan: reject the action, or wait for the plan to come back"
        )
    tx.run(
        store.ADD_BINDING,
        {"aid": action.id, "actor": actor, "at": at, "digest": digest, "pid": row["id"]},
    )


class PreviewOps:
    """Mixed into ApprovalService."""

    db: Database
    clock: Callable[[], datetime]
    preview_settings: PreviewSettings

    def record_preview(self, action_id: int, probe: Probe, run: ProbeRun) -> PreviewView:
        """Store what a probe gave. The whole output is parsed; storage caps what it keeps."""
        plan_json = digest = None
        error: str | None = None
        if run.failure is None and run.exit_code == 0:
            try:
                plan = parse_probe(probe.kind, run.stdout)
            except ProbeOutputError as refusal:
                error = str(refusal)
            else:
                plan_json = json.dumps(plan_to_json(plan), sort_keys=True)
                digest = plan_digest(plan)
        else:
            error = _failure_words(run)
        with self.db.writing() as conn:
            store.add_preview(
                conn,
                action_id=action_id,
                taken_at=self.clock(),
                probe_command=probe.command,
                exit_code=run.exit_code,
                output=storable(run.stdout) or None,
                error=storable(error),
                plan=plan_json,
                digest=digest,
            )
            row = store.latest_preview(conn, action_id)
        assert row is not None
        return to_preview_view(row)

    def get_preview(self, action_id: int) -> PreviewView | None:
        aid = storable_id(self.db, action_id)
        if aid is None:
            return None  # no action has an id this database cannot hold
        with self.db.reading() as conn:
            row = store.latest_preview(conn, aid)
        return None if row is None else to_preview_view(row)

    def previews_for(self, action_ids: Sequence[int]) -> dict[int, PreviewView]:
        with self.db.reading() as conn:
            rows = store.latest_previews(conn, action_ids)
        return {aid: to_preview_view(row) for aid, row in rows.items()}

    def bound_preview(self, action_id: int) -> PreviewView | None:
        """The plan the (last) approval of this action was bound to, or None."""
        with self.db.reading() as conn:
            bound = store.bindings(conn, action_id)
            row = store.preview_by_id(conn, bound[-1].preview_id) if bound else None
        return None if row is None else to_preview_view(row)

    def is_stale(self, preview: PreviewView | None) -> bool:
        return preview is None or self.clock() - preview.taken_at >= self.preview_settings.max_age

    def actions_needing_preview(self, actions: Iterable[ActionView]) -> list[ActionView]:
        """Of `actions`, the pending ones with a probe whose preview is missing, stale, or
        older than an operator's request for a fresh one."""
        candidates = [
            a for a in actions if a.status == ActionStatus.PENDING and probe_of(a) is not None
        ]
        ids = [a.id for a in candidates]
        with self.db.reading() as conn:
            latest = {
                aid: to_preview_view(row) for aid, row in store.latest_previews(conn, ids).items()
            }
            asked = store.latest_requests(conn, ids)
        due = []
        for action in candidates:
            preview = latest.get(action.id)
            request = asked.get(action.id)
            if self.is_stale(preview) or (
                request is not None and preview is not None and request > preview.taken_at
            ):
                due.append(action)
        return due

    def request_preview(self, action_id: int, actor: str) -> ActionView:
        """Ask the executor for a fresh preview of a pending action (the console's key)."""
        actor = validation.actor(actor)
        aid = validation.action_id(action_id)
        with self.db.writing() as conn:
            known = storable_id(self.db, aid) is not None
            row = conn.execute(ROW_QUERY.where(A.id == aid)).one_or_none() if known else None
            if row is None:
                raise ActionNotFound(f"action {aid} not found")
            action = to_view(row)
            if probe_of(action) is None:
                raise ValidationError(f"action {aid} has no preview ({action.action_type})")
            if action.status != ActionStatus.PENDING:
                raise InvalidTransition(
                    f"action {aid} is {action.status}: previews are taken while it is pending"
                )
            store.add_request(conn, aid, self.clock(), actor)
        return action

    def preview_marks(self, action_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """What marks each row in the table: its newest plan's removals and new kernel."""
        marks = {}
        for aid, preview in self.previews_for(action_ids).items():
            if warnings := preview.warnings:
                marks[aid] = tuple(warnings)
        return marks

    def plan_changes(self, action_id: int, fresh: PreviewView) -> list[str] | None:
        """What `fresh` holds that the approved plan did not. None when the approval bound
        no plan (nothing to compare with); a fresh probe that failed is a change."""
        approved = self.bound_preview(action_id)
        if approved is None or approved.plan is None:
            return None
        if fresh.plan is None:
            return [f"no plan now: {fresh.error}"]
        return plan_additions(approved.plan, fresh.plan)

    # -- live output ---------------------------------------------------------------------

    def add_output(self, action_id: int, chunks: Iterable[tuple[str, str]]) -> None:
        """One small transaction: a batch of (stream, text) chunks of a running action."""
        kept = [(stream, storable(text)) for stream, text in chunks]
        with self.db.writing() as conn:
            store.add_chunks(conn, action_id, self.clock(), kept)

    def output_since(self, action_id: int, after: int = 0) -> tuple[list[store.ChunkRow], int]:
        """Live output chunks after chunk id `after`, and the id to ask from next time."""
        with self.db.reading() as conn:
            rows = store.chunks_after(conn, action_id, after)
        return rows, (rows[-1].id if rows else after)
