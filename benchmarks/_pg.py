"""The PostgreSQL column of benchmarks/run.py: the service next to plain psycopg on the
same server in the same run, 8 processes contending, and propagation by notification.

The database is built as run.py builds SQLite's (benchmarks/_dbgen.py), then copied into
a fresh PostgreSQL database with `copy-to`'s own code (storage/copying.py)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

import _dbgen
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.storage.copying import copy_database

HERE = Path(__file__).resolve().parent
CONTENDER = HERE / "_contender.py"

#: The JSON keys this adds, when a server is given.
PG_KEYS = (
    "pg_raw_per_s",
    "pg_approve_per_s",
    "pg_approve_ratio",
    "pg_contention_per_s",
    "pg_contention_errors",
    "pg_propagation_ms_p50",
    "pg_propagation_ms_p95",
    "pg_screen_propagation_ms_p50",
    "pg_screen_propagation_ms_p95",
)

# The service's transaction written by hand for psycopg: the conditional UPDATE, the row
# read back with its server, and the event, in one transaction (READ COMMITTED).
RAW_UPDATE = (
    "UPDATE remediation_actions SET status = 'approved', approved_at = %s, approved_by = %s"
    " WHERE id = %s AND status = 'pending'"
)
RAW_READ = (
    "SELECT remediation_actions.*,"
    " coalesce(servers.display_name, servers.hostname, remediation_actions.server_id),"
    " servers.is_paused FROM remediation_actions"
    " LEFT OUTER JOIN servers ON servers.id = remediation_actions.server_id"
    " WHERE remediation_actions.id = %s"
)
RAW_EVENT = (
    "INSERT INTO action_events (action_id, from_status, to_status, actor, at, reason)"
    " VALUES (%s, 'pending', 'approved', %s, %s, NULL)"
)


def fresh_database(admin_url: str, name: str, source: Path) -> str:
    """A new database `name` on the server, filled from the SQLite file `source`."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    src, dst = open_database(source), open_database(url=url)
    try:
        copy_database(src, dst, lambda _table, _done, _total: None)
    finally:
        src.close()
        dst.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return url


def drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _rate(run: Callable[[range], None], ids: range) -> float:
    started = time.perf_counter()
    run(ids)
    return len(ids) / (time.perf_counter() - started)


def measure_approve(admin_url: str, folder: Path, rounds: int, chunk: int) -> dict[str, Any]:
    """Plain psycopg and the service on two identical databases of one server, in
    alternating rounds of the same ids: medians."""
    warmup = 20
    count = rounds * chunk + warmup
    source = _dbgen.build(folder / "pg-approve.db", total=count, pending=count)
    raw_url = fresh_database(admin_url, "bench_pg_raw", source)
    service_url = fresh_database(admin_url, "bench_pg_service", source)
    raw = psycopg.connect(raw_url)
    db = open_database(url=service_url)
    service = ApprovalService(db)

    def raw_approvals(ids: Iterable[int]) -> None:
        for action_id in ids:
            at = time.time()
            moment = _naive_utc(at)
            with raw.transaction():
                cursor = raw.execute(RAW_UPDATE, (moment, "bench", action_id))
                if cursor.rowcount == 1:
                    raw.execute(RAW_READ, (action_id,)).fetchall()
                    raw.execute(RAW_EVENT, (action_id, "bench", moment))

    def approvals(ids: Iterable[int]) -> None:
        for action_id in ids:
            service.approve(action_id, "bench")

    sides: list[tuple[list[float], Callable[[range], None]]] = [
        ([], raw_approvals),
        ([], approvals),
    ]
    try:
        for _, run in sides:
            run(range(1, warmup + 1))
        for round_ in range(rounds):
            first = warmup + 1 + round_ * chunk
            ids = range(first, first + chunk)
            for rates, run in sides[round_ % 2 :] + sides[: round_ % 2]:
                rates.append(_rate(run, ids))
    finally:
        raw.close()
        db.close()
        drop(admin_url, "bench_pg_raw")
        drop(admin_url, "bench_pg_service")
    raw_median, service_median = (statistics.median(r) for r, _ in sides)
    return {
        "pg_raw_per_s": raw_median,
        "pg_approve_per_s": service_median,
        "pg_approve_ratio": service_median / raw_median,
    }


def _naive_utc(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def measure_contention(
    admin_url: str, folder: Path, contenders: int, attempts: int, pending: int, hot: int
) -> dict[str, Any]:
    source = _dbgen.build(folder / "pg-contention.db", total=pending, pending=pending)
    url = fresh_database(admin_url, "bench_pg_contention", source)
    ids = _dbgen.pending_ids(pending, pending)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(CONTENDER),
                url,
                str(seed),
                str(attempts),
                str(ids[0]),
                str(ids[-1]),
                str(hot),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in range(contenders)
    ]
    try:
        for proc in procs:
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
        with psycopg.connect(url) as conn:
            decided = conn.execute(
                "SELECT count(*) FROM action_events WHERE from_status = 'pending'"
            ).fetchone()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        drop(admin_url, "bench_pg_contention")
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    successes = sum(r["successes"] for r in results)
    if decided is None or decided[0] != successes:
        raise RuntimeError(f"{successes} decisions reported, {decided} in the database")
    return {
        "pg_contention_per_s": successes / wall,
        "pg_contention_errors": sum(r["errors"] for r in results),
        "_pg_conflicts": sum(r["conflicts"] for r in results),
        "_pg_error_samples": [s for r in results for s in r["error_samples"]][:3],
    }


def measure_propagation(admin_url: str, folder: Path, samples: int) -> dict[str, Any]:
    """Commit in one connection -> the change token of another open database (its LISTEN
    connection) has moved: what a console on another host waits for before it reads."""
    source = _dbgen.build(folder / "pg-propagation.db", total=samples + 10, pending=samples + 10)
    url = fresh_database(admin_url, "bench_pg_propagation", source)
    watcher = open_database(url=url)
    writer = open_database(url=url)
    service = ApprovalService(writer)
    delays: list[float] = []
    try:
        for action_id in range(1, samples + 1):
            before = watcher.change_token()
            started = time.perf_counter()
            service.approve(action_id, "bench")  # the decision's own time is counted too
            while watcher.change_token() == before:
                if time.perf_counter() - started > 10:
                    raise RuntimeError("no notification within 10 s")
                time.sleep(0.0005)
            delays.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    finally:
        watcher.close()
        writer.close()
        drop(admin_url, "bench_pg_propagation")
    delays.sort()
    return {
        "pg_propagation_ms_p50": statistics.median(delays),
        "pg_propagation_ms_p95": delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))],
    }
