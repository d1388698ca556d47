"""The benchmark harness: the service next to raw sqlite3, and the console, in one run.

    python benchmarks/run.py [--quick] [--json PATH]

Builds its own databases in a temporary folder, measures everything, prints a table with
the targets, and with --json writes one JSON object holding exactly the keys of `KEYS`
(all numbers). --quick runs the same code on tiny sizes, in seconds, for the test suite:
its numbers say the harness works, not how fast anything is.

Every console figure comes from a real headless app (`App.run_test()`) in its own OS
process (benchmarks/_tui_probe.py); every change it sees is committed by another process
(this one, or benchmarks/_contender.py for contention).
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import platform
import queue
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _dbgen
import _pg
import homelab_approvals
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.tui.table import FRESH_SECONDS

HERE = Path(__file__).resolve().parent
#: A PostgreSQL superuser's URL: the PostgreSQL column is measured too (see _pg.py).
PG_URL_ENV = "HOMELAB_APPROVALS_BENCH_PG_URL"
PROBE = HERE / "_tui_probe.py"
CONTENDER = HERE / "_contender.py"

#: The JSON keys, in order: exactly these, all numbers.
KEYS = (
    "raw_sqlite_per_s",
    "approve_per_s",
    "approve_ratio",
    "approve_same_txn_ratio",
    "cli_decision_ms",
    "cli_decision_ratio",
    "contention_per_s",
    "contention_errors",
    "propagation_ms_p50",
    "propagation_ms_p95",
    "first_screen_s",
    "refresh_1pct_ms",
    "idle_cpu_percent",
    "peak_rss_mb",
    "executor_claim_ms_p50",
    "executor_claim_ms_p95",
    "executor_idle_cpu_percent",
)

#: key -> (label, unit, target as text, passes(value)); None: reported, no target.
TARGETS: dict[str, tuple[str, str, str, Callable[[float], bool] | None]] = {
    "raw_sqlite_per_s": ("raw sqlite3 conditional UPDATE", "/s", "(reference)", None),
    "approve_per_s": ("service approve, one per call", "/s", "", None),
    # The reference writes no audit row: SQLite itself caps this near 0.57 (see README).
    "approve_ratio": ("approve / raw", "", ">= 0.45", lambda v: v >= 0.45),
    "approve_same_txn_ratio": ("approve / sqlite3, same txn", "", ">= 0.9", lambda v: v >= 0.9),
    "cli_decision_ms": ("CLI approve, process start -> exit", "ms", "", None),
    "cli_decision_ratio": ("CLI approve / python3 -c sqlite3", "", "<= 4", lambda v: v <= 4),
    "contention_per_s": ("8 processes, decisions committed", "/s", "(report)", None),
    "contention_errors": ("8 processes, errors", "", "0", lambda v: v == 0),
    "propagation_ms_p50": ("commit -> on screen, p50", "ms", "", None),
    "propagation_ms_p95": ("commit -> on screen, p95", "ms", "<= 250", lambda v: v <= 250),
    "first_screen_s": ("process start -> first rows", "s", "<= 0.8", lambda v: v <= 0.8),
    "refresh_1pct_ms": ("apply a 1% change", "ms", "<= 50", lambda v: v <= 50),
    "idle_cpu_percent": ("idle CPU, one core", "%", "<= 1", lambda v: v <= 1),
    "peak_rss_mb": ("peak RSS, 100,000 actions", "MB", "<= 100", lambda v: v <= 100),
    "executor_claim_ms_p50": ("executor: commit -> claim, p50", "ms", "", None),
    "executor_claim_ms_p95": (
        "executor: commit -> claim, p95",
        "ms",
        "<= 1000",
        lambda v: v <= 1000,
    ),
    "executor_idle_cpu_percent": ("executor: idle CPU, one core", "%", "<= 1", lambda v: v <= 1),
    "pg_raw_per_s": ("PostgreSQL: plain psycopg, same transaction", "/s", "(reference)", None),
    "pg_approve_per_s": ("PostgreSQL: service approve", "/s", "", None),
    "pg_approve_ratio": ("PostgreSQL: approve / psycopg", "", ">= 0.8", lambda v: v >= 0.8),
    "pg_contention_per_s": ("PostgreSQL: 8 processes, committed", "/s", "(report)", None),
    "pg_contention_errors": ("PostgreSQL: 8 processes, errors", "", "0", lambda v: v == 0),
    "pg_propagation_ms_p50": ("PostgreSQL: decision -> notified, p50", "ms", "", None),
    "pg_propagation_ms_p95": (
        "PostgreSQL: decision -> notified, p95",
        "ms",
        "<= 100",
        lambda v: v <= 100,
    ),
    "pg_screen_propagation_ms_p50": ("PostgreSQL: commit -> on screen, p50", "ms", "", None),
    "pg_screen_propagation_ms_p95": (
        "PostgreSQL: commit -> on screen, p95",
        "ms",
        "<= 100",
        lambda v: v <= 100,
    ),
}

#: How long to wait for the headless app to show a change before calling the run broken.
SHOW_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sizes:
    approve_rounds: int  # alternating raw / service rounds; medians are reported
    approve_chunk: int  # transactions per round and side
    cli_runs: int  # CLI approvals, each beside a python3 -c doing its transaction
    contenders: int
    contender_attempts: int
    contention_pending: int
    contention_hot: int  # ids every contender starts on, to force races
    console_total: int
    console_pending: int
    first_screen_runs: int
    propagation_samples: int
    pg_screen_samples: int  # PostgreSQL: commits by another connection, timed on screen
    idle_seconds: float
    executor_claims: int
    executor_idle_seconds: float


FULL = Sizes(
    approve_rounds=9,
    approve_chunk=2000,
    cli_runs=15,
    contenders=8,
    contender_attempts=1500,
    contention_pending=20_000,
    contention_hot=50,
    console_total=100_000,
    console_pending=10_000,
    first_screen_runs=3,
    propagation_samples=20,
    pg_screen_samples=50,
    idle_seconds=10.0,
    executor_claims=50,
    executor_idle_seconds=60.0,
)
QUICK = Sizes(
    approve_rounds=2,
    approve_chunk=100,
    cli_runs=2,
    contenders=8,
    contender_attempts=20,
    contention_pending=200,
    contention_hot=5,
    console_total=2_000,
    console_pending=300,
    first_screen_runs=1,
    propagation_samples=3,
    pg_screen_samples=3,
    idle_seconds=1.0,
    executor_claims=3,
    executor_idle_seconds=1.0,
)


def log(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# -- the service next to raw sqlite3 -------------------------------------------------------

#: The service's transaction written by hand: what plain sqlite3 needs for the same work.
SAME_UPDATE = (
    "UPDATE remediation_actions SET status = 'approved', approved_at = ?, approved_by = ?"
    " WHERE id = ? AND status = 'pending'"
)
SAME_READ = (
    "SELECT remediation_actions.*,"
    " coalesce(servers.display_name, servers.hostname, remediation_actions.server_id),"
    " servers.is_paused FROM remediation_actions"
    " LEFT OUTER JOIN servers ON servers.id = remediation_actions.server_id"
    " WHERE remediation_actions.id = ?"
)
SAME_EVENT = (
    "INSERT INTO action_events (action_id, from_status, to_status, actor, at, reason, command)"
    " VALUES (?, 'pending', 'approved', ?, ?, NULL, ?)"
)
RAW_UPDATE = (
    "UPDATE remediation_actions SET status = 'approved' WHERE id = ? AND status = 'pending'"
)


def _raw_connection(path: Path, *, isolation_level: str | None = "") -> sqlite3.Connection:
    """Plain sqlite3 as anyone would use it: default transaction handling (an implicit
    BEGIN before the UPDATE, `commit()` after), WAL (set in the file when our schema
    created it), synchronous=NORMAL, as the service's connections have.
    `isolation_level=None` leaves transactions to the caller, as the service does."""
    conn = sqlite3.connect(path, isolation_level=isolation_level)
    conn.execute("PRAGMA synchronous = NORMAL")
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":
        raise RuntimeError(f"expected a WAL database, got journal_mode={mode}")
    return conn


def _rate(run: Callable[[range], None], ids: range) -> float:
    started = time.perf_counter()
    run(ids)
    return len(ids) / (time.perf_counter() - started)


def measure_approve(folder: Path, sizes: Sizes) -> dict[str, Any]:
    """Raw sqlite3 and the service on identical databases, in alternating rounds of the
    same ids (this machine is noisy: medians of rounds, same run). A third side: plain
    sqlite3 doing exactly the service's transaction (BEGIN IMMEDIATE, the conditional
    UPDATE, reading the row back with its server, the event INSERT, COMMIT), the best any
    code could do with that work: `approve_same_txn_ratio` is the service against it."""
    warmup = 20
    count = sizes.approve_rounds * sizes.approve_chunk + warmup
    paths = {
        name: _dbgen.build(folder / f"{name}.db", total=count, pending=count)
        for name in ("raw", "service", "same_work")
    }
    raw = _raw_connection(paths["raw"])
    same = _raw_connection(paths["same_work"], isolation_level=None).cursor()
    db = open_database(paths["service"])
    service = ApprovalService(db)

    def raw_updates(ids: Iterable[int]) -> None:
        for action_id in ids:
            raw.execute(RAW_UPDATE, (action_id,))
            raw.commit()

    def approvals(ids: Iterable[int]) -> None:
        for action_id in ids:
            service.approve(action_id, "bench")

    def same_work(ids: Iterable[int]) -> None:
        for action_id in ids:
            at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            # The service's transaction control: the write lock up front, so concurrent
            # writers queue (and a cached BEGIN is cheaper than sqlite3's implicit one).
            same.execute("BEGIN IMMEDIATE")
            if same.execute(SAME_UPDATE, (at, "bench", action_id)).rowcount == 1:
                row = same.execute(SAME_READ, (action_id,)).fetchone()
                same.execute(SAME_EVENT, (action_id, "bench", at, row[5]))  # 5: command
            same.execute("COMMIT")

    sides: list[tuple[list[float], Callable[[range], None]]] = [
        ([], raw_updates),
        ([], approvals),
        ([], same_work),
    ]
    for _, run in sides:
        run(range(1, warmup + 1))  # statement caches, compiled statements, pages
    for round_ in range(sizes.approve_rounds):
        first = warmup + 1 + round_ * sizes.approve_chunk
        ids = range(first, first + sizes.approve_chunk)
        for rates, run in sides[round_ % 3 :] + sides[: round_ % 3]:  # rotate the order
            rates.append(_rate(run, ids))
    raw.close()
    same.connection.close()
    db.close()
    for name in ("service", "same_work"):
        approved = _count(paths[name], "SELECT count(*) FROM remediation_actions WHERE status = ?")
        events = _count(paths[name], "SELECT count(*) FROM action_events WHERE to_status = ?")
        if approved != count or events != count:
            raise RuntimeError(f"{name}: {approved} approved with {events} events, not {count}")
    raw_median, service_median, same_median = (statistics.median(r) for r, _ in sides)
    return {
        "raw_sqlite_per_s": raw_median,
        "approve_per_s": service_median,
        "approve_ratio": service_median / raw_median,
        "approve_same_txn_ratio": service_median / same_median,
        "_same_work_per_s": same_median,
    }


def _count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql, ("approved",)).fetchone()[0])
    finally:
        conn.close()


#: The CLI's transaction written with plain sqlite3 in a fresh interpreter (`python3 -c`):
#: the write lock, the conditional UPDATE, the row read back, the event row.
CLI_REFERENCE = f"""
import sqlite3, sys
from datetime import UTC, datetime
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA busy_timeout = 5000")
conn.execute("PRAGMA synchronous = NORMAL")
aid = int(sys.argv[2])
at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
conn.execute("BEGIN IMMEDIATE")
if conn.execute({SAME_UPDATE!r}, (at, "bench", aid)).rowcount == 1:
    row = conn.execute({SAME_READ!r}, (aid,)).fetchone()
    conn.execute({SAME_EVENT!r}, (aid, "bench", at, row[5]))
