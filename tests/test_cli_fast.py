"""The CLI's fast approval (cli/fast.py, service/fast_approval.py,
storage/sqlite/fast_decision.py): one id approved without SQLAlchemy, with exactly the
service's transaction and sentence; every case a rule needs the service for falls back to
it. Real SQLite files and real processes."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: Runs the CLI in this process, then says whether SQLAlchemy was loaded.
PROBE = (
    "import sys\n"
    "from homelab_approvals.cli.main import main\n"
    "status = main(sys.argv[1:])\n"
    "print(status, any(m == 'sqlalchemy' or m.startswith('sqlalchemy.') for m in sys.modules))\n"
)


def _renderer() -> object:
    spec = importlib.util.spec_from_file_location(
        "render_fast_sql", ROOT / "scripts/render_fast_sql.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sql_file_is_what_the_service_statements_render_to() -> None:
    render = _renderer()
    target: Path = render.TARGET  # type: ignore[attr-defined]
    assert target.read_text(encoding="utf-8") == render.render()  # type: ignore[attr-defined]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOMELAB_APPROVALS_DB", "HOMELAB_APPROVALS_CONFIG")
    }
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    clean["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    return clean


def _cli(env: dict[str, str], *argv: str) -> tuple[str, bool, str]:
    """(stdout without the probe's line, whether SQLAlchemy was imported, stderr)."""
    done = subprocess.run(
        [PYTHON, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=60
    )
    *out, last = done.stdout.splitlines()
    status, loaded = last.split()
    return "\n".join([*out, f"exit {status}"]), loaded == "True", done.stderr


def _build(path: Path) -> list[int]:
    """Web One (paused) with: a restart (no binding probe), an apt upgrade (binds its
    plan), and a restart created by 'alice'."""
    db = open_database(path)
    try:
        service = ApprovalService(db)
        service.add_server("web", "web.lan", "Web One", paused=True)
        ids = [
            service.create_action("web", "restart_service", "nginx", actor="bob").id,
            service.create_action("web", "apt_upgrade_all", actor="bob").id,
            service.create_action("web", "restart_service", "cron", actor="alice").id,
        ]
    finally:
        db.close()
    return ids


def _rows(path: Path, aid: int) -> tuple[object, ...]:
    conn = sqlite3.connect(path)
    try:
        action = conn.execute(
            "SELECT status, approved_by, approved_at FROM remediation_actions WHERE id = ?",
            (aid,),
        ).fetchone()
        events = conn.execute(
            "SELECT from_status, to_status, actor, at, reason, command FROM action_events"
            " WHERE action_id = ? ORDER BY id",
            (aid,),
        ).fetchall()
    finally:
        conn.close()
    return action, events


def test_an_approval_takes_the_fast_path_and_leaves_what_the_service_would(
    env: dict[str, str], tmp_path: Path
) -> None:
    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    aid = _build(fast)[0]
    _build(slow)
    out, loaded, err = _cli(env, "--db", str(fast), "--operator", "carol", "approve", str(aid))
    assert (out, loaded, err) == (f"approved #{aid} restart nginx on Web One\nexit 0", False, "")
    # The same approval through the service (--json takes the ordinary path).
    out, loaded, _ = _cli(
        env, "--db", str(slow), "--operator", "carol", "approve", "--json", str(aid)
    )
    assert loaded
    (status, by, at), events = _rows(fast, aid)
    (slow_status, slow_by, slow_at), slow_events = _rows(slow, aid)
    assert (status, by) == (slow_status, slow_by) == ("approved", "carol")
    assert isinstance(at, str)
    assert len(at) == len(str(slow_at))
    assert [e[:3] + e[4:] for e in events] == [e[:3] + e[4:] for e in slow_events]
    assert events[-1] == ("pending", "approved", "carol", at, None, "systemctl restart nginx")
    # Again: already approved, so the service words the refusal.
    again, loaded, err = _cli(env, "--db", str(fast), "--operator", "carol", "approve", str(aid))
    assert loaded
    assert again == "exit 4"
    assert err.startswith(
        f"error: CONFLICT: cannot approve action {aid}: already approved by carol"
    )


def test_what_the_service_must_decide_falls_back_to_it(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "approvals.db"
    restart, apt, own = _build(path)
    # A plan-binding probe (apt): bind_plan runs in the service's transaction.
    out, loaded, _ = _cli(env, "--db", str(path), "--operator", "carol", "approve", str(apt))
    assert loaded
    assert out.endswith("exit 0")
    assert out.startswith(f"approved #{apt} ")
    # Not found: the service's answer.
    out, loaded, err = _cli(env, "--db", str(path), "--operator", "carol", "approve", "999")
    assert loaded
    assert out == "exit 3"
    assert "NOT_FOUND" in err
    # allow_self_approval = false and one's own action: refused by the service's words.
    config = tmp_path / "config.toml"
    config.write_text("allow_self_approval = false\n", encoding="utf-8")
    argv = ["--db", str(path), "--config", str(config), "--operator", "alice", "approve"]
    out, loaded, err = _cli(env, *argv, str(own))
    assert loaded
    assert out == "exit 5"
    assert "may not approve it" in err
    # [rules]: votes and per-type approvers are checked under the service's lock.
    config.write_text("[rules.restart_service]\napprovals = 2\n", encoding="utf-8")
    argv = ["--db", str(path), "--config", str(config), "--operator", "carol", "approve"]
    out, loaded, _ = _cli(env, *argv, str(restart))
    assert loaded
    assert "1 of 2" in out
    assert _rows(path, restart)[0][0] == "pending"
    # --read-only: refused by the ordinary path.
    out, loaded, _ = _cli(env, "--db", str(path), "--read-only", "approve", str(own))
    assert loaded
    assert out != "exit 0"


def test_a_changed_audit_trigger_sends_the_approval_to_the_service(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "approvals.db"
    aid = _build(path)[0]
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER action_events_no_delete")
    conn.close()
    out, loaded, err = _cli(env, "--db", str(path), "--operator", "carol", "approve", str(aid))
    assert loaded
    assert out.startswith(f"approved #{aid} ")
    assert "warning:" in err  # the repair is reported, as by every ordinary opening
