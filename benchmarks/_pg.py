"""The PostgreSQL column of benchmarks/run.py: the service next to plain psycopg on the
same server in the same run, 8 processes contending, and propagation by notification.

The database is built as run.py builds SQLite's (benchmarks/_dbgen.py), then copied into
a fresh PostgreSQL database with `copy-to`'s own code (storage/copying.py)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

import _dbgen
from homelab_approvals.service import ApprovalService
from homelab_approvals.service import approvals as service_statements
from homelab_approvals.storage import Database, open_database
from homelab_approvals.storage.copying import copy_database
from homelab_approvals.storage.postgres.prepared import PreparedStatement

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

# Plain psycopg runs the service's approve transaction: the same SQL text (compiled from
# the service's own statements: the conditional UPDATE, the row read back with its server,
# the event INSERT, as SQLAlchemy would send them), the same parameters, one transaction
# (BEGIN with the first statement, COMMIT; READ COMMITTED), on a connection the same
# engine code made, so both sides have the same connection settings.
APPROVE_STATEMENTS = (
    service_statements._APPROVE,
    service_statements._ONE_ACTION,
    service_statements._EVENT,
)


def _name(part: str) -> str:
    """A database name of this run's own: two runs on one server never drop each other's."""
    return f"bench_pg_{part}_{os.getpid()}"


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


def _rate(run: Callable[[range], None], ids: range) -> tuple[float, float]:
    """Calls per second, and this process's CPU µs per call (the client's Python: less
    moved by other work on the machine than the wall clock)."""
    cpu, started = time.process_time(), time.perf_counter()
    run(ids)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - started
    return len(ids) / wall, cpu / len(ids) * 1e6


def measure_approve(admin_url: str, folder: Path, rounds: int, chunk: int) -> dict[str, Any]:
    """Plain psycopg and the service on two identical databases of one server, in
    alternating rounds of the same ids (many short ones, so a burst of other work on the
    machine falls on both sides alike): medians."""
    warmup = 20
    count = rounds * chunk + warmup
    source = _dbgen.build(folder / "pg-approve.db", total=count, pending=count)
    raw_url = fresh_database(admin_url, _name("raw"), source)
    service_url = fresh_database(admin_url, _name("service"), source)
    raw_db = open_database(url=raw_url)
    db = open_database(url=service_url)
    service = ApprovalService(db)
    raw_conn = raw_db.engine.raw_connection()
    raw_approvals = _raw_approvals(raw_db, raw_conn.driver_connection)

    def approvals(ids: Iterable[int]) -> None:
        for action_id in ids:
            service.approve(action_id, "bench")

    sides: list[tuple[list[tuple[float, float]], Callable[[range], None]]] = [
        ([], raw_approvals),
        ([], approvals),
    ]
    try:
        for _, run in sides:
            run(range(1, warmup + 1))  # psycopg prepares a statement after 5 executions
        for round_ in range(rounds):
            first = warmup + 1 + round_ * chunk
            ids = range(first, first + chunk)
            for rates, run in sides[round_ % 2 :] + sides[: round_ % 2]:
                rates.append(_rate(run, ids))
        done = [_approvals_in(url) for url in (raw_url, service_url)]
        if done[0] != done[1] or done[0][:2] != (count, count):
            raise RuntimeError(f"raw and service did not do the same work: {done}, {count}")
    finally:
        raw_conn.close()
        raw_db.close()
        db.close()
        drop(admin_url, _name("raw"))
        drop(admin_url, _name("service"))
    raw_median, service_median = (statistics.median(r for r, _ in rs) for rs, _ in sides)
    raw_cpu, service_cpu = (statistics.median(c for _, c in rs) for rs, _ in sides)
    return {
        "pg_raw_per_s": raw_median,
        "pg_approve_per_s": service_median,
        "pg_approve_ratio": service_median / raw_median,
        "_pg_cpu_us": (raw_cpu, service_cpu),
    }


def _raw_approvals(raw_db: Database, conn: Any) -> Callable[[Iterable[int]], None]:
    """Approvals by hand with psycopg on `conn`, a psycopg connection `raw_db`'s engine
    made (its connect arguments), held for the whole run."""
    dialect = raw_db.engine.dialect
    update, read, event = (PreparedStatement(s, dialect) for s in APPROVE_STATEMENTS)
    status, command = read.keys.index("status"), read.keys.index("command")
    # SQLAlchemy names the constants it binds (status, status_1); the raw side gives
    # every parameter by hand: checked against the compiled statements once.
    names = (
        (update, {"status", "status_1", "aid", "at", "actor"}),
        (read, {"aid"}),
        (event, {"aid", "from_status", "to_status", "actor", "at", "reason", "command"}),
    )
    for prepared, given in names:
        wanted = set(prepared.parameters(defaultdict(type(None))))
        if wanted != given:
            raise RuntimeError(f"the raw side gives {sorted(given)}, not {sorted(wanted)}")

    def raw_approvals(ids: Iterable[int]) -> None:
        for action_id in ids:
            at = _naive_utc(time.time())
            cursor = conn.cursor()
            changed = cursor.execute(
                update.sql,
                {
                    "status": "approved",
                    "at": at,
                    "actor": "bench",
                    "aid": action_id,
                    "status_1": "pending",
                },
            ).rowcount
            if changed == 1:
                row = cursor.execute(read.sql, {"aid": action_id}).fetchone()
                cursor.execute(
                    event.sql,
                    {
                        "aid": action_id,
                        "from_status": "pending",
                        "to_status": row[status],
                        "actor": "bench",
                        "at": at,
                        "reason": None,
                        "command": row[command],  # an approval records its command
                    },
                )
            cursor.close()
            conn.commit()

    return raw_approvals


def _approvals_in(url: str) -> tuple[int, ...]:
    """Actions approved, approval events, and those recording a command."""
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT (SELECT count(*) FROM remediation_actions WHERE status = 'approved'),"
            " count(*), count(command) FROM action_events WHERE to_status = 'approved'"
        ).fetchone()
    return tuple(found or ())


def _naive_utc(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def measure_contention(
    admin_url: str, folder: Path, contenders: int, attempts: int, pending: int, hot: int
) -> dict[str, Any]:
    source = _dbgen.build(folder / "pg-contention.db", total=pending, pending=pending)
    url = fresh_database(admin_url, _name("contention"), source)
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
        drop(admin_url, _name("contention"))
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
    url = fresh_database(admin_url, _name("propagation"), source)
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
        drop(admin_url, _name("propagation"))
    delays.sort()
    return {
        "pg_propagation_ms_p50": statistics.median(delays),
        "pg_propagation_ms_p95": delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))],
    }
