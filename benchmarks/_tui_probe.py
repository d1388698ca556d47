"""A headless console for the benchmarks: run as its own OS process by benchmarks/run.py.

    python benchmarks/_tui_probe.py DB [--idle SECONDS] [--exit-when-full]

It runs the real app on DB as operator "bench", started exactly as the CLI's `tui`
command starts it (`console_app`, which draws a first window read without SQLAlchemy when
it can), under `App.run_test()` at 80x24. DB may be a PostgreSQL URL: then the database
is opened first, as the CLI's `--database-url ... tui` does.

It reports on stdout, one JSON object a line, first when the app is built:

    {"event": "started", "t": <process start>, "imported": ..., "opened": <app built: its
     first window read, or the database opened>}

then each time the table has applied a window of rows *and the screen has been refreshed
after it*:

    {"event": "shown", "t": <time.monotonic()>, "rows": N, "gone": [ids that left],
     "busy_ms": <UI-thread CPU from applying to painted>, "wall_ms": ...,
     "apply_ms": <the app's own timing of its handler>, "refreshes": k,
     "pending": <the pending count the header shows>}

`time.monotonic()` is CLOCK_MONOTONIC, the same clock in every process on Linux, so the
harness can subtract its own timestamps (process start, a commit) from these.

After the table first holds its full window (and a second to settle) it may measure
idleness (`--idle`), as CPU time of all its threads over wall time:
    {"event": "idle", "cpu_s": ..., "wall_s": ...}
With `--exit-when-full` it then reports peak RSS and exits; otherwise it runs until its
stdin is closed, then reports peak RSS:
    {"event": "rss", "maxrss_kb": ...}

Nothing here polls the app: the table's `show()` is wrapped to report, so the probe adds
no work to the process it measures.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # before the heavy imports: they are part of the first screen

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

from homelab_approvals.storage.backends import read_in_background  # noqa: E402
from homelab_approvals.tui.collector import pause_collector  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--idle", type=float, default=0.0)
    parser.add_argument("--exit-when-full", action="store_true")
    return parser.parse_args(argv)


# What the CLI's console command does before it imports Textual (cli/commands.py).
ARGS = parse_args()
pause_collector()
URL = "://" in ARGS.db
FIRST_WINDOW = None if URL else read_in_background(Path(ARGS.db))

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

from homelab_approvals.tui.app import ApprovalsApp, console_app  # noqa: E402
from homelab_approvals.tui.table import ActionTable  # noqa: E402

IMPORTED = time.monotonic()
#: Before idleness is measured: the tail of loading (the detail pane's history read,
#: garbage collection of the load) is not idleness.
SETTLE_SECONDS = 1.0


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


class Probe:
    def __init__(self, window: int) -> None:
        self.window = window
        self.full = asyncio.Event()
        self.app: ApprovalsApp | None = None

    def install(self) -> None:
        original = ActionTable.show
        probe = self

        def show(table: ActionTable, rows: Sequence[Any], *args: Any, **kwargs: Any) -> None:
            before = set(table.action_ids)
            began = (time.monotonic(), time.thread_time())
            original(table, rows, *args, **kwargs)
            gone = sorted(before - {view.id for view in rows})
            table.call_after_refresh(probe.report, table, len(rows), gone, began)

        ActionTable.show = show  # type: ignore[method-assign,assignment]

    def report(
        self, table: ActionTable, rows: int, gone: list[int], began: tuple[float, float]
    ) -> None:
        screen = table.screen
        now = time.monotonic()
        page = getattr(screen, "page", None)
        emit(
            event="shown",
            t=now,
            rows=rows,
            gone=gone,
            # UI-thread CPU from the start of applying the rows until the screen has been
            # refreshed with them (the table's deferred measuring and the paint included).
            busy_ms=(time.thread_time() - began[1]) * 1000,
            wall_ms=(now - began[0]) * 1000,
            # The app's own timing of its message handler alone.
            apply_ms=getattr(screen, "last_apply_seconds", 0.0) * 1000,
            refreshes=getattr(screen, "refreshes", 0),
            pending=None if page is None else page.pending,  # the header's true count
        )
        expected = self.window if page is None else min(self.window, page.total)
        if rows >= expected:
            self.full.set()


async def main(args: argparse.Namespace = ARGS) -> None:
    if URL:  # as `homelab-approvals --database-url URL tui` does
        from homelab_approvals.service import ApprovalService
        from homelab_approvals.storage import open_database

        service = ApprovalService(open_database(url=args.db))
        app = ApprovalsApp(service, "bench", owns_database=True)
    else:  # as `homelab-approvals --db DB tui` does
        app = console_app(Path(args.db), "bench", first_window=FIRST_WINDOW)
    opened = time.monotonic()
    probe = Probe(app.window)
    probe.install()
    emit(event="started", t=STARTED, imported=IMPORTED, opened=opened)
    stdin_closed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wait_for_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stdin_closed.set)

    async with app.run_test(size=(80, 24)):
        try:
            await while_running(app, probe.full)
            if args.idle:
                await asyncio.sleep(SETTLE_SECONDS)
                cpu, wall = cpu_seconds(), time.monotonic()
                await asyncio.sleep(args.idle)
                emit(event="idle", cpu_s=cpu_seconds() - cpu, wall_s=time.monotonic() - wall)
            if not args.exit_when_full:
                emit(event="listening")
                threading.Thread(target=wait_for_stdin, daemon=True).start()
                await while_running(app, stdin_closed)
        except AppStopped:
            # Leaving run_test() raises what stopped the app: its traceback goes to stderr.
            emit(event="died")
            return
        maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        emit(event="rss", maxrss_kb=maxrss_kb)
    app.close_database()


class AppStopped(Exception):
    pass


async def while_running(app: ApprovalsApp, done: asyncio.Event) -> None:
    """Wait for `done`, but not forever if the app has stopped (an error in the app)."""
    while not done.is_set():
        if not app.is_running:
            raise AppStopped
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.5)


if __name__ == "__main__":
    asyncio.run(main())
