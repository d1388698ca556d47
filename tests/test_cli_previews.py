"""Previews through the CLI, in process on real SQLite files and PostgreSQL databases:
`show` prints the preview, `show --json` and `list --json` carry it, `approve` binds the
current plan and prints its summary, and `--expect-preview` refuses a plan that changed
(exit 4)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from db_targets import DbTarget
from homelab_approvals.cli.main import main
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.probes import ProbeRun, probe_for
from homelab_approvals.service import ApprovalService

pytestmark = pytest.mark.backends

TRANSCRIPTS = Path(__file__).parent / "transcripts"
APT = probe_for(ActionType.APT_UPGRADE_ALL, None)
assert APT is not None


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Run]


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HOMELAB_APPROVALS_DB", raising=False)
    monkeypatch.delenv("HOMELAB_APPROVALS_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def cli(db_target: DbTarget, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*argv: str, pre: Sequence[str] = ()) -> Run:
        capsys.readouterr()
        code = main([*db_target.cli_args, *pre, *argv])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def record(target: DbTarget, action_id: int, name: str) -> str:
    """Store a preview of `action_id` from a real transcript; its digest."""
    db = target.open()
    try:
        output = (TRANSCRIPTS / name).read_text()
        preview = ApprovalService(db).record_preview(action_id, APT, ProbeRun(0, output))
    finally:
        db.close()
    assert preview.digest is not None
    return preview.digest


@pytest.fixture
def apt_action(cli: Cli) -> int:
    assert cli("server", "add", "nas", "--hostname", "nas.lan", "--paused").code == 0
    created = cli("create", "--server", "nas", "--type", "apt_upgrade_all", "--json")
    return int(created.json()["id"])


def test_show_prints_the_preview_and_its_plan(
    cli: Cli, db_target: DbTarget, apt_action: int
) -> None:
    assert "preview     no preview yet" in cli("show", str(apt_action)).out
    record(db_target, apt_action, "apt-get-s-dist-upgrade-kernel-removal.txt")
    shown = cli("show", str(apt_action))
    assert shown.code == 0
    lines = shown.out.splitlines()
    headline = lines.index(
        "  preview     upgrade 8, install 13 (new kernel), remove 1, 97 kept back"
    )
    assert lines[headline + 1].startswith("              taken 20")
    assert ", exit 0, digest " in lines[headline + 1]
    assert lines[headline + 2] == "              remove zip 3.0-13"
    assert "              install linux-image-6.1.0-50-amd64 6.1.176-1 (new kernel)" in lines


def test_json_carries_the_preview(cli: Cli, db_target: DbTarget, apt_action: int) -> None:
    assert cli("show", str(apt_action), "--json").json()["preview"] is None
    digest = record(db_target, apt_action, "apt-get-s-remove-zip.txt")
    preview = cli("show", str(apt_action), "--json").json()["preview"]
    assert set(preview) == {"taken_at", "exit_code", "summary", "plan", "digest", "error"}
    assert preview["digest"] == digest
    assert preview["exit_code"] == 0
    assert preview["summary"] == "remove 1, 105 kept back"
    assert preview["plan"]["removals"] == [{"name": "zip", "old": "3.0-13", "new": None}]
    assert preview["taken_at"].endswith("+00:00")
    listed = cli("list", "--json").json()
    assert [a["preview"]["digest"] for a in listed] == [digest]


def test_apt_update_has_no_preview(cli: Cli) -> None:
    cli("server", "add", "nas", "--hostname", "nas.lan", "--paused")
    created = cli("create", "--server", "nas", "--type", "apt_update", "--json").json()
    assert "preview     no preview for this action" in cli("show", str(created["id"])).out


def test_approve_binds_the_current_plan_and_prints_it(
    cli: Cli, db_target: DbTarget, apt_action: int
) -> None:
    digest = record(db_target, apt_action, "apt-get-s-dist-upgrade-kernel-removal.txt")
    approved = cli("approve", str(apt_action), pre=["--operator", "alice"])
    assert approved.code == 0
    assert approved.out == (
        f"approved #{apt_action} apt upgrade all on nas.lan; plan {digest[:12]}: "
        "upgrade 8, install 13 (new kernel), remove 1, 97 kept back\n"
    )
    shown = cli("show", str(apt_action))
    assert "  approved    the plan of " in shown.out
    assert f"digest {digest[:12]}: upgrade 8" in shown.out


def test_expect_preview_refuses_a_plan_that_changed(
    cli: Cli, db_target: DbTarget, apt_action: int
) -> None:
    read = record(db_target, apt_action, "apt-get-s-remove-zip.txt")
    record(db_target, apt_action, "apt-get-s-dist-upgrade-kernel-removal.txt")
    refused = cli("approve", str(apt_action), "--expect-preview", read)
    assert refused.code == 4
    assert refused.err.startswith(f"error: CONFLICT: cannot approve action {apt_action}: ")
    assert "plan changed since it was shown (now upgrade 8, install 13" in refused.err
    assert cli("show", str(apt_action), "--json").json()["status"] == "pending"
    as_json = cli("approve", str(apt_action), "--expect-preview", read, "--json")
    assert as_json.code == 4
    assert as_json.json()["error"]["code"] == "CONFLICT"
    current = cli("show", str(apt_action), "--json").json()["preview"]["digest"]
    ok = cli("approve", str(apt_action), "--expect-preview", current.upper(), "--json")
    assert ok.code == 0
    assert ok.json()["status"] == "approved"
    assert ok.json()["preview"]["digest"] == current


def test_a_malformed_digest_is_a_usage_error(cli: Cli, apt_action: int) -> None:
    bad = cli("approve", str(apt_action), "--expect-preview", "abc")
    assert bad.code == 2
    assert bad.err.startswith("error: VALIDATION_ERROR: a preview digest is 64 hex digits")
    assert cli("show", str(apt_action), "--json").json()["status"] == "pending"


def test_several_ids_each_bind_their_plan_and_expect_preview_takes_one(
    cli: Cli, db_target: DbTarget, apt_action: int
) -> None:
    digest = record(db_target, apt_action, "apt-get-s-remove-zip.txt")
    other = cli("create", "--server", "nas", "--type", "clear_logs", "--json").json()["id"]
    refused = cli("approve", str(apt_action), str(other), "--expect-preview", digest)
    assert refused.code == 2
    assert "--expect-preview takes one action id" in refused.err
    assert cli("approve", str(apt_action), str(other)).code == 0
    shown = cli("show", str(apt_action))
    assert f"digest {digest[:12]}: remove 1" in shown.out
