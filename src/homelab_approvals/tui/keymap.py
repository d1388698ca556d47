"""The `[keys]` table of the config: binding ids to keys (`approve = "y"`), applied with
Textual's own keymap support (`App.set_keymap`). Checked before the console starts: an
unknown id, a malformed key, or two bindings on one key is a CONFIG_ERROR (exit 2) naming
it, never a console where a key silently does something else.

Everything that names a key to the operator (footer, help, palette, hints) asks `KeysInForce`
for the key in force."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from textual.app import App
from textual.binding import Binding, BindingType
from textual.keys import KEY_ALIASES, REPLACED_KEYS, key_to_character
from textual.keys import Keys as KeyNames
from textual.screen import Screen

from homelab_approvals.domain.errors import ConfigError
from homelab_approvals.tui.keys import CONSOLE_BINDINGS
from homelab_approvals.tui.table import ActionTable

_MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED = frozenset(key.value for key in KeyNames if "+" not in key.value)
_PRIMARY = {alias: key for key, aliases in KEY_ALIASES.items() for alias in aliases}
_EXAMPLES = '"y", "Y", "ctrl+y", "f5", "enter", "question_mark"'


def remappable() -> list[Binding]:
    """The bindings `[keys]` may move: the console's own and its table's (movement)."""
    bindings = Binding.make_bindings([*CONSOLE_BINDINGS, *ActionTable.BINDINGS])
    return [binding for binding in bindings if binding.id]


def _chain() -> list[Binding]:
    """Every binding that can see a key while the table has focus: the table (and, to be
    safe, its base classes', which it does not inherit), the console screen, and the app
    (quit, command palette...)."""
    found: list[BindingType] = []
    for cls in (*ActionTable.__mro__, *Screen.__mro__, *App.__mro__):
        found.extend(vars(cls).get("BINDINGS", ()))
    found.extend(CONSOLE_BINDINGS)
    found.append(Binding(App.COMMAND_PALETTE_BINDING, "command_palette", id="command-palette"))
    return list(Binding.make_bindings(found))


def canonical(key: str) -> str:
    """One spelling per key, so that "?", "question_mark", "ctrl+m" and "enter" compare
    as Textual will treat them."""
    key = key.strip()
    modifiers, plus, base = key.rpartition("+")
    if not plus or not base:
        modifiers, base = "", key
    if not modifiers:
        character = key_to_character(REPLACED_KEYS.get(base, base)) if len(base) > 1 else base
        if character is not None and len(character) == 1 and not character.isspace():
            base = character
    whole = f"{modifiers}+{base}" if modifiers else base
    return _PRIMARY.get(whole, whole)


def _is_key(key: str) -> bool:
    modifiers, plus, base = key.rpartition("+")
    if plus and not base:  # "ctrl+": no key after the modifier
        return False
    if plus and not all(part in _MODIFIERS for part in modifiers.split("+")):
        return False
    if modifiers == "shift" and len(base) == 1:  # the terminal sends "A", never "shift+a"
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    return base in _NAMED or key_to_character(REPLACED_KEYS.get(base, base)) is not None


def check_keymap(table: Mapping[str, str], source: Path) -> dict[str, str]:
    """The `[keys]` table, checked: returns the keymap for `App.set_keymap`, or raises
    ConfigError naming the id, the key or the clash."""
    known = {binding.id for binding in remappable()}
    keymap: dict[str, str] = {}
    for binding_id, value in table.items():
        where = f"{source}: 'keys.{binding_id}'"
        if binding_id not in known:
            names = ", ".join(sorted(str(name) for name in known))
            raise ConfigError(f"{source}: unknown key 'keys.{binding_id}' (binding ids: {names})")
        keys = [key.strip() for key in value.split(",")]
        bad = next((key for key in keys if not _is_key(key)), None)
        if bad is not None:
            raise ConfigError(f"{where}: {bad!r} is not a key (keys look like {_EXAMPLES})")
        keymap[binding_id] = ",".join(keys)
    _refuse_clashes(keymap, source)
    return keymap


def _refuse_clashes(keymap: Mapping[str, str], source: Path) -> None:
    """A key of a remapped binding must belong to nothing else the table, the console or
    the app binds (else one of them would silently never run), unless the two shared
    it already by default (enter: the table's select and the console's details)."""
    default: dict[str, set[str]] = {}
    now: dict[str, set[str]] = {}
    for binding in _chain():
        owner = binding.id or binding.action
        for key in binding.key.split(","):
            default.setdefault(canonical(key), set()).add(owner)
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        for key in keys.split(","):
            now.setdefault(canonical(key), set()).add(owner)
    for binding_id, keys in keymap.items():
        for key in keys.split(","):
            shared = default.get(canonical(key), set())
            others = now[canonical(key)] - {binding_id}
            if binding_id in shared:
                others -= shared
            if others:
                raise ConfigError(
                    f"{source}: 'keys.{binding_id}' = {key!r} clashes with the key of "
                    f"{sorted(others)[0]!r}; map that one to another key too, or pick a free key"
                )


class KeysInForce:
    """The keys in force, for everything that names one to the operator."""

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        self.keymap = dict(keymap or {})

    def named(self, binding_id: str) -> str:
        """The key of the remappable binding `binding_id` for a hint in a sentence, as
        written in the bindings or the config ("a", "escape", "ctrl+y")."""
        binding = next(b for b in remappable() if b.id == binding_id)
        return ", ".join(self.keymap.get(binding_id, binding.key).split(","))

    def in_force(self, bindings: Iterable[BindingType]) -> list[Binding]:
        """`bindings` with the keymap applied (for the help screen)."""
        return [
            binding.with_key(self.keymap[binding.id], key_display=None)
            if binding.id in self.keymap
            else binding
            for binding in Binding.make_bindings(bindings)
        ]