conn.execute("COMMIT")
print("approved", aid)
"""


def measure_cli_decision(folder: Path, sizes: Sizes) -> dict[str, Any]:
    """`homelab-approvals --db X approve ID`, process start to exit, beside `python3 -c`
    doing the same transaction with sqlite3, alternating on one database (medians)."""
    runs = sizes.cli_runs
    compileall.compile_dir(Path(homelab_approvals.__file__).parent, quiet=1)  # as installed
    total = 2 * runs + 2
    path = _dbgen.build(folder / "cli.db", total=total, pending=total)
    config = folder / "cli-config.toml"
    config.write_text("")  # the user's own config must not change what is measured
    ids = iter(_dbgen.pending_ids(total, total))
    cli = [sys.executable, "-m", "homelab_approvals", "--db", str(path), "--config", str(config)]
    cli += ["--operator", "bench", "approve"]
    reference = [sys.executable, "-c", CLI_REFERENCE, str(path)]

    def timed(command: list[str]) -> float:
        started = time.perf_counter()
        done = subprocess.run([*command, str(next(ids))], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or not done.stdout.startswith("approved"):
            raise RuntimeError(f"{command[:3]} failed: {done.stderr or done.stdout}")
        return elapsed

    timed(cli), timed(reference)  # warm the page cache and the .pyc files
    cli_s: list[float] = []
    reference_s: list[float] = []
    for round_ in range(runs):
        pair = [(cli_s, cli), (reference_s, reference)]
        for times, command in pair if round_ % 2 else pair[::-1]:
            times.append(timed(command))
    events = _count(path, "SELECT count(*) FROM action_events WHERE to_status = ?")
    if events != total:
        raise RuntimeError(f"CLI benchmark: {events} approval events, not {total}")
    cli_median, reference_median = statistics.median(cli_s), statistics.median(reference_s)
    return {
        "cli_decision_ms": cli_median * 1000,
        "cli_decision_ratio": cli_median / reference_median,
        "_cli_reference_ms": reference_median * 1000,
    }


def measure_contention(folder: Path, sizes: Sizes) -> dict[str, Any]:
    """N OS processes deciding random pending actions of one database, racing on some."""
    total = pending = sizes.contention_pending
    path = _dbgen.build(folder / "contention.db", total=total, pending=pending)
    ids = _dbgen.pending_ids(total, pending)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(CONTENDER),
                str(path),
                str(seed),
                str(sizes.contender_attempts),
                str(ids[0]),
                str(ids[-1]),
                str(sizes.contention_hot),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in range(sizes.contenders)
    ]
    try:
        for proc in procs:  # every one has imported and opened the database
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a contender failed to start")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    successes = sum(r["successes"] for r in results)
    samples = [s for r in results for s in r["error_samples"]]
    decided = _decided(path)
    if decided != successes:
        raise RuntimeError(f"{successes} decisions reported, {decided} in the database")
    return {
        "contention_per_s": successes / wall,
        "contention_errors": sum(r["errors"] for r in results),
        "_conflicts": sum(r["conflicts"] for r in results),
        "_attempts_per_s": sum(r["successes"] + r["conflicts"] for r in results) / wall,
        "_error_samples": samples[:3],
    }


def _decided(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        sql = "SELECT count(*) FROM remediation_actions WHERE status != 'pending'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# -- the console ---------------------------------------------------------------------------


class ProbeProcess:
    """A headless console in its own process; its JSON lines arrive on a queue."""

    def __init__(self, db: Path | str, *args: str) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, str(PROBE), str(db), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, event: str, timeout: float = SHOW_TIMEOUT) -> dict[str, Any]:
        """The next line of kind `event` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, remaining))
            except queue.Empty:
                raise RuntimeError(f"the headless console sent no {event!r} in time") from None
            if line is None or line["event"] == "died":
                raise RuntimeError(
                    f"the headless console stopped before {event!r} (its traceback is above)"
                )
            if line["event"] == event:
                return line

    def until_gone(self, ids: set[int]) -> list[dict[str, Any]]:
        """The `shown` lines up to the one after which none of `ids` is on screen."""
        waiting = set(ids)
        seen = []
        while waiting:
            line = self.next("shown")
            seen.append(line)
            waiting -= set(line["gone"])
        return seen

    def until_pending(self, count: int) -> list[dict[str, Any]]:
        """The `shown` lines up to the one whose header counts `count` pending."""
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["pending"] != count:
            seen.append(self.next("shown"))
        return seen

    def finish(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the probe's signal to report RSS and exit
        rss = self.next("rss")
        self.proc.wait(timeout=SHOW_TIMEOUT)
        return rss

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def probe(db: Path | str, *args: str) -> Iterator[ProbeProcess]:
    process = ProbeProcess(db, *args)
    try:
        yield process
    finally:
        process.kill()


def percentile(values: list[float], pct: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(pct) - 1]


def measure_console(folder: Path, sizes: Sizes) -> dict[str, Any]:
    total, pending = sizes.console_total, sizes.console_pending
    path = _dbgen.build(folder / "console.db", total=total, pending=pending)
    result: dict[str, Any] = {}
    rss_kb: list[int] = []

    # First screen: a fresh process each time, from before it is started. With the
    # package's bytecode compiled first, as pip does when it installs: otherwise the
    # first run after an edit (every run, under PYTHONDONTWRITEBYTECODE, which some
    # containers set) times Python compiling the edited modules.
    compileall.compile_dir(Path(homelab_approvals.__file__).parent, quiet=1)
    first_screens, phases = [], []
    for _ in range(sizes.first_screen_runs):
        with probe(path, "--exit-when-full") as app:
            started = app.next("started")
            shown = app.next("shown")
            first_screens.append(shown["t"] - app.started)
            phases.append(
                (
                    started["imported"] - app.started,
                    started["opened"] - started["imported"],
                    shown["t"] - started["opened"],
                )
            )
            rss_kb.append(app.next("rss")["maxrss_kb"])
    result["first_screen_s"] = statistics.median(first_screens)
    result["_first_screen_phases"] = [statistics.median(p) for p in zip(*phases, strict=True)]

    db = open_database(path)
    service = ApprovalService(db)
    window = list(_dbgen.pending_ids(total, pending))  # the pending view: oldest first
    rng = random.Random(4)
    with probe(path, "--idle", str(sizes.idle_seconds)) as app:
        idle = app.next("idle", timeout=SHOW_TIMEOUT + sizes.idle_seconds)
        result["idle_cpu_percent"] = 100 * idle["cpu_s"] / idle["wall_s"]
        app.next("listening")
        shown_rows = min(len(window), 1000)

        # Propagation: one decision at a time, at random moments of the poll cycle.
        latencies = []
        for _ in range(sizes.propagation_samples):
            time.sleep(rng.uniform(0.05, 0.4))
            action_id = rng.choice(window[:shown_rows])
            service.approve(action_id, "bench-other-process")
            committed = time.monotonic()
            window.remove(action_id)
            seen = app.until_gone({action_id})
            latencies.append((seen[-1]["t"] - committed) * 1000)
        result["propagation_ms_p50"] = statistics.median(latencies)
        result["propagation_ms_p95"] = percentile(latencies, 95)

        # 1% of the pending actions decided at once by another process: any of them (so
        # about a tenth are rows on screen), then, as a worst case, all of them on screen.
        for key in ("", "_on_screen"):
            # Rows that arrived earlier lose their highlight after FRESH_SECONDS; that
            # repaint is not part of this refresh.
            time.sleep(FRESH_SECONDS + 0.5)
            pool = window[:shown_rows] if key else window
            batch = rng.sample(pool, max(1, pending // 100))
            for action_id in batch:
                service.approve(action_id, "bench-other-process")
                window.remove(action_id)
            seen = app.until_pending(len(window))
            # The UI thread's CPU from starting to apply the rows until the screen was
            # refreshed (the table measures new rows on idle, after the app's handler).
            result[f"refresh_1pct{key}_ms"] = sum(line["busy_ms"] for line in seen)
            result[f"_refresh_1pct{key}_handler_ms"] = sum(line["apply_ms"] for line in seen)
            result[f"_refresh_1pct{key}_refreshes"] = len(seen)
        rss_kb.append(app.finish()["maxrss_kb"])
    db.close()
    result["peak_rss_mb"] = max(rss_kb) / 1024  # ru_maxrss is in KiB on Linux
    result["_latencies"] = latencies
    return result


# -- the executor ----------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_executor(folder: Path, sizes: Sizes) -> dict[str, Any]:
    """A real `homelab-approvals executor` process, idle, then picking up approvals made
    by this process one at a time, at random moments of its poll cycle: commit -> the
    claim's executed_at. Its ssh goes to a closed local port and fails at once; only the
    claim is timed."""
    path = folder / "executor.db"
    db = open_database(path)
    service = ApprovalService(db)
    service.add_server("bench", "bench-host", paused=True)
    ssh_config = folder / "ssh_config"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there now: connection refused, at once
    ssh_config.write_text(f"Host bench-host\n  HostName 127.0.0.1\n  Port {port}\n")
    log_path = folder / "executor.log"
    argv = [sys.executable, "-m", "homelab_approvals", "--db", str(path), "executor"]
    argv += ["--ssh-config", str(ssh_config), "--name", "bench"]
    result: dict[str, Any] = {}
    with log_path.open("w") as sink:
        worker = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=sink)
        try:
            deadline = time.monotonic() + SHOW_TIMEOUT
            while "started" not in log_path.read_text():
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError(f"the executor did not start: {log_path.read_text()}")
                time.sleep(0.05)
            time.sleep(1.0)  # past its start-up work
            cpu, wall = _cpu_seconds(worker.pid), time.monotonic()
            time.sleep(sizes.executor_idle_seconds)
            cpu, wall = _cpu_seconds(worker.pid) - cpu, time.monotonic() - wall
            result["executor_idle_cpu_percent"] = 100 * cpu / wall
            rng = random.Random(11)
            latencies = []
            for n in range(sizes.executor_claims):
                action = service.create_action("bench", "clear_logs", actor="bench")
                time.sleep(rng.uniform(0.05, 0.3))
                service.approve(action.id, "bench-approver")
                committed = datetime.now(UTC)
                deadline = time.monotonic() + SHOW_TIMEOUT
                while (claimed := service.get_action(action.id).executed_at) is None:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"approval {n} was not claimed")
                    time.sleep(0.005)
                latencies.append(max(0.0, (claimed - committed).total_seconds() * 1000))
                while service.get_action(action.id).status == "executing":
                    time.sleep(0.01)  # the worker idle again before the next one
            result["executor_claim_ms_p50"] = statistics.median(latencies)
            result["executor_claim_ms_p95"] = percentile(latencies, 95)
        finally:
            worker.terminate()
            worker.wait(30)
    db.close()
    return result


# -- output --------------------------------------------------------------------------------


def measure_postgres(url: str, folder: Path, sizes: Sizes) -> dict[str, Any]:
    log("PostgreSQL: approve vs plain psycopg ...")
    results = _pg.measure_approve(url, folder, sizes.approve_rounds, sizes.approve_chunk // 2)
    log("PostgreSQL: contention ...")
    results.update(
        _pg.measure_contention(
            url,
            folder,
            sizes.contenders,
            sizes.contender_attempts // 3,
            sizes.contention_pending // 4,
            sizes.contention_hot,
        )
    )
    log("PostgreSQL: propagation by notification ...")
    results.update(_pg.measure_propagation(url, folder, sizes.propagation_samples * 5))
    log("PostgreSQL: propagation onto a console's screen ...")
    results.update(measure_pg_console(url, folder, sizes))
    return results


def measure_pg_console(admin_url: str, folder: Path, sizes: Sizes) -> dict[str, Any]:
    """A headless console on PostgreSQL in its own process; this process commits one
    decision at a time on its own connection, at random moments: commit -> the row gone
    from the console's screen (its LISTEN connection woken by the notification)."""
    total, pending = sizes.pg_screen_samples * 10, sizes.pg_screen_samples * 2
    source = _dbgen.build(folder / "pg-console.db", total=total, pending=pending)
    name = f"bench_pg_console_{os.getpid()}"  # the server may be shared: a name of its own
    url = _pg.fresh_database(admin_url, name, source)
    db = open_database(url=url)
    service = ApprovalService(db)
    window = list(_dbgen.pending_ids(total, pending))
    rng = random.Random(12)
    latencies = []
    try:
        with probe(url) as app:
            app.next("listening")
            for _ in range(sizes.pg_screen_samples):
                time.sleep(rng.uniform(0.05, 0.4))
                action_id = rng.choice(window)
                service.approve(action_id, "bench-other-host")
                committed = time.monotonic()
                window.remove(action_id)
                seen = app.until_gone({action_id})
                latencies.append((seen[-1]["t"] - committed) * 1000)
            app.finish()
    finally:
        db.close()
        _pg.drop(admin_url, name)
    return {
        "pg_screen_propagation_ms_p50": statistics.median(latencies),
        "pg_screen_propagation_ms_p95": percentile(latencies, 95),
        "_pg_screen_latencies": latencies,
    }


def machine() -> dict[str, str]:
    import sqlalchemy
    import textual

    return {
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "textual": getattr(textual, "__version__", "?"),
        "platform": platform.platform(terse=True),
        # Other work on a shared machine moves every number; this says how busy it was.
        "load": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def _shown(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "":
        return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.1f} {unit}"


_KEY_WIDTH = max(len(key) for key in KEYS)


def table(results: dict[str, Any], info: dict[str, str], quick: bool) -> str:
    title = "homelab-approvals benchmarks"
    lines = [
        title + (" (--quick: tiny sizes, the numbers mean nothing)" if quick else ""),
        "machine: {cores} cores, Python {python}, SQLite {sqlite}, SQLAlchemy {sqlalchemy}, "
        "Textual {textual}, {platform}; load average at the end {load}".format(**info),
        "",
        f"{'key':<{_KEY_WIDTH}} {'measurement':<34} {'value':>12}  {'target':<12} result",
        f"{'-' * _KEY_WIDTH} {'-' * 34} {'-' * 12}  {'-' * 12} ------",
    ]
    for key in [key for key in TARGETS if key in results]:
        label, unit, target, passes = TARGETS[key]
        value = results[key]
        verdict = "" if passes is None else ("pass" if passes(value) else "MISS")
        row = f"{key:<{_KEY_WIDTH}} {label:<34} {_shown(value, unit):>12}  {target:<12} {verdict}"
        lines.append(row.rstrip())
    if "_pg_conflicts" in results:
        samples = results["_pg_error_samples"]
        lines += [
            "",
            f"PostgreSQL contention: {results['_pg_conflicts']} clean conflicts"
            + (f"; errors such as {samples}" if samples else ""),
        ]
    if "_first_screen_phases" not in results:
        return "\n".join(lines)
    imports, opening, first_rows = results["_first_screen_phases"]
    same = results["_same_work_per_s"]
    lines += [
        "",
        f"plain sqlite3 doing approve's whole transaction (BEGIN IMMEDIATE, UPDATE, "
        f"SELECT of the row, event INSERT, COMMIT): {same:,.0f}/s, "
        f"{same / results['raw_sqlite_per_s']:.2f} of the reference (the ceiling for "
        f"approve_ratio); approve reaches {results['approve_same_txn_ratio']:.2f} of that",
        f"CLI approve {results['cli_decision_ms']:.0f} ms beside python3 -c doing its "
        f"transaction with sqlite3 {results['_cli_reference_ms']:.0f} ms (medians, "
        "alternating, process start to exit)",
        f"first screen: imports {imports:.2f} s, first window read (or database opened) "
        f"{opening:.2f} s, first rows on screen {first_rows:.2f} s",
        f"contention: {results['_attempts_per_s']:,.0f} calls/s including "
        f"{results['_conflicts']} clean conflicts",
        f"1% refresh: {results['_refresh_1pct_refreshes']} refresh(es), the app's own "
        f"handler timing {results['_refresh_1pct_handler_ms']:.1f} ms of it; with all of "
        f"the 1% on screen: {results['refresh_1pct_on_screen_ms']:.1f} ms in "
        f"{results['_refresh_1pct_on_screen_refreshes']} refresh(es), handler "
        f"{results['_refresh_1pct_on_screen_handler_ms']:.1f} ms",
    ]
    if results["_error_samples"]:
        lines.append(f"contention errors, first few: {results['_error_samples']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, in seconds")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    parser.add_argument(
        "--pg-url",
        metavar="URL",
        default=os.environ.get(PG_URL_ENV) or None,
        help=f"also measure PostgreSQL on this server (a superuser's URL; ${PG_URL_ENV})",
    )
    parser.add_argument("--only-pg", action="store_true", help="only the PostgreSQL column")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    results: dict[str, Any] = {}
    keys: tuple[str, ...] = () if args.only_pg else KEYS
    with tempfile.TemporaryDirectory(prefix="homelab-approvals-bench-") as tmp:
        folder = Path(tmp)
        if not args.only_pg:
            log("approve vs raw sqlite3 ...")
            results.update(measure_approve(folder, sizes))
            log("CLI approve vs python3 -c ...")
            results.update(measure_cli_decision(folder, sizes))
            log("contention ...")
            results.update(measure_contention(folder, sizes))
            log("console ...")
            results.update(measure_console(folder, sizes))
            log("executor ...")
            results.update(measure_executor(folder, sizes))
        if args.pg_url:
            results.update(measure_postgres(args.pg_url, folder, sizes))
            keys += _pg.PG_KEYS
    numbers = {key: float(results[key]) for key in keys}
    if not all(math.isfinite(v) for v in numbers.values()):
        raise RuntimeError(f"a measurement is not a number: {numbers}")
    print(table(results, machine(), args.quick))
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
