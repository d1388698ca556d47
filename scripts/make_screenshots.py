"""Regenerate screenshots/*.svg for the README, headless and deterministic.

    python scripts/make_screenshots.py [--size 120x30] [--out screenshots] [NAME...]

The demo database is built from a fixed clock and seed, the console's clock is frozen,
and the database label is fixed, so the same code gives the same pictures."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from homelab_approvals.service import ApprovalService
from homelab_approvals.service.demo import build_demo
from homelab_approvals.storage import open_database
from homelab_approvals.tui.app import ApprovalsApp
from homelab_approvals.tui.help import HelpScreen
from homelab_approvals.tui.reject import RejectScreen

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SEED = 0
LABEL = "/srv/homelab/approvals.db"
ROOT = Path(__file__).resolve().parent.parent


def frozen() -> datetime:
    return NOW


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = monotonic() + timeout
    while not condition():
        if monotonic() > deadline:
            raise TimeoutError("the console did not settle")
        await pilot.pause(0.02)


async def settled(app: ApprovalsApp, pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: app.console_screen.settled)


async def main_screen(app: ApprovalsApp, pilot: Pilot[Any]) -> None:
    await settled(app, pilot)
    # An apt upgrade whose plan brings a new kernel and removes a package: the preview.
    await pilot.press("down", "down", "down")
    await wait_for(pilot, lambda: app.console_screen.settled)


async def all_actions(app: ApprovalsApp, pilot: Pilot[Any]) -> None:
    await settled(app, pilot)
    await pilot.press("p")
    await wait_for(pilot, lambda: app.console_screen.settled)
    table = app.console_screen.table
    rejected = next(i for i in table.action_ids if table.view_of(i).status == "rejected")  # type: ignore[union-attr]
    table.select_id(rejected)
    await wait_for(pilot, lambda: app.console_screen.settled)


async def reject_modal(app: ApprovalsApp, pilot: Pilot[Any]) -> None:
    await main_screen(app, pilot)
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, RejectScreen))
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.press(*"Backup job is running until 02:00")


async def help_screen(app: ApprovalsApp, pilot: Pilot[Any]) -> None:
    await settled(app, pilot)
    await pilot.press("question_mark")
    await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))


Prepare = Callable[[ApprovalsApp, Pilot[Any]], Awaitable[None]]
#: name: (what to do first, read-only reason, a fixed size or None for --size)
SHOTS: dict[str, tuple[Prepare, str | None, tuple[int, int] | None]] = {
    "main": (main_screen, None, None),
    "main-80x24": (main_screen, None, (80, 24)),  # an SSH session on a Pi
    "all": (all_actions, None, None),
    "reject-modal": (reject_modal, None, None),
    "help": (help_screen, None, None),
    "read-only": (main_screen, "--read-only was given", None),
}


async def shoot(
    service: ApprovalService,
    name: str,
    size: tuple[int, int],
    out: Path,
) -> Path:
    prepare, read_only, fixed_size = SHOTS[name]
    app = ApprovalsApp(service, "alice", read_only_reason=read_only, clock=frozen)
    async with app.run_test(size=fixed_size or size) as pilot:
        await prepare(app, pilot)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        path = out / f"{name}.svg"
        path.write_text(app.export_screenshot(title="homelab-approvals"), encoding="utf-8")
    return path


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=(120, 30), help="WIDTHxHEIGHT")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("names", nargs="*", choices=[*SHOTS, []], help="default: all")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.db"
        builder = open_database(path)
        build_demo(ApprovalService(builder, clock=frozen), now=NOW, seed=SEED)
        builder.close()
        db = open_database(path)
        db.label = LABEL  # not the temp path, which differs on every run
        service = ApprovalService(db, clock=frozen)
        try:
            for name in args.names or SHOTS:
                written = asyncio.run(shoot(service, name, args.size, args.out))
                shown = written.relative_to(ROOT) if written.is_relative_to(ROOT) else written
                print(f"wrote {shown}")
        finally:
            db.close()


if __name__ == "__main__":
    main()
