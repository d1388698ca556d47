"""The one inert-text path: domain/text.py."""

import sys
import unicodedata

import pytest

from homelab_approvals.domain.text import INVISIBLE_CHARS, visible


def test_every_format_and_control_character_is_replaced() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category in ("Cc", "Cf") or char in "\u2028\u2029":
            assert INVISIBLE_CHARS.fullmatch(char), f"U+{code:04X} ({category}) passes as text"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        ("", ""),
        ("nas\u200b", "nas\ufffd"),
        ("a\u200eb\u200fc", "a\ufffdb\ufffdc"),
        ("\ufeffroot", "\ufffdroot"),
        ("\x1b]52;c;ZXZpbA==\x07", "\u241b]52;c;ZXZpbA==\u2407"),
        (b"\xff\xfe\x1b[2J", "\ufffd\ufffd\u241b[2J"),
        (bytearray(b"ok"), "ok"),
        (3, "3"),
        (2.5, "2.5"),
    ],
)
def test_visible_takes_any_value(value: object, shown: str) -> None:
    assert visible(value) == shown
    assert not INVISIBLE_CHARS.search(visible(value))


def test_a_hostile_str_does_not_escape() -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert visible(Hostile()) == "<Hostile>"
