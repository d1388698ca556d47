"""The command palette (ctrl+p): the console's own key commands, searchable by name.

Built from the screen's bindings, so the palette and the keys never disagree; what
`check_action` disables (e.g. approve on a rejected row, or in read-only mode) is not
offered."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from homelab_approvals.tui.keymap import KeysInForce


class ConsoleCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        seen: set[str] = set()
        # The console's keys in force (console.py imports this module: asked by value,
        # not by importing ConsoleScreen, so the two do not import each other).
        keys = getattr(screen, "keys", None)
        in_force = keys if isinstance(keys, KeysInForce) else KeysInForce()
        for binding in in_force.in_force(screen.BINDINGS):
            if binding.action in seen or not binding.description or binding.system:
                continue
            seen.add(binding.action)
            if screen.check_action(binding.action, ()) is not True:
                continue
            keys = self.app.get_key_display(binding)
            name = f"{binding.description} ({keys})"
            yield name, binding.tooltip, partial(screen.run_action, binding.action)

    async def discover(self) -> Hits:
        for name, help_text, run in self._commands():
            yield DiscoveryHit(name, run, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, text=name, help=help_text or None)
