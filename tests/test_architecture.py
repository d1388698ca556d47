"""The layers stay visible: import-linter's contracts hold, and the domain, service and
storage layers never load Textual or Rich, checked in a fresh interpreter."""

from __future__ import annotations

import ast
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


# -- no import circles -------------------------------------------------------------------------


def _import_cycles() -> list[list[str]]:
    """Strongly connected groups of modules in src/ (Tarjan), counting every import:
    those inside functions and under `if TYPE_CHECKING:` too."""
    import grimp

    graph = grimp.build_graph("homelab_approvals", cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_circles_in_src() -> None:
    """A module that needs another's type only uses a Protocol (storage/backend.py,
    service/availability.py), so no two modules import each other, even for typing."""
    assert _import_cycles() == []


# -- nothing above storage knows the backend -----------------------------------------------------

_BACKEND_WORDS = ("sqlite", "postgres", "psycopg", "dialect")


def _backend_mentions(path: Path) -> list[str]:
    """Code (not comments or docstrings) in `path` that names a backend or a dialect."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # What a user reads in --help may name a backend ("postgresql://user@host/db").
    help_texts = {
        id(keyword.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "help"
    }
    docstrings |= help_texts
    found = []
    for node in ast.walk(tree):
        words: list[str] = []
        if isinstance(node, ast.Import):
            words = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            words = [node.module or ""] + [alias.name for alias in node.names]
        elif isinstance(node, ast.Attribute):
            words = [node.attr]
        elif isinstance(node, ast.Name):
            words = [node.id]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            words = [node.value]
        for word in words:
            if any(bad in word.lower() for bad in _BACKEND_WORDS):
                found.append(f"{path.name}:{getattr(node, 'lineno', '?')}: {word}")
    return found


@pytest.mark.parametrize("layer", ["domain", "service", "cli", "tui"])
def test_no_layer_above_storage_names_a_backend(layer: str) -> None:
    folder = ROOT / "src" / "homelab_approvals" / layer
    found = [hit for path in sorted(folder.rglob("*.py")) for hit in _backend_mentions(path)]
    assert found == []


def _calls_named(name: str) -> list[str]:
    """Every call of `<anything>.name(...)` or `name(...)` in src/, as "file:line"."""
    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == name:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_toasts_go_through_the_one_inert_helper() -> None:
    """A toast shows text a driver error, an exception or a row may have written: only
    tui/toast.py calls Textual's notify(), and it makes text inert first."""
    callers = [place for place in _calls_named("notify") if "tui/toast.py" not in place]
    assert callers == []


def test_every_print_to_the_terminal_is_from_the_cli_writers() -> None:
    """print() bypasses the CLI's writers (which take only visible() text)."""
    assert _calls_named("print") == []
