"""Opening a database: engine, per-connection pragmas, transactions, change detection."""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from homelab_approvals.domain.damaged import text_from_bytes
from homelab_approvals.domain.errors import DatabaseReplaced, StorageError
from homelab_approvals.domain.models import ActionEvent, RemediationAction
from homelab_approvals.storage.errors import translated
from homelab_approvals.storage.prepared import HeldConnections, WriteTransaction, portable
from homelab_approvals.storage.readonly import read_only_uri_params, unwritable_reason
from homelab_approvals.storage.schema import ensure_schema, missing_foreign_key_parents

BUSY_TIMEOUT_MS = 5000
_IMMEDIATE = "approvals_immediate"
_HELD_LOCK = threading.Lock()


@dataclass
class Database:
    """An open database. Thread-safe: each `reading()`/`writing()` checks out its own
    pooled connection."""

    engine: Engine
    label: str
    read_only: bool = False
    read_only_reason: str | None = None
    created: bool = False
    #: True when reading a fixed snapshot (see `_open_read_only_engine`): changes made
    #: after opening show only after reopening.
    snapshot: bool = False
    #: Set when SQLite foreign keys are off for this database, and why.
    foreign_keys_off_reason: str | None = None
    #: The audit triggers found changed or removed on open, and restored (issue 16): the
    #: CLI and the console say so; the trail itself records it.
    audit_repairs: list[str] = field(default_factory=list)
    #: The file this database was opened on, for a SQLite file (see `check_file`).
    path: Path | None = None
    _identity: _FileIdentity | None = field(default=None, repr=False)
    _watcher: ChangeWatcher | None = field(default=None, repr=False)
    _held: HeldConnections | None = field(default=None, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with translated(self.label), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction that takes the write lock up front (BEGIN IMMEDIATE on SQLite),
        so concurrent writers queue on busy_timeout instead of failing on lock upgrade."""
        if self.read_only:
            why = self.read_only_reason
            raise StorageError(f"database is open read-only ({why}): {self.label}")
        with (
            translated(self.label),
            self.engine.connect().execution_options(**{_IMMEDIATE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    def write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """A write transaction; once the file is watched (`change_token`), the file is
        checked before it and again after its commit, so a decision that went to a
        replaced file is an error, never reported as done."""
        if self._identity is None:
            return self._write_transaction()
        return self._checked(self._write_transaction())

    @contextmanager
    def _checked(
        self, transaction: AbstractContextManager[WriteTransaction]
    ) -> Iterator[WriteTransaction]:
        self.check_file()
        with transaction as tx:
            yield tx
        self.check_file(committed=True)

    def check_file(self, *, committed: bool = False) -> None:
        """Raise DatabaseReplaced when the file at our path is not the one we opened
        (another inode) or its -wal, there when watching began, is gone."""
        identity = self._identity
        if identity is None or self.path is None:
            return
        problem = identity.problem(self.path)
        if problem is None:
            return
        after = (
            "; the change just made went to the old file, which nobody reads now"
            if committed
            else ""
        )
        raise DatabaseReplaced(f"the database file was replaced ({problem}){after}: {self.label}")

    def _write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """`writing()` for the decision hot path: the same one transaction under the write
        lock, running Core statements. On SQLite they run precompiled on a held connection
        (storage/prepared.py has the profile that justifies it); elsewhere through an
        ordinary connection."""
        held = self._held  # set on the first call, for a writable SQLite database
        if held is not None and not self.read_only:
            return held.transaction()
        if not self.is_sqlite:
            return portable(self.writing())
        if self.read_only:
            why = self.read_only_reason
            raise StorageError(f"database is open read-only ({why}): {self.label}")
        held = self._held
        if held is None:
            with _HELD_LOCK:
                if self._held is None:
                    self._held = HeldConnections(self.engine, self.label)
                held = self._held
        return held.transaction()

    def change_token(self) -> object:
        """A value that changes whenever another connection commits. Cheap to call often."""
        if self._watcher is None:
            self._watcher = ChangeWatcher(self)
            if self.path is not None:
                # From now on a connection is held open, so a WAL database keeps its -wal.
                self._identity = _FileIdentity.of(self.path)
        with translated(self.label):
            token = self._watcher.token()
        self.check_file()
        return token

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self.engine.dispose()


@dataclass(frozen=True)
class _FileIdentity:
    device: int
    inode: int
    wal: bool  # the -wal existed

    @classmethod
    def of(cls, path: Path) -> _FileIdentity | None:
        try:
            info = path.stat()
        except OSError:
            return None
        return cls(info.st_dev, info.st_ino, _wal_of(path).exists())

    def problem(self, path: Path) -> str | None:
        try:
            info = path.stat()
        except FileNotFoundError:
            return "it was removed"
        except OSError:
            return None  # cannot tell; the next read says what is wrong
        if (info.st_dev, info.st_ino) != (self.device, self.inode):
            return "another file is at its path"
        if self.wal and not _wal_of(path).exists():
            return "its -wal file was removed"
        return None


def _wal_of(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


class ChangeWatcher:
    """SQLite: `PRAGMA data_version` on one held connection (a few µs, no locks).
    Other databases: a cheap aggregate that moves with every insert or transition."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._raw: Any = db.engine.raw_connection() if db.is_sqlite else None

    def token(self) -> object:
        if self._raw is not None:
            cursor = self._raw.cursor()
            try:
                return cursor.execute("PRAGMA data_version").fetchone()[0]
            finally:
                cursor.close()
        with self._db.engine.connect() as conn:
            actions = conn.execute(
                select(func.max(RemediationAction.id), func.count(RemediationAction.id))
            ).one()
            events = conn.execute(select(func.max(ActionEvent.id))).scalar()
            return (tuple(actions), events)

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


@dataclass
class _Pragmas:
    """What each new SQLite connection is set up with; `foreign_keys` may be turned off
    after the schema has been looked at (see `_check_foreign_key_parents`)."""

    new_file: bool = False
    query_only: bool = False
    foreign_keys: bool = True


def _install_sqlite_hooks(engine: Engine, *, new_file: bool, query_only: bool = False) -> _Pragmas:
    pragmas = _Pragmas(new_file=new_file, query_only=query_only)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is possible.
        dbapi_conn.isolation_level = None
        # Bytes that are not UTF-8 in a text column: shown with stand-ins and marked,
        # instead of an error that would hide every other row of the query.
        dbapi_conn.text_factory = text_from_bytes
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if pragmas.foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA synchronous = NORMAL")
            if pragmas.new_file:
                cursor.execute("PRAGMA journal_mode = WAL")
            if pragmas.query_only:
                cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return pragmas


def _check_foreign_key_parents(db: Database, pragmas: _Pragmas) -> None:
    """A HomelabCmd database copied without its `alerts` table still declares
    remediation_actions.alert_id REFERENCES alerts. With foreign_keys=ON, SQLite then
    refuses every INSERT into remediation_actions ("no such table: main.alerts"), even
    with alert_id NULL. In that one case this database's connections run with
    foreign_keys=OFF: the only key we rely on, server_id -> servers, is checked by the
    service under the same write lock, and we never delete rows. Updates are unaffected
    either way (SQLite checks a key only when its columns change)."""
    with db.reading() as conn:
        missing = missing_foreign_key_parents(conn)
    if missing:
        pragmas.foreign_keys = False
        db.engine.dispose()  # pooled connections still have foreign_keys=ON
        db.foreign_keys_off_reason = "foreign keys point at missing tables: " + ", ".join(missing)


def _create_file(path: Path, *, group_shared: bool) -> None:
    """Create the folder and an empty database file with owner-only (or group) access.
    SQLite gives the -wal and -shm files the same mode as the database file."""
    folder_mode = 0o770 if group_shared else 0o700
    folder_is_new = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True, mode=folder_mode)
    if folder_is_new:
        # mkdir's mode is narrowed by the umask; a shared folder must really let the
        # group create the -wal and -shm files. A folder that already existed is the
        # user's business, not ours.
        os.chmod(path.parent, folder_mode)
    mode = 0o660 if group_shared else 0o600
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.close(fd)
    os.chmod(path, mode)  # the umask must not widen or narrow what we asked for


