"""Preview figures against a real sshd on this machine (run as root, like the ssh tests):

- create -> preview on screen: another process creates an apt action; the executor daemon
  probes it over ssh; the console (headless, real app) shows the plan's warning in the
  table. p50 and p95 over N actions.
- the time the plan check adds before a run (the re-probe), from the executor's log.
- the database writes a chatty command causes through live output, per second.

    python benchmarks/previews_bench.py [--n 20]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from homelab_approvals.service import ApprovalService  # noqa: E402
from homelab_approvals.service.preview_settings import PlanCheck  # noqa: E402
from homelab_approvals.storage import open_database  # noqa: E402
from homelab_approvals.tui.app import ApprovalsApp  # noqa: E402
from sshd_harness import SshServer, remote_end, unavailable_reason  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def executor(db: Path, ssh_config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "homelab_approvals",
            "--db",
            str(db),
            "executor",
            "--ssh-config",
            str(ssh_config),
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )


async def on_screen(db: Path, n: int) -> list[float]:
    service = ApprovalService(open_database(db))
    other = ApprovalService(open_database(db))
    app = ApprovalsApp(service, "bench")
    samples: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        for index in range(n):
            server = f"host-{index}"
            started = time.monotonic()
            action = other.create_action(server, "apt_upgrade_all", actor="bench")
            while True:
                marks = app.console_screen.table._warnings.get(action.id)
                if marks:
                    break
                if time.monotonic() - started > 60:
                    raise SystemExit(f"#{action.id}: no preview on screen after 60 s")
                await pilot.pause(0.005)
            samples.append(time.monotonic() - started)
    service.db.close()
    other.db.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    if (why := unavailable_reason()) is not None:
        raise SystemExit(f"needs sshd: {why}")
    folder = Path(tempfile.mkdtemp(prefix="previews-bench-"))
    server = SshServer.start(folder / "sshd", clients=())
    try:
        remote = remote_end(server, folder / "remote")
        db = folder / "bench.db"
        setup = ApprovalService(open_database(db))
        for index in range(args.n):
            setup.add_server(f"host-{index}", "exec-host", paused=True)
        daemon_log = folder / "daemon.log"
        daemon = executor(db, remote.ssh_config, daemon_log)
        try:
            samples = asyncio.run(on_screen(db, args.n))
        finally:
            daemon.terminate()
            daemon.wait(60)
        print(
            f"create -> preview on screen: p50 {statistics.median(samples):.2f} s, "
            f"p95 {percentile(samples, 0.95):.2f} s over {len(samples)}"
        )

        # The plan check before a run: approve each with its plan bound, run them once.
        for action in setup.list_actions().rows:
            setup.approve(action.id, "bench", plan=PlanCheck.bind_current())
        once_log = folder / "once.log"
        executor(db, remote.ssh_config, once_log, "--once").wait(600)
        checks = [float(x) for x in re.findall(r"plan checked in ([\d.]+) s", once_log.read_text())]
        print(
            f"re-probe before a run: p50 {statistics.median(checks):.2f} s, "
            f"p95 {percentile(checks, 0.95):.2f} s over {len(checks)}"
        )

        # Live output of a chatty command.
        setup.add_server("chatty", "exec-host")
        chatty = setup.create_action("chatty", "restart_service", "chatty-bench", actor="bench")
        chatty_log = folder / "chatty.log"
        executor(db, remote.ssh_config, chatty_log, "--once").wait(600)
        with sqlite3.connect(db) as conn:
            (writes,) = conn.execute(
                "SELECT count(DISTINCT at) FROM approval_output_chunks WHERE action_id = ?",
                (chatty.id,),
            ).fetchone()
        done = setup.get_action(chatty.id)
        seconds = (done.completed_at - done.executed_at).total_seconds()
        lines = (done.stdout or "").count("\n")
        print(
            f"live output: {lines} lines in {seconds:.2f} s -> {writes} writes, "
            f"{writes / seconds:.1f} writes/s"
        )
        setup.db.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
