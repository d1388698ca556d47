"""The console leans only on Textual's public API, so a Textual release that renames its
private code cannot break it: nothing in src/ imports a private Textual module or name,
calls a private Textual method, or overrides one (checked by AST and by each class's MRO)."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path

import textual

import homelab_approvals

SRC = Path(homelab_approvals.__file__).resolve().parent


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _our_classes() -> list[type]:
    for module in pkgutil.walk_packages([str(SRC)], "homelab_approvals."):
        if not module.name.endswith(".__main__"):  # runs the CLI when imported
            importlib.import_module(module.name)
    classes: list[type] = []
    for name, module in list(sys.modules.items()):
        if name == "homelab_approvals" or name.startswith("homelab_approvals."):
            classes += [
                cls
                for _, cls in inspect.getmembers(module, inspect.isclass)
                if cls.__module__ == name
            ]
    return classes


def _textual_classes(cls: type) -> list[type]:
    return [base for base in cls.__mro__ if base.__module__.split(".")[0] == "textual"]


def _textual_private_methods() -> set[str]:
    """Every single-underscore method of a class Textual defines."""
    names: set[str] = set()
    for module in pkgutil.walk_packages(textual.__path__, "textual."):
        if module.name.endswith(".__main__"):
            continue
        try:
            loaded = importlib.import_module(module.name)
        except Exception:  # optional extras (syntax highlighting, dev tools) may be absent
            continue
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if cls.__module__.startswith("textual"):
                names |= {
                    name
                    for name, value in vars(cls).items()
                    if _private(name) and (callable(value) or isinstance(value, property))
                }
    return names


def test_nothing_imports_private_textual_modules_or_names() -> None:
    found = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
                names: list[str] = []
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
                names = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] != "textual":
                    continue
                if any(_private(part) for part in parts) or any(map(_private, names)):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {module} {names}")
    assert found == []


def test_no_class_overrides_a_private_textual_method() -> None:
    found = []
    for cls in _our_classes():
        textual_bases = _textual_classes(cls)
        for name, value in vars(cls).items():
            if not _private(name) or not (callable(value) or isinstance(value, property)):
                continue
            for base in textual_bases:
                if name in vars(base):
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{name} ({base.__name__})")
    assert found == []


def test_no_private_textual_method_is_called() -> None:
    """`x._name(...)` where `_name` is a private method of some Textual class and no class
    of ours defines it: a call into Textual's private code."""
    ours: set[str] = set()
    calls: list[tuple[str, str]] = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                ours.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                ours.add(node.attr)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _private(node.func.attr)
            ):
                calls.append((node.func.attr, f"{path.relative_to(SRC)}:{node.lineno}"))
    private = _textual_private_methods()
    assert [where for name, where in calls if name in private and name not in ours] == []


def test_the_checks_would_catch_what_they_look_for() -> None:
    """The checks above are not vacuous: Textual's own classes do all three."""
    from textual.widgets import DataTable, Input

    assert "_on_paste" in vars(Input)
    assert "_get_offsets" in vars(DataTable)
    assert "_get_breakpoint_classes" in _textual_private_methods()


def test_the_breakpoint_classes_preset_at_start_are_those_textual_sets() -> None:
    """ConsoleScreen sets its breakpoint classes before the first paint (by our own copy
    of Textual's documented rule); after a real resize Textual's classes are the same."""
    from textual.app import App

    from homelab_approvals.tui.console import ConsoleScreen, breakpoint_class

    assert breakpoint_class(79, ConsoleScreen.HORIZONTAL_BREAKPOINTS) == "-narrow"
    assert breakpoint_class(120, ConsoleScreen.HORIZONTAL_BREAKPOINTS) == "-wide"
    assert breakpoint_class(35, ConsoleScreen.VERTICAL_BREAKPOINTS) == "-short"
    assert breakpoint_class(36, ConsoleScreen.VERTICAL_BREAKPOINTS) == "-tall"
    assert breakpoint_class(5, [(10, "-big")]) is None

    class Sized(App[None]):
        HORIZONTAL_BREAKPOINTS = ConsoleScreen.HORIZONTAL_BREAKPOINTS
        VERTICAL_BREAKPOINTS = ConsoleScreen.VERTICAL_BREAKPOINTS

    async def classes_at(size: tuple[int, int]) -> set[str]:
        app = Sized()
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            return {name for name in app.screen.classes if name.startswith("-")}

    for width, height in [(80, 24), (119, 35), (120, 36), (200, 60)]:
        expected = {
            breakpoint_class(width, ConsoleScreen.HORIZONTAL_BREAKPOINTS),
            breakpoint_class(height, ConsoleScreen.VERTICAL_BREAKPOINTS),
        }
        assert asyncio.run(classes_at((width, height))) == expected
