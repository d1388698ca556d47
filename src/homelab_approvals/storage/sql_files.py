"""Named SQL statements kept in .sql files beside each backend (as procrastinate keeps
its queries): `-- name: x` starts statement x, which runs to the next such line."""

from __future__ import annotations

import re
from importlib.resources import files

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load(package: str, filename: str) -> dict[str, str]:
    """The statements of `package`'s sql/`filename`, by name, in file order."""
    text = files(package).joinpath("sql", filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    # parts: [preamble, name1, body1, name2, body2, ...]; the preamble holds comments only.
    return {
        name: _without_comments(body) for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def _without_comments(body: str) -> str:
    lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().removesuffix(";").strip()
