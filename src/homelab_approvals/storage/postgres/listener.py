"""The change feed on PostgreSQL: one dedicated connection, outside the engine's pool,
LISTENing for the triggers' notifications (sql/schema.sql). The change token moves when
one arrives; every few seconds a cheap query re-checks in case one was missed (a dropped
connection, a pooler that does not pass LISTEN on) and proves the connection is alive.
With `listen=False` (--no-listen) that query is all there is, at every check."""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from homelab_approvals.storage import sql_files

_QUERIES = sql_files.load(__package__, "queries.sql")
#: Seconds between re-checks while listening.
RECHECK_SECONDS = 3.0


class ChangeListener:
    def __init__(self, connect: Callable[[], Any], *, listen: bool = True) -> None:
        """`connect()` gives a new psycopg connection (autocommit)."""
        self._connect = connect
        self.listening = listen
        self._conn: Any = None
        self._lock = threading.Lock()
        self._notified = 0
        self._checked: tuple[Any, ...] | None = None
        self._next_check = 0.0
        self._generation = 0  # moves on every reconnect: changes may have been missed

    def token(self, *, fresh: bool = False) -> object:
        """`fresh`: a round trip on the listening connection first. A notification is
        sent when its transaction commits, but reaches us a moment later; the server
        sends those that reached our session before its answer to a query, so after the
        round trip every commit that completed before the call has been counted.
        Without it, one may be counted only at the next call."""
        with self._lock:  # one thread uses the connection at a time
            try:
                return self._token(fresh)
            except BaseException:
                self._drop()
                raise

    def signal(self) -> int | None:
        """The listening connection's socket: readable when a notification (or anything
        else from the server) has arrived. None while not connected or not listening."""
        conn = self._conn
        if conn is None or not self.listening:
            return None
        try:
            return int(conn.fileno())
        except Exception:  # closed meanwhile: the next token() reconnects
            return None

    def _token(self, fresh: bool) -> object:
        if self._conn is None:
            self._conn = self._connect()
            self._generation += 1
            if self.listening:
                self._conn.execute(_QUERIES["listen"])
            self._next_check = 0.0
        elif fresh and self.listening:
            # psycopg keeps what arrives meanwhile for notifies() (3.2.4 on).
            self._conn.execute(_QUERIES["sync"])
        if self.listening:
            self._notified += self._drain()
        now = time.monotonic()
        if not self.listening or now >= self._next_check:
            self._checked = tuple(self._conn.execute(_QUERIES["change_check"]).fetchone())
            self._next_check = now + RECHECK_SECONDS
        checked = self._checked or ()
        if self.listening:
            # Notifications carry every change; the re-check's statistics lag behind
            # them and would read the window twice. The newest ids stay, as a backstop.
            checked = checked[:2]
        return (self._generation, self._notified, checked)

    def _drain(self) -> int:
        """The notifications that have arrived. A server shutting down sends its goodbye
        and closes: reading the goodbye raises nothing, so if the socket is still
        readable it is read again, and then the closed connection raises at once
        (rather than at the next re-check, seconds later)."""
        arrived = sum(1 for _ in self._conn.notifies(timeout=0))
        poller = select.poll()  # no descriptor of its own, unlike epoll
        poller.register(self._conn.fileno(), select.POLLIN)
        if poller.poll(0):
            arrived += sum(1 for _ in self._conn.notifies(timeout=0))
        return arrived

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing more to release
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._drop()
