"""The layers stay visible: import-linter's contracts hold, and the domain, service and
storage layers never load Textual or Rich, checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
         "lint_imports_command()"],
        cwd=ROOT,  # where pyproject.toml declares the contracts
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "modules",
    [
        ["homelab_approvals.domain"],
        ["homelab_approvals.storage"],
        ["homelab_approvals.service"],
        [
            "homelab_approvals.storage.tables",
            "homelab_approvals.domain.validation",
            "homelab_approvals.domain.views",
            "homelab_approvals.storage.database",
            "homelab_approvals.storage.schema",
            "homelab_approvals.service.approvals",
            "homelab_approvals.service.config",
            "homelab_approvals.service.identity",
            "homelab_approvals.service.queries",
        ],
    ],
    ids=["domain", "storage", "service", "every-core-module"],
)
def test_core_layers_never_load_textual_or_rich(modules: list[str]) -> None:
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "ui = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(json.dumps(ui))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_service_works_end_to_end_without_textual_or_rich(tmp_path: Path) -> None:
    """Not just imports: a whole decision, and still no UI library in the process."""
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from homelab_approvals.service import ApprovalService\n"
        "from homelab_approvals.storage import open_database\n"
        "db = open_database(Path(sys.argv[1]))\n"
        "s = ApprovalService(db)\n"
        "s.add_server('pi-4', 'pi.lan', paused=True)\n"
        "a = s.create_action('pi-4', 'restart_service', 'nginx', actor='bob')\n"
        "s.reject(a.id, 'alice', 'no')\n"
        "s.list_actions(); s.list_events(); db.change_token(); db.close()\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "a.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
