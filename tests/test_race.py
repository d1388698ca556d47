"""Eight OS processes decide the same pending action at the same instant.

The workers are started once (spawn, so each is a fresh interpreter with its own SQLite
connections) and reused across rounds; a barrier releases them together each round.
Exactly one may win; the other seven must get CONFLICT naming the winner, never a
"database is locked", and exactly one decision event may be written.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
import traceback
from collections import Counter
from collections.abc import Iterator
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

import pytest

from db_targets import DbTarget
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.storage.version import SCHEMA_VERSION
from pg_support import PgServer

WORKERS = 8
ROUNDS = 30
BARRIER_TIMEOUT = 60.0

pytestmark = pytest.mark.slow


def _worker(index: int, barrier: Any, inbox: Any, outbox: Any) -> None:
    """Runs in a spawned process: open, then decide whatever the parent sends."""
    from homelab_approvals.domain.errors import ApprovalsError
    from homelab_approvals.service import ApprovalService

    db = None
    service = None
    actor = f"worker-{index}"
    while True:
        command, argument = inbox.get()
        if command == "stop":
            break
        try:
            barrier.wait(BARRIER_TIMEOUT)
            if command == "open":
                if db is not None:
                    db.close()
                where = str(argument)
                db = open_database(url=where) if "://" in where else open_database(Path(where))
                service = ApprovalService(db)
                outbox.put((index, "ok", None))
            elif command == "decide":
                assert service is not None
                if index % 2 == 0:
                    view = service.approve(argument, actor)
                else:
                    view = service.reject(argument, actor, f"{actor} says no")
                outbox.put((index, "ok", view.status))
            elif command == "vote":
                from homelab_approvals.service import Policy
                from homelab_approvals.service.policy import TypeRule

                assert db is not None
                action_id, required = argument
                rules = {"apt_upgrade_all": TypeRule(approvals=required)}
                voter = ApprovalService(db, Policy(rules=rules))
                outbox.put((index, "ok", voter.approve(action_id, actor).status))
        except ApprovalsError as error:
            outbox.put((index, error.code, error.message))
        except BaseException:
            outbox.put((index, "CRASH", traceback.format_exc()))
    if db is not None:
        db.close()


class Pool:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier = ctx.Barrier(WORKERS)
        self.inboxes = [ctx.Queue() for _ in range(WORKERS)]
        self.outbox = ctx.Queue()
        self.processes: list[SpawnProcess] = [
            ctx.Process(
                target=_worker,
                args=(i, self.barrier, self.inboxes[i], self.outbox),
                daemon=True,
            )
            for i in range(WORKERS)
        ]
        for process in self.processes:
            process.start()

    def broadcast(self, command: str, argument: object) -> dict[int, tuple[str, Any]]:
        for inbox in self.inboxes:
            inbox.put((command, argument))
        results: dict[int, tuple[str, Any]] = {}
        for _ in range(WORKERS):
            index, code, detail = self.outbox.get(timeout=BARRIER_TIMEOUT * 2)
            results[index] = (code, detail)
        return results

    def stop(self) -> None:
        for inbox in self.inboxes:
            inbox.put(("stop", None))
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    workers = Pool()
    yield workers
    workers.stop()


def no_crashes(results: dict[int, tuple[str, Any]]) -> None:
    for index, (code, detail) in results.items():
        assert code != "CRASH", f"worker {index} crashed:\n{detail}"
        text = str(detail).lower()
        assert "locked" not in text, f"worker {index}: {detail}"
        assert "busy" not in text, f"worker {index}: {detail}"


def test_eight_processes_create_the_same_new_database_at_once(pool: Pool, tmp_path: Path) -> None:
    path = tmp_path / "new" / "approvals.db"

    results = pool.broadcast("open", str(path))

    no_crashes(results)
    assert {code for code, _ in results.values()} == {"ok"}
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("SELECT id, version FROM approvals_schema").fetchall()
        assert version == [(1, SCHEMA_VERSION)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        triggers = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
        assert triggers.fetchone() == (3,)
    finally:
        conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.backends
def test_eight_processes_race_to_decide_and_exactly_one_wins(
    pool: Pool, db_target: DbTarget
) -> None:
    db = db_target.open()
    try:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", paused=True)
        no_crashes(pool.broadcast("open", db_target.location))
        winners: Counter[str] = Counter()

        for round_number in range(ROUNDS):
            action = service.create_action(
                "pi-4", "restart_service", f"unit{round_number}", actor="bob"
            )

            results = pool.broadcast("decide", action.id)

            no_crashes(results)
            won = [i for i, (code, _) in results.items() if code == "ok"]
            lost = [i for i, (code, _) in results.items() if code == "CONFLICT"]
            assert len(won) == 1, f"round {round_number}: {results}"
            assert len(lost) == WORKERS - 1, f"round {round_number}: {results}"
            winner = won[0]
            verb = "approved" if winner % 2 == 0 else "rejected"
            winners[verb] += 1
            for loser in lost:
                message = results[loser][1]
                assert f"already {verb} by worker-{winner} at " in message, message

            stored = service.get_action(action.id)
            assert stored.status == verb
            assert stored.decided_by == f"worker-{winner}"
            if verb == "approved":
                assert stored.rejected_by is None
                assert stored.rejection_reason is None
            else:
                assert stored.approved_by is None
                assert stored.rejection_reason == f"worker-{winner} says no"
            events = service.list_events(action_id=action.id)
            assert [(e.from_status, e.to_status) for e in events] == [
                (None, "pending"),
                ("pending", verb),
            ]
            assert events[1].actor == f"worker-{winner}"
    finally:
        db.close()
    # Both kinds of decision won some rounds: the processes really did race.
    # (Reported, not asserted: on a loaded machine one side may win all rounds.)
    print(f"winners over {ROUNDS} rounds: {dict(winners)}")
    decisions = db_target.execute(
        "SELECT count(*) FROM action_events WHERE from_status IS NOT NULL"
    )
    assert decisions == [(ROUNDS,)]
    if db_target.path is not None:
        assert db_target.execute("PRAGMA integrity_check") == [("ok",)]


@pytest.mark.backends
def test_eight_processes_vote_and_exactly_n_succeed(pool: Pool, db_target: DbTarget) -> None:
    """N-of-M: eight distinct people approve an action needing three, at the same instant.
    Exactly three succeed (two votes, then the approval), one approval transition is
    written, and the other five get CONFLICT."""
    required = 3
    db = db_target.open()
    try:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", paused=True)
        no_crashes(pool.broadcast("open", db_target.location))
        for round_number in range(ROUNDS // 3):
            action = service.create_action("pi-4", "apt_upgrade_all", actor="bob")

            results = pool.broadcast("vote", (action.id, required))

            no_crashes(results)
            won = sorted(detail for code, detail in results.values() if code == "ok")
            lost = [detail for code, detail in results.values() if code == "CONFLICT"]
            assert won == ["approved", "pending", "pending"], f"round {round_number}: {results}"
            assert len(lost) == WORKERS - required, f"round {round_number}: {results}"
            events = service.list_events(action_id=action.id)
            shapes = [(e.from_status, e.to_status) for e in events]
            assert shapes == [
                (None, "pending"),
                ("pending", "pending"),
                ("pending", "pending"),
                ("pending", "approved"),
            ]
            voters = {e.actor for e in events[1:]}
            assert len(voters) == required
            assert service.get_action(action.id).approved_by == events[-1].actor
    finally:
        db.close()


def test_eight_processes_create_the_same_new_postgresql_schema_at_once(
    pool: Pool, pg_server: PgServer
) -> None:
    """The advisory lock: eight processes opening one empty PostgreSQL database at once
    all succeed, and the schema is there once."""
    url = pg_server.fresh(empty=True)

    results = pool.broadcast("open", url)

    no_crashes(results)
    assert {code for code, _ in results.values()} == {"ok"}
    target = DbTarget("postgresql", url=url)
    assert target.execute("SELECT id, version FROM approvals_schema") == [(1, SCHEMA_VERSION)]
    triggers = target.execute(
        "SELECT tgname, count(*) FROM pg_trigger WHERE NOT tgisinternal GROUP BY tgname"
    )
    assert len(triggers) == 11  # two refuse changes to the trail, nine notify
    assert all(count == 1 for _, count in triggers)
