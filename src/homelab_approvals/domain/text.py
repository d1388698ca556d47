"""Rules for untrusted text: what counts as a control character, and how to show one.

`visible()` is the project's one way to make text inert: every string an operator sees
(from the database, a driver error, an exception, a remote command) goes through it."""

import re
from typing import overload

# C0, DEL and C1 controls, plus the Unicode line separators and bidi embedding,
# override and isolate characters (the "Trojan Source" set), which can reorder or
# hide what an operator reads.
_CONTROL_CLASS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
# Every other invisible format character (Unicode category Cf: zero-width space and
# joiners, LRM/RLM, the BOM, soft hyphen...): "nas" and "nas\u200b" must not look alike.
_FORMAT_CLASS = (  # Unicode 14 (Python 3.11); tests/test_text.py checks it against unicodedata
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
#: What new text may not hold (validation.py): controls and the Trojan Source set. Other
#: format characters are allowed in (an emoji's zero-width joiner), but shown as stand-ins.
CONTROL_CHARS = re.compile(f"[{_CONTROL_CLASS}]")
#: What `visible()` replaces: all of the above, and every format character.
INVISIBLE_CHARS = re.compile(f"[{_CONTROL_CLASS}{_FORMAT_CLASS}]")

# C0 and DEL have printable stand-ins in Unicode's Control Pictures block (␛, ␇...),
# so "\x1b[2J" is shown as "␛[2J": visible, literal and inert. Everything else (C1,
# bidi and format characters) becomes U+FFFD.
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}


def has_control_chars(text: str) -> bool:
    return CONTROL_CHARS.search(text) is not None


def _picture(match: re.Match[str]) -> str:
    return _PICTURES.get(ord(match.group()), "\ufffd")


def visible(value: object) -> str:
    """`value` as text with every control or invisible format character replaced by a
    harmless printable stand-in. Takes anything: None and "" give "", bytes are decoded
    (bad UTF-8 becomes U+FFFD), numbers and other objects are shown with str()."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", "replace")
    else:
        try:
            text = str(value)
        except Exception:  # a hostile __str__ must not take the caller down
            text = f"<{type(value).__name__}>"
    if not text:
        return ""
    return INVISIBLE_CHARS.sub(_picture, text)


@overload
def storable(text: str) -> str: ...
@overload
def storable(text: None) -> None: ...
def storable(text: str | None) -> str | None:
    """Remote text (a run's output, a probe's) as a database can hold it: NUL, which
    PostgreSQL's text refuses (SQLite's takes it), as its picture ␀, which is what
    `visible()` shows for it anyway. The same on every backend, so both store alike."""
    return None if text is None else text.replace("\x00", _PICTURES[0])
