"""Named SQL statements kept in .sql files beside each backend (as procrastinate keeps
its queries): `-- name: x` starts statement x, which runs to the next such line."""

from __future__ import annotations

import os
import re
import sys

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load(package: str, filename: str) -> dict[str, str]:
    """The statements of `package`'s sql/`filename`, by name, in file order."""
    parts = _NAME.split(_read(package, filename))
    # parts: [preamble, name1, body1, name2, body2, ...]; the preamble holds comments only.
    return {
        name: _without_comments(body) for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def _read(package: str, filename: str) -> str:
    """The file's text: straight from the package's folder when it is one on disk (as
    installed, or in a checkout); else through importlib.resources (a zip, say), whose
    import costs the CLI's fast decision more than the rest of its start-up."""
    origin = getattr(sys.modules.get(package), "__file__", None)
    if origin:
        try:
            folder = os.path.dirname(origin)
            with open(os.path.join(folder, "sql", filename), encoding="utf-8") as file:
                return file.read()
        except OSError:
            pass
    from importlib.resources import files

    return files(package).joinpath("sql", filename).read_text(encoding="utf-8")


def _without_comments(body: str) -> str:
    lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().removesuffix(";").strip()


def pick(package: str, filename: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Only the statements `names` of `package`'s sql/`filename`, in that order: a file
    of many statements (reads.sql's every listing shape) costs the CLI's fast read a
    couple of milliseconds to split whole. KeyError for a name the file lacks."""
    text = _read(package, filename)
    found = []
    for name in names:
        start = text.find(f"\n-- name: {name}\n")
        if start < 0:
            raise KeyError(name)
        body = text[start + len(name) + 11 :]
        end = body.find("\n-- name: ")
        found.append(_without_comments(body if end < 0 else body[:end]))
    return tuple(found)
