"""The one module that chooses between backends: by the file path or URL given, it opens
the database with the right backend, reads the console's first window the fastest way
that backend has, and decides one action for the CLI (sqlite/fast_decision.py) or reads
what its read commands print (sqlite/fast_reads.py) without SQLAlchemy when it can.
Each backend is imported only when chosen (SQLAlchemy and a server's driver are slow
imports; the console's first window needs neither)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homelab_approvals.domain.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy import URL

    from homelab_approvals.domain.views import ActionView, EventView
    from homelab_approvals.storage.database import Database
    from homelab_approvals.storage.decided import Decided, ShownPage
    from homelab_approvals.storage.first_window import FirstWindow
    from homelab_approvals.storage.preview_rows import PreviewRow

#: Backends by SQLAlchemy's backend name (the part of a URL's scheme before any "+").
SUPPORTED = ("sqlite", "postgresql")


def open_database(
    path: Path | None = None,
    *,
    url: str | None = None,
    read_only: bool = False,
    group_shared: bool = False,
    create: bool = True,
    listen: bool = True,
) -> Database:
    """Open (creating if needed) a database by file path or SQLAlchemy URL, bring our
    tables up to date without touching anyone else's, and return it. `listen=False`
    (--no-listen): a server's change notifications are not used, only polling."""
    if (path is None) == (url is None):
        raise ValueError("give exactly one of path or url")
    if url is None:
        assert path is not None
        from homelab_approvals.storage.sqlite.opening import open_file

        return open_file(path, read_only=read_only, group_shared=group_shared, create=create)
    return _open_url(url, read_only=read_only, group_shared=group_shared, listen=listen)


def _open_url(url: str, *, read_only: bool, group_shared: bool, listen: bool) -> Database:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as error:
        # The URL may hold a password: never echo it.
        shown = re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)
        raise StorageError(f"not a valid database URL: {shown}") from error
    label = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        from homelab_approvals.storage.sqlite.opening import open_file, open_memory

        if parsed.database in (None, "", ":memory:"):
            return open_memory(parsed, label, read_only=read_only)
        # A file: the same checks, permissions and pragmas as --db. SQLite's own
        # read-only URI flag is honoured.
        wants_ro = read_only or parsed.query.get("mode") == "ro"
        return open_file(Path(parsed.database), read_only=wants_ro, group_shared=group_shared)
    if backend == "postgresql":
        driver = parsed.get_driver_name()
        if parsed.drivername != "postgresql" and driver != "psycopg":
            _require_driver(parsed, label)
            raise StorageError(
                f"database error (postgresql+{driver}:// is not supported; use "
                f"postgresql:// or postgresql+psycopg://, psycopg 3): {label}"
            )
        from homelab_approvals.storage.postgres.opening import open_url

        return open_url(parsed, label, read_only=read_only, listen=listen)
    _require_driver(parsed, label)
    choices = ", ".join(f"{name}://" for name in SUPPORTED)
    raise StorageError(f"database error (no backend for {backend}://; use {choices}): {label}")


def _require_driver(parsed: URL, label: str) -> None:
    """Say so when the URL's dialect or its driver is not installed."""
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as error:
        raise StorageError(
            f"no database driver for {parsed.get_backend_name()} is installed ({error}): {label}"
        ) from error
    except Exception as error:  # no such dialect at all
        raise StorageError(f"database error ({error}): {label}") from error


def read_first_window(path: Path, *, read_only: bool = False) -> FirstWindow | None:
    """The first window of the pending queue, read the backend's fast way, or None when
    anything is unusual (the caller then opens the database the ordinary way)."""
    from homelab_approvals.storage.sqlite.first_window import read_first_window as read

    return read(path, read_only=read_only)


def read_in_background(path: Path, *, read_only: bool = False) -> Callable[[], FirstWindow | None]:
    """Start `read_first_window` in a thread, and return a function that waits for its
    result. SQLite releases the GIL while it reads, so the read overlaps what the caller
    does meanwhile (importing Textual, say)."""
    result: list[FirstWindow | None] = []

    def read() -> None:
        result.append(read_first_window(path, read_only=read_only))

    thread = threading.Thread(target=read, name="first window", daemon=True)
    thread.start()

    def wait() -> FirstWindow | None:
        thread.join()
        return result[0] if result else None  # nothing: it failed, so the ordinary path

    return wait


def decide_fast(
    path: Path,
    *,
    statement: str,
    aid: int,
    actor: str,
    at: datetime,
    reason: str | None,
    event: Callable[[ActionView], tuple[str, str | None]],
    keep: Callable[[ActionView], bool],
    with_show: bool = False,
) -> Decided | None:
    """Decide one action in the database file at `path` the backend's fast way (no
    SQLAlchemy), or None with nothing changed (the caller then asks the service).
    See sqlite/fast_decision.py for what the arguments mean."""
    from homelab_approvals.storage.sqlite.fast_decision import decide

    return decide(
        path,
        statement=statement,
        aid=aid,
        actor=actor,
        at=at,
        reason=reason,
        event=event,
        keep=keep,
        with_show=with_show,
    )


def read_shown_fast(path: Path, aid: int) -> Decided | None:
    """What `show ID --json` reads of the database file at `path`, the backend's fast way
    (no SQLAlchemy), or None (the caller then asks the service). So for the fast reads
    below: see sqlite/fast_reads.py for what the arguments mean."""
    from homelab_approvals.storage.sqlite.fast_reads import read_shown

    return read_shown(path, aid)


def read_page_fast(path: Path, aid: int, events: str) -> ShownPage | None:
    """What `show ID` reads."""
    from homelab_approvals.storage.sqlite.fast_reads import read_page

    return read_page(path, aid, events)


def read_list_fast(
    path: Path, rows: str, counts: str, values: dict[str, object], *, with_previews: bool
) -> tuple[tuple[ActionView, ...], dict[str, int], dict[int, PreviewRow]] | None:
    """What `list` reads."""
    from homelab_approvals.storage.sqlite.fast_reads import read_list

    return read_list(path, rows, counts, values, with_previews=with_previews)


def read_events_fast(path: Path, name: str, values: dict[str, object]) -> list[EventView] | None:
    """What `events` reads."""
    from homelab_approvals.storage.sqlite.fast_reads import read_events

    return read_events(path, name, values)


def read_servers_fast(path: Path) -> list[list[Any]] | None:
    """What `servers` reads: each server's row."""
    from homelab_approvals.storage.sqlite.fast_reads import read_servers

    return read_servers(path)
