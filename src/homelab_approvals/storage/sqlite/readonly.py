"""Reading a database this user may not write: how to open it without leaving files
behind. Plain Python (no SQLAlchemy), shared by `open_database` and the console's
first-window read, so both open such a file the same way."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlencode

from homelab_approvals.domain.errors import StorageError


def unwritable_reason(path: Path) -> str | None:
    if not os.access(path, os.W_OK):
        return "the file is not writable by this user"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return "its folder is not writable by this user"
    return None


def in_wal_mode(path: Path) -> bool:
    """From the file header (bytes 18-19 are 2 for WAL), without opening the database."""
    try:
        with path.open("rb") as file:
            header = file.read(20)
    except OSError:
        return False  # let SQLite report it
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def read_only_uri_params(path: Path, label: str) -> tuple[dict[str, str], bool]:
    """SQLite URI parameters for reading a database this user may not write, and whether
    what they read is a fixed snapshot.

    Such a reader must never create files beside the database. In WAL mode a plain
    `mode=ro` reader creates the -wal and -shm files when they are missing, owned by
    this user and never removed; the owner's next write then fails with "attempt to
    write a readonly database". And in a folder this user may not write, that reader
    cannot open at all (https://sqlite.org/wal.html, "Read-Only Databases"). So:

    - rollback-journal databases (HomelabCmd's default): `mode=ro`, which creates nothing;
    - WAL with both -wal and -shm present (a writer has it open): `mode=ro` shares them;
    - WAL with no -shm and an empty or missing -wal (closed cleanly: everything is in the
      main file): `immutable=1`, which reads the main file with no locks and no -shm. It
      does not see later changes, so the Database is marked `snapshot`;
    - WAL with committed changes still in the -wal but no -shm (its last writer
      crashed): refused, since only a writer can recover them, and reading the main
      file alone would show stale data.
    """
    if not in_wal_mode(path):
        return {"mode": "ro"}, False
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    try:
        wal_size = wal.stat().st_size if wal.exists() else None
        has_shm = shm.exists()
    except OSError as error:
        raise StorageError(f"cannot read the database ({error.strerror}): {label}") from error
    if wal_size is not None and has_shm:
        return {"mode": "ro"}, False
    if not wal_size:
        return {"mode": "ro", "immutable": "1"}, True
    raise StorageError(
        f"cannot read the database: its write-ahead log {wal.name} holds changes that "
        f"only a user who can write the database can recover: {label}"
    )


def sqlite_uri(path: Path, params: dict[str, str]) -> str:
    """A SQLite URI filename: the path percent-encoded (it may hold '?', '#', '%' or
    spaces), then the parameters."""
    return f"file:{quote(str(path))}?{urlencode(params)}"
