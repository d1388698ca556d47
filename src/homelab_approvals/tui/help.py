"""The `?` screen: every key, generated from the bindings themselves."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


@dataclass(frozen=True, slots=True)
class KeyHelp:
    keys: str
    description: str
    detail: str = ""


def describe(
    app: App[object], bindings: Iterable[BindingType], actions: Collection[str] | None = None
) -> list[KeyHelp]:
    """One entry per action, keys joined ("up, k"), in the order they were declared;
    only `actions` if given."""
    merged: dict[str, tuple[list[str], Binding]] = {}
    for binding in Binding.make_bindings(bindings):
        if binding.system or not binding.description:
            continue
        if actions is not None and binding.action not in actions:
            continue
        keys, _ = merged.setdefault(binding.action, ([], binding))
        display = app.get_key_display(binding)
        if display not in keys:
            keys.append(display)
    return [
        KeyHelp(", ".join(keys), binding.description, binding.tooltip)
        for keys, binding in merged.values()
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close help", id="help.close"),
    ]

    def __init__(self, sections: Sequence[tuple[str, Sequence[KeyHelp]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            for title, keys in self.sections:
                yield Static(title, classes="help-section", markup=False)
                yield Static(self._table(keys), classes="help-keys")
            yield Static("escape, q or ? closes this", id="help-hint", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "Keys"

    @staticmethod
    def _table(keys: Sequence[KeyHelp]) -> Table:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(style="bold", no_wrap=True, width=9)
        table.add_column(no_wrap=True, width=16)
        table.add_column(style="dim", ratio=1)
        for entry in keys:
            table.add_row(Text(entry.keys), Text(entry.description), Text(entry.detail))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
