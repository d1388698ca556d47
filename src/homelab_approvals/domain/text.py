"""Rules for untrusted text: what counts as a control character, and how to show one."""

import re

# C0, DEL and C1 controls, plus the Unicode line separators and bidi embedding,
# override and isolate characters (the "Trojan Source" set), which can reorder or
# hide what an operator reads.
_CONTROL_CLASS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
CONTROL_CHARS = re.compile(f"[{_CONTROL_CLASS}]")

# C0 and DEL have printable stand-ins in Unicode's Control Pictures block (␛, ␇...),
# so "\x1b[2J" is shown as "␛[2J": visible, literal and inert.
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}


def has_control_chars(text: str) -> bool:
    return CONTROL_CHARS.search(text) is not None


def _picture(match: re.Match[str]) -> str:
    return _PICTURES.get(ord(match.group()), "\ufffd")


def visible(text: str | None) -> str:
    """`text` with every control character replaced by a harmless printable stand-in."""
    if not text:
        return ""
    return CONTROL_CHARS.sub(_picture, text)
