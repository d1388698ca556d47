"""The console and executors: runs shown live (executing with its time so far, then the
exit code and output), the "no executor" warning and what the detail says about it,
stalled claims settled by the console, and the demo's simulated executor. On SQLite and
PostgreSQL (`backends`): there the console sees a run by notification."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.service.demo_executor import DemoExecutor
from homelab_approvals.service.executions import ExecutionService
from homelab_approvals.tui.detail import START_EXECUTOR
from homelab_approvals.tui.topbar import TopBar
from tui_support import (
    NOW,
    frozen_clock,
    highlighted,
    other_connection,
    running,
    screen,
    text_of,
    wait_until,
)

ALL = ActionQuery(statuses=(), limit=100)

pytestmark = pytest.mark.backends


@pytest.fixture
def fresh(db_target: DbTarget) -> Iterator[ApprovalService]:
    service = ApprovalService(db_target.open(), clock=frozen_clock)
    service.add_server("web", "web.lan")
    service.add_server("quiet", "quiet.lan", paused=True)
    yield service
    service.db.close()


def executions(service: ApprovalService) -> ExecutionService:
    return ExecutionService(service.db, clock=frozen_clock)


def table_line(app: object, action_id: int) -> str:
    table = screen(app).table  # type: ignore[arg-type]
    return next((line for line in text_of(table).splitlines() if f" {action_id} " in line), "")


def test_a_run_is_shown_live_executing_then_completed(
    db_target: DbTarget, fresh: ApprovalService
) -> None:
    import asyncio

    async def scenario() -> None:
        async with running(fresh) as (app, pilot):
            await pilot.press("p")  # all actions, not only pending ones
            with other_connection(db_target) as other:
                action = other.create_action("web", "apt_update", actor="alice")
                ex = executions(other)
                ex.heartbeat("exec-a", 60, NOW)
                assert ex.claim(action.id, "exec-a") is not None
                await wait_until(
                    pilot,
                    lambda: "executing" in table_line(app, action.id),
                    "the executing row",
                )
                assert "run 0s" in table_line(app, action.id)
                await wait_until(pilot, lambda: highlighted(app) is not None, "a highlighted row")
                ex.finish(action.id, "exec-a", 0, "Reading package lists...\nDone", None)
                await wait_until(
                    pilot,
                    lambda: "completed" in table_line(app, action.id),
                    "the completed row",
                )
                assert "exit 0" in table_line(app, action.id)
                detail = screen(app).detail
                await wait_until(
                    pilot,
                    lambda: (
                        detail.view is not None
                        and detail.view.status == ActionStatus.COMPLETED
                        and detail.events is not None
                    ),
                    "the detail of the finished run",
                )
                shown = text_of(detail.query_one("#detail-body"))
                # Each line of output on a line of its own, made inert.
                assert "Reading package lists..." in shown
                assert "Done" in shown
                assert "Exit code 0" in shown

    asyncio.run(scenario())


def test_no_executor_is_said_while_our_approved_actions_wait(
    db_target: DbTarget, fresh: ApprovalService
) -> None:
    import asyncio

    async def scenario() -> None:
        async with running(fresh) as (app, pilot):
            topbar = app.screen.query_one(TopBar)
            assert "no executor" not in text_of(topbar)  # nothing waits
            with other_connection(db_target) as other:
                action = other.create_action("web", "clear_logs", actor="alice")  # approved
                await pilot.press("p")
                await wait_until(pilot, lambda: topbar.no_executor, "the warning")
                assert "no executor" in text_of(topbar)
                console = screen(app)
                await wait_until(
                    pilot,
                    lambda: (
                        console.detail.view is not None
                        and console.detail.view.id == action.id
                        and console.detail.events is not None
                    ),
                    "the approved action's detail",
                )
                flat = " ".join(text_of(console.detail.query_one("#detail-body")).split())
                assert "homelab-approvals executor" in flat
                assert " ".join(START_EXECUTOR.split()[:6]) in flat
                # An executor's heartbeat ends the warning.
                executions(other).heartbeat("exec-a", 60, NOW)
                await wait_until(pilot, lambda: not topbar.no_executor, "the warning to go")
                assert "no executor" not in text_of(topbar)

    asyncio.run(scenario())


def test_the_console_settles_a_claim_whose_executor_is_gone(
    db_target: DbTarget, fresh: ApprovalService
) -> None:
    import asyncio

    async def scenario() -> None:
        with other_connection(db_target) as other:
            action = other.create_action("web", "apt_upgrade_all", actor="alice")
            assert executions(other).claim(action.id, "vanished") is not None  # no heartbeat
        async with running(fresh) as (_app, pilot):
            await wait_until(
                pilot,
                lambda: fresh.get_action(action.id).status == ActionStatus.FAILED,
                "outcome unknown",
            )
            settled = fresh.get_action(action.id)
            assert settled.stderr == "outcome unknown: executor vanished stopped during the run"
            assert fresh.list_events(action_id=action.id)[-1].actor == "alice"

    asyncio.run(scenario())


def test_a_read_only_console_only_looks(db_target: DbTarget, fresh: ApprovalService) -> None:
    import asyncio

    with other_connection(db_target) as other:
        action = other.create_action("web", "apt_upgrade_all", actor="alice")
        assert executions(other).claim(action.id, "vanished") is not None
    reader = ApprovalService(db_target.open(read_only=True), clock=frozen_clock)

    async def scenario() -> None:
        async with running(reader, read_only_reason="--read-only was given") as (app, pilot):
            console = screen(app)
            await pilot.pause(0.5)  # several executor checks at the tests' poll rate
            assert console.refreshes > 0
        assert reader.get_action(action.id).status == ActionStatus.EXECUTING

    try:
        asyncio.run(scenario())
    finally:
        reader.db.close()


def test_the_demo_runs_what_is_approved(demo: ApprovalService) -> None:
    import asyncio

    simulated = DemoExecutor(demo, seed=1, run_seconds=(0.2, 0.4), poll=0.02)

    async def scenario() -> None:
        async with running(demo) as (app, pilot):
            console = screen(app)
            target = highlighted(app)
            assert target is not None
            assert target.status == ActionStatus.PENDING
            simulated.start()
            try:
                await pilot.press("a")
                # Claimed (executed_at is set then, and kept): a run of 0.2-0.4 s may be
                # over before a busy machine looks, so not "executing" itself; the events
                # below show it went through executing.
                await wait_until(
                    pilot,
                    lambda: demo.get_action(target.id).executed_at is not None,
                    "the claim",
                )
                await wait_until(
                    pilot,
                    lambda: (
                        demo.get_action(target.id).status
                        in (ActionStatus.COMPLETED, ActionStatus.FAILED)
                    ),
                    "a result",
                )
                await pilot.press("p")
                await wait_until(
                    pilot,
                    lambda: any(
                        v.id == target.id and v.status != ActionStatus.EXECUTING
                        for v in console.table._views.values()
                    ),
                    "the result on screen",
                )
            finally:
                simulated.stop()
        events = demo.list_events(action_id=target.id)
        assert [(e.from_status, e.to_status) for e in events[-2:]] == [
            ("approved", "executing"),
            (ActionStatus.EXECUTING.value, demo.get_action(target.id).status),
        ]
        assert {e.actor for e in events[-2:]} == {"demo-executor"}

    asyncio.run(scenario())