def _restrict_empty_file(path: Path, *, group_shared: bool) -> None:
    """An empty file we are about to turn into a database gets a new database's mode
    (0600, or 0660 shared), whatever it was made with: an empty 0666 file given as --db
    must not become a world-writable audit trail. Someone else's file is left as it is
    (only its owner may change its mode)."""
    try:
        os.chmod(path, 0o660 if group_shared else 0o600)
    except PermissionError:
        pass
    except OSError as error:
        raise StorageError(f"cannot open the database ({error.strerror}): {path}") from error


def _sqlite_url(path: Path, **uri_params: str) -> URL:
    """A URL SQLAlchemy will not re-parse: a path may hold '?', '#', '%' or spaces."""
    if not uri_params:
        return URL.create("sqlite", database=str(path))
    # SQLite URI filenames: percent-encode the path, then the parameters follow '?'.
    return URL.create(
        "sqlite", database=f"file:{quote(str(path))}", query={**uri_params, "uri": "true"}
    )


def _open_read_only_engine(path: Path, label: str) -> tuple[Engine, bool]:
    """An engine for a database this user may not write, and whether what it reads is a
    fixed snapshot (see `read_only_uri_params`: such a reader must never leave files)."""
    params, snapshot = read_only_uri_params(path, label)
    return create_engine(_sqlite_url(path, **params)), snapshot


