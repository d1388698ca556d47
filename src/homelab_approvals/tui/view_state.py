"""The console remembers its view: pending or all, the sort, the filter. One small JSON
file per database in platformdirs' user state dir (never the config: that says who may
decide, and the console must not write it). A file that cannot be read or makes no sense
is ignored, with one line in the log beside it, and the console starts with the defaults.

No Textual here: the CLI reads the state before deciding how to start the console (a
remembered view other than the pending queue cannot use the fast first window)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from platformdirs import user_state_path

from homelab_approvals.domain.enums import ActionStatus, SortOrder
from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.domain.text import visible
from homelab_approvals.service.listing import DEFAULT_WINDOW, ActionQuery
from homelab_approvals.storage.paths import APP_NAME

LOG_NAME = "console.log"
_VERSION = 1
_MAX_BYTES = 64 * 1024  # a view is a few dozen bytes; anything far larger is not ours

#: The console's default view: the queue, oldest first (the longest-waiting on top).
PENDING_QUERY = ActionQuery(statuses=(ActionStatus.PENDING,), sort=SortOrder.OLDEST)


def state_dir() -> Path:
    return user_state_path(APP_NAME, appauthor=False)


@dataclass(frozen=True, slots=True)
class ViewState:
    """Where one database's view is remembered, and the log for what went wrong with it."""

    database: str  # the database's absolute path (or its URL's label)
    path: Path

    @classmethod
    def for_database(cls, database: str, folder: Path | None = None) -> ViewState:
        digest = hashlib.sha256(database.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        return cls(database, (folder or state_dir()) / "views" / f"{digest}.json")

    @property
    def log_path(self) -> Path:
        return self.path.parent.parent / LOG_NAME

    def load(self) -> ActionQuery | None:
        """The remembered view (window and offset as new), or None: no file yet, or one
        that was ignored (and logged)."""
        try:
            with self.path.open("rb") as file:
                data = file.read(_MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            self._log(f"cannot read it ({error.strerror or error})")
            return None
        try:
            if len(data) > _MAX_BYTES:
                raise ValueError(f"larger than {_MAX_BYTES} bytes")
            return _parse(json.loads(data.decode("utf-8")), self.database)
        except (ValueError, TypeError, KeyError, ValidationError, RecursionError) as error:
            self._log(f"not a view state ({visible(str(error))[:200]})")
            return None

    def save(self, query: ActionQuery) -> None:
        """Remember `query`'s view. Best effort: the console is closing, and a read-only
        home must not turn a clean exit into an error (the failure is logged)."""
        document = {
            "version": _VERSION,
            "database": self.database,
            "view": "pending" if query.statuses else "all",
            "sort": query.sort.value,
            "filter": query.search,
        }
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=".view-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as file:  # mkstemp: mode 0600
                json.dump(document, file, ensure_ascii=True)
            os.replace(temporary, self.path)  # a reader sees the old file or the new one
        except OSError as error:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temporary)
            self._log(f"cannot save it ({error.strerror or error})")

    def _log(self, problem: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} view state {self.path} ignored: {problem}\n"
        with contextlib.suppress(OSError):
            self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(line)


def _parse(document: object, database: str) -> ActionQuery:
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if document.get("version") != _VERSION:
        raise ValueError(f"unknown version {document.get('version')!r}")
    if document.get("database") != database:
        raise ValueError("written for another database")
    view = document["view"]
    if view not in ("pending", "all"):
        raise ValueError(f"unknown view {view!r}")
    search = document.get("filter")
    if search is not None and not isinstance(search, str):
        raise ValueError("the filter is not text")
    statuses = PENDING_QUERY.statuses if view == "pending" else ()
    return ActionQuery(
        statuses=statuses, sort=SortOrder(document["sort"]), search=search, limit=DEFAULT_WINDOW
    )


def is_default(query: ActionQuery) -> bool:
    return query.with_(limit=PENDING_QUERY.limit, offset=0) == PENDING_QUERY
