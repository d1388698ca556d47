"""The benchmark harness must not rot: `benchmarks/run.py --quick` runs end to end.

This asserts that every key is there and sane, never a speed: speed targets live in
benchmarks/, measured on purpose, not in a test on a shared CI machine.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pg_support import PgServer

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
KEYS = {
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
}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quick_run_reports_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads(out.read_text())
    assert set(results) == KEYS
    for key, value in results.items():
        assert isinstance(value, int | float), key
        assert not isinstance(value, bool), key
        assert math.isfinite(value), key
        assert value >= 0, key
    for key in KEYS - {"contention_errors", "idle_cpu_percent", "executor_idle_cpu_percent"}:
        assert results[key] > 0, key
    # Figures that are what they say whatever the machine's speed.
    assert results["approve_ratio"] == pytest.approx(
        results["approve_per_s"] / results["raw_sqlite_per_s"]
    )
    assert results["propagation_ms_p50"] <= results["propagation_ms_p95"]
    assert results["executor_claim_ms_p50"] <= results["executor_claim_ms_p95"]
    assert results["contention_errors"] == int(results["contention_errors"])
    assert results["idle_cpu_percent"] <= 100 * (os.cpu_count() or 1)  # all cores at most

    # The readable table names every key, with its target.
    for key in KEYS:
        assert key in done.stdout
    assert "machine:" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_console_on_postgresql_is_timed(pg_server: PgServer) -> None:
    """The PostgreSQL console's on-screen propagation (pg_screen_propagation_ms_*), on
    --quick sizes: a headless console on a URL, commits from another connection."""
    code = (
        "import json, pathlib, sys, tempfile, run\n"
        "with tempfile.TemporaryDirectory() as folder:\n"
        "    found = run.measure_pg_console(sys.argv[1], pathlib.Path(folder), run.QUICK)\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, pg_server.admin_url],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(found["_pg_screen_latencies"]) == 3
    assert 0 < found["pg_screen_propagation_ms_p50"] <= found["pg_screen_propagation_ms_p95"]