def open_database(
    path: Path | None = None,
    *,
    url: str | None = None,
    read_only: bool = False,
    group_shared: bool = False,
    create: bool = True,
) -> Database:
    """Open (creating if needed) a database by file path or SQLAlchemy URL, bring our
    tables up to date without touching anyone else's, and return it."""
    if (path is None) == (url is None):
        raise ValueError("give exactly one of path or url")
    if url is not None:
        return _open_url(url, read_only=read_only, group_shared=group_shared)
    assert path is not None
    try:
        path = path.expanduser().absolute()
    except RuntimeError as error:  # "~nosuchuser/approvals.db"
        raise StorageError(f"cannot find the home folder in the database path: {path}") from error
    label = str(path)
    reason = "--read-only was given" if read_only else None
    try:
        info: os.stat_result | None = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as error:  # e.g. a folder on the way that this user may not enter
        raise StorageError(f"cannot open the database ({error.strerror}): {label}") from error
    except ValueError as error:  # a NUL byte, e.g. from a %00 in --database-url
        raise StorageError(f"not a valid database path: {label!r}") from error
    if info is None:
        if read_only or not create:
            raise StorageError(f"database does not exist: {label}")
        try:
            _create_file(path, group_shared=group_shared)
        except FileExistsError:
            pass  # another process won the race; open theirs
        except OSError as error:
            raise StorageError(f"cannot create the database ({error.strerror}): {label}") from error
    elif stat.S_ISDIR(info.st_mode):  # likely meant: a database in this folder
        raise StorageError(
            f"the database path is a folder: {label} (name a file, e.g. {path / 'approvals.db'})"
        )
    elif not stat.S_ISREG(info.st_mode):
        raise StorageError(f"not a SQLite database: {label}")
    # An empty file is a database nobody has written yet (ours, just created, or one
    # whose creator was killed before the schema landed): it gets WAL like a new one.
    try:
        new_file = path.stat().st_size == 0
    except OSError as error:
        raise StorageError(f"cannot open the database ({error.strerror}): {label}") from error
    unwritable = unwritable_reason(path)
    if new_file and unwritable is None and not read_only:
        _restrict_empty_file(path, group_shared=group_shared)
    snapshot = False
    if unwritable is not None:
        engine, snapshot = _open_read_only_engine(path, label)
        reason = reason or unwritable
        new_file = False
    else:
        # Read-only by choice on a file we could write: open it normally, with SQLite's
        # query_only guard. A mode=ro reader could not remove the -wal and -shm files
        # on close, so even looking would leave files behind.
        engine = create_engine(_sqlite_url(path))
    pragmas = _install_sqlite_hooks(
        engine, new_file=new_file and reason is None, query_only=read_only
    )
    db = Database(
        engine,
        label,
        read_only=reason is not None,
        read_only_reason=reason,
        created=new_file,
        snapshot=snapshot,
        path=path,
    )
    try:
        db.audit_repairs = ensure_schema(db)
        _check_foreign_key_parents(db, pragmas)
    except BaseException:
        engine.dispose()
        raise
    return db


def _open_url(url: str, *, read_only: bool, group_shared: bool) -> Database:
    try:
        parsed = make_url(url)
    except Exception as error:
        # The URL may hold a password: never echo it.
        shown = re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)
        raise StorageError(f"not a valid database URL: {shown}") from error
    label = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # A file: the same checks, permissions and pragmas as --db. SQLite's own
        # read-only URI flag is honoured.
        wants_ro = read_only or parsed.query.get("mode") == "ro"
        return open_database(Path(parsed.database), read_only=wants_ro, group_shared=group_shared)
    try:
        with translated(label):
            engine = create_engine(parsed)
    except ImportError as error:  # the dialect's driver is not installed
        raise StorageError(
            f"no database driver for {parsed.get_backend_name()} is installed ({error}): {label}"
        ) from error
    pragmas = None
    if engine.dialect.name == "sqlite":
        pragmas = _install_sqlite_hooks(engine, new_file=False, query_only=read_only)
    reason = "--read-only was given" if read_only else None
    db = Database(engine, label, read_only, reason)
    try:
        db.audit_repairs = ensure_schema(db)
        if pragmas is not None:
            _check_foreign_key_parents(db, pragmas)
    except BaseException:
        engine.dispose()
        raise
    return db
