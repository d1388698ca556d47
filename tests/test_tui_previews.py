"""Previews in the console, through Pilot on real databases of both backends: the detail
pane's plan, its first packages with the rest one `enter` away, why a preview is missing,
the table's warnings in colour and in words, `v` asking for a fresh one, an approval
bound to the plan shown, and hostile probe output shown inert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widget import Widget

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.probes import ProbeRun, probe_for
from homelab_approvals.service import ApprovalService
from tui_support import (
    frozen_clock,
    other_connection,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_until,
)

TRANSCRIPTS = Path(__file__).parent / "transcripts"
APT = probe_for(ActionType.APT_UPGRADE_ALL, None)
assert APT is not None


pytestmark = pytest.mark.backends


def transcript(name: str) -> str:
    return (TRANSCRIPTS / name).read_text()


@pytest.fixture
def svc(db_target: DbTarget) -> Iterator[ApprovalService]:
    """Three pending actions: an apt upgrade with a kernel and a removal (#1), a plain apt
    upgrade (#2) and an apt update (#3, no probe)."""
    # The previews were taken a minute before the console's frozen now.
    taken = frozen_clock() - timedelta(minutes=1)
    service = ApprovalService(db_target.open(), clock=lambda: taken)
    service.add_server("nas", "nas.lan", "NAS", paused=True)
    service.add_server("pi", "pi.lan", "PI", paused=True)
    risky = service.create_action("nas", "apt_upgrade_all", actor="bot")
    plain = service.create_action("pi", "apt_upgrade_all", actor="bot")
    service.create_action("nas", "apt_update", actor="bot")
    service.record_preview(
        risky.id, APT, ProbeRun(0, transcript("apt-get-s-dist-upgrade-kernel-removal.txt"))
    )
    service.record_preview(plain.id, APT, ProbeRun(0, transcript("apt-get-s-remove-zip.txt")))
    service.clock = frozen_clock
    yield service
    service.db.close()


def detail_text(app: object) -> str:
    """The whole detail pane, scrolled or not."""
    return text_of(screen(app).detail.query_one("#detail-body"))  # type: ignore[arg-type]


@run_async
async def test_the_detail_pane_shows_the_plan_and_the_rest_is_one_enter_away(
    svc: ApprovalService,
) -> None:
    async with running(svc) as (app, pilot):
        await wait_until(pilot, lambda: "upgrade 8, install 13" in detail_text(app), "the plan")
        text = detail_text(app)
        assert "Preview   upgrade 8, install 13 (new kernel), remove 1, 97 kept back" in text
        assert "taken 1m ago · 2026-11-27 09:59 UTC · plan " in text
        assert "remove zip 3.0-13" in text
        assert "… 17 more: enter shows them all" in text
        assert "upgrade systemd-timesyncd" not in text
        await pilot.press("enter")
        await wait_until(pilot, lambda: "upgrade systemd-timesyncd" in detail_text(app), "all")
        assert "more: enter shows them all" not in detail_text(app)


def row_line(table: Widget, action_id: int) -> str:
    return next(
        line for line in text_of(table).splitlines() if line.lstrip().startswith(f"{action_id} ")
    )


@run_async
async def test_rows_that_remove_or_bring_a_kernel_are_marked_in_words(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    async with running(svc, size=(110, 30)) as (app, pilot):
        table = screen(app).table
        await wait_until(pilot, lambda: "KERNEL" in text_of(table), "the warning")
        risky, plain = row_line(table, 1), row_line(table, 2)
        assert "REMOVES 1 KERNEL apt upgrade all" in risky
        assert "REMOVES 1" in plain  # zip: a removal too
        assert "KERNEL" not in plain
        # A new plan without them takes the mark away, live, the cursor unmoved.
        cursor = table.cursor_row
        with other_connection(db_target) as other:
            other.record_preview(2, APT, ProbeRun(0, transcript("apt-get-s-dist-upgrade-root.txt")))
        await wait_until(pilot, lambda: "REMOVES" not in row_line(table, 2), "the mark gone")
        assert "REMOVES 1 KERNEL" in row_line(table, 1)
        assert table.cursor_row == cursor


@run_async
async def test_no_preview_yet_no_preview_for_this_action_and_a_failed_probe(
    svc: ApprovalService,
) -> None:
    svc.create_action("pi", "restart_service", "nginx", actor="bot")
    unit = probe_for(ActionType.RESTART_SERVICE, "nginx")
    assert unit is not None
    async with running(svc) as (app, pilot):
        await pilot.press("down", "down")
        await wait_until(pilot, lambda: "no preview for this action" in detail_text(app), "#3")
        await pilot.press("down")
        await wait_until(pilot, lambda: "no preview yet" in detail_text(app), "#4")
        assert "v asks the executor for one" in detail_text(app)
        svc.record_preview(
            4,
            unit,
            ProbeRun(255, "", "ssh: connect to host pi.lan port 22: Connection refused\r\n"),
        )
        await wait_until(pilot, lambda: "Connection refused" in detail_text(app), "the failure")
        text = detail_text(app)
        assert "no plan: ssh: connect to host pi.lan port 22: Connection refused" in text
        # A failed preview never greys out a decision.
        assert screen(app).check_action("approve", ()) is True
        await pilot.press("a")
        await wait_until(pilot, lambda: svc.get_action(4).status == "approved", "approved")


@run_async
async def test_v_asks_for_a_fresh_preview(svc: ApprovalService) -> None:
    async with running(svc) as (app, pilot):
        assert screen(app).check_action("fresh_preview", ()) is True
        await pilot.press("v")
        await wait_until(
            pilot, lambda: any("fresh preview" in t[2] for t in toasts(app)), "the toast"
        )
        due = svc.actions_needing_preview(svc.list_actions().rows)
        assert [a.id for a in due] == [1]
        await pilot.press("down", "down")  # apt update: nothing to preview
        await wait_until(pilot, lambda: screen(app).detail.view.id == 3, "#3")  # type: ignore[union-attr]
        assert screen(app).check_action("fresh_preview", ()) is None


@run_async
async def test_the_approval_is_bound_to_the_plan_shown_and_refused_if_it_changed(
    svc: ApprovalService,
) -> None:
    async with running(svc) as (app, pilot):
        await wait_until(pilot, lambda: "upgrade 8, install 13" in detail_text(app), "the plan")
        shown = screen(app).detail.shown_digest(1)
        # Another preview lands between the look and the key (the live refresh held back,
        # so the pane still shows the old plan): refused, nothing changes.
        screen(app).feed.stop()
        svc.record_preview(1, APT, ProbeRun(0, transcript("apt-get-s-dist-upgrade-root.txt")))
        await pilot.press("a")
        await wait_until(pilot, lambda: any(t[1] == "The plan changed" for t in toasts(app)), "")
        assert svc.get_action(1).status == "pending"
    async with running(svc) as (app, pilot):
        await wait_until(pilot, lambda: "upgrade 105" in detail_text(app), "the new plan")
        await pilot.press("a")
        await wait_until(pilot, lambda: svc.get_action(1).status == "approved", "approved")
        bound = svc.bound_preview(1)
        assert bound is not None
        assert bound.digest != shown
        assert bound.summary == "upgrade 105"


@run_async
async def test_hostile_probe_output_is_inert(db_target: DbTarget) -> None:
    service = ApprovalService(db_target.open(), clock=frozen_clock)
    service.add_server("nas", "nas.lan", paused=True)
    action = service.create_action("nas", "apt_upgrade_all", actor="bot")
    hostile = (
        "Inst [@click=app.quit]boom [1.0] (2.0\x1b[2J Debian [amd64])\n"
        "Remv \x1b]0;PWNED\x07evil [1]\n"
    )
    service.record_preview(action.id, APT, ProbeRun(0, hostile))
    ((plan,),) = db_target.execute("SELECT plan FROM approval_previews")
    assert "boom" in plan
    try:
        async with running(service) as (app, pilot):
            await wait_until(pilot, lambda: "upgrade 1, remove 1" in detail_text(app), "plan")
            await pilot.press("enter")
            await wait_until(pilot, lambda: "[@click=app.quit]boom" in detail_text(app), "it")
            text = detail_text(app)
            assert "2.0␛[2J" in text
            assert "␛]0;PWNED␇evil" in text
            assert app.is_running
    finally:
        service.db.close()


@run_async
async def test_a_running_actions_output_is_followed_like_tail_f(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    """Output written by the executor (here: another connection) appears in the detail
    pane while the action runs; the table's cursor stays where it was."""
    db_target.execute("UPDATE remediation_actions SET status = 'executing' WHERE id = 2")
    async with running(svc) as (app, pilot):
        await pilot.press("p")  # all actions, newest first: 3, 2, 1
        await wait_until(pilot, lambda: screen(app).table.action_ids == [3, 2, 1], "all")
        await pilot.press("down")
        await wait_until(pilot, lambda: "no output yet" in detail_text(app), "running")
        table = screen(app).table
        with other_connection(db_target) as executor:
            executor.add_output(2, [("stdout", "Reading package lists...\nBuilding dep")])
            await wait_until(pilot, lambda: "Building dep" in detail_text(app), "first chunk")
            executor.add_output(2, [("stdout", "endency tree...\n"), ("stderr", "W: \x1b[2J\n")])
            await wait_until(pilot, lambda: "W: ␛[2J" in detail_text(app), "second chunk")
            assert "Building dependency tree..." in detail_text(app)
            for n in range(30):
                executor.add_output(2, [("stdout", f"Unpacking package-{n:02d} ...\n")])
            await wait_until(pilot, lambda: "package-29" in detail_text(app), "the tail")
        text = detail_text(app)
        assert "Unpacking package-18 ..." in text
        assert "Unpacking package-17 ..." not in text  # the last 12 lines only
        assert table.highlighted_id == 2
        db_target.execute("UPDATE remediation_actions SET status = 'completed' WHERE id = 2")
        await wait_until(pilot, lambda: "Output (live)" not in detail_text(app), "finished")
