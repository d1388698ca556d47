"""A real PostgreSQL server for the tests, when one is given: a template database with
our schema, cloned per test (CREATE DATABASE ... TEMPLATE), dropped afterwards.

HOMELAB_APPROVALS_TEST_PG_URL names a superuser's URL (.ci/pg-cluster starts a private
cluster and prints it). Without it the PostgreSQL cases skip, saying so; under CI=true
they fail instead, so CI never passes without having run them."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

URL_ENV = "HOMELAB_APPROVALS_TEST_PG_URL"
DIR_ENV = "HOMELAB_APPROVALS_TEST_PG_DIR"
BIN_ENV = "HOMELAB_APPROVALS_TEST_PG_BIN"


def require_server() -> str:
    url = os.environ.get(URL_ENV)
    if url:
        return url
    reason = f'no PostgreSQL server: set {URL_ENV} (e.g. eval "$(.ci/pg-cluster start)")'
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the PostgreSQL cases must run", pytrace=False)
    pytest.skip(reason)


# Everything a test could change in a database's shape, as one digest: columns, triggers
# (and whether enabled), functions, indexes, constraints, grants, settings and our schema
# version. A database whose digest still equals the template's is as good as a new clone
# once its rows are gone (`checkin`); any other is dropped.
SHAPE = """
SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM (
  SELECT 'column ' || c.relname || '.' || a.attname || ' '
         || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
         || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS x
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'relation ' || relname || ' ' || relkind::text || ' '
         || coalesce(relacl::text, '')
    FROM pg_class WHERE relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname || ' '
         || tgenabled::text
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'function ' || proname || ' ' || md5(prosrc)
    FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'database ' || coalesce(datacl::text, '') FROM pg_database
   WHERE datname = current_database()
  UNION ALL SELECT 'setting ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL SELECT 'schema version ' || id || ' ' || version FROM approvals_schema
) shape
"""


@dataclass(frozen=True)
class Rows:
    """A database's rows, table by table (COPY's binary form), and where its sequences
    stood: `PgServer.rows_of`."""

    tables: list[tuple[str, bytes]]
    sequences: list[tuple[str, int]]


@dataclass
class PgServer:
    admin_url: str
    template: str = f"approvals_template_{os.getpid()}"
    _names: itertools.count[int] = field(default_factory=itertools.count)
    _shape: str | None = None
    _spare: list[str] = field(default_factory=list)

    def url_for(
        self, database: str, *, user: str | None = None, password: str | None = None
    ) -> str:
        url = make_url(self.admin_url).set(database=database)
        if user is not None:
            url = url.set(username=user, password=password)
        return url.render_as_string(hide_password=False)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def create_template(self) -> None:
        from homelab_approvals.storage import open_database

        self.drop(self.template)
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.template)))
        open_database(url=self.url_for(self.template)).close()  # our schema, once
        with psycopg.connect(self.url_for(self.template), autocommit=True) as conn:
            self._shape = str(conn.execute(SHAPE).fetchone()[0])  # type: ignore[index]

    def checkout(self, *, rows: Rows | None = None) -> str:
        """A database just like a new clone of the template: a recycled one, or a clone.
        (A clone costs about a second on a busy machine; recycling, a few ms.) With
        `rows` (`rows_of`), those rows are put in it: as a clone of their database
        would be, for a few ms more."""
        url = self._spare.pop() if self._spare else self.fresh()
        if rows is not None:
            with psycopg.connect(url) as conn:  # one transaction
                # As a replica would: the rows are consistent already, and nobody
                # listens yet (foreign keys and notifications are triggers).
                conn.execute("SET session_replication_role = replica")
                for name, data in rows.tables:
                    query = sql.SQL("COPY {} FROM STDIN (FORMAT binary)")
                    with conn.cursor().copy(query.format(sql.Identifier(name))) as copy:
                        copy.write(data)
                for sequence, value in rows.sequences:
                    conn.execute("SELECT setval(%s, %s)", (sequence, value))
        return url

    def checkin(self, url: str) -> None:
        """After a test: its rows removed and the database kept for the next test when its
        shape is still the template's; otherwise dropped."""
        database = make_url(url).database
        if not database:
            return
        with self.admin() as conn:  # as DROP ... WITH (FORCE): nobody is left inside
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        try:
            with psycopg.connect(self.url_for(database), autocommit=True) as conn:
                if conn.execute(SHAPE).fetchone() != (self._shape,):
                    raise LookupError("the test changed the database's shape")
                tables = conn.execute(
                    "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
                    " WHERE schemaname = 'public' AND tablename <> 'approvals_schema'"
                ).fetchone()
                # As a replica would: the audit trail's TRUNCATE trigger stays out of it.
                conn.execute("SET session_replication_role = replica")
                conn.execute(f"TRUNCATE {tables[0]} RESTART IDENTITY CASCADE")  # type: ignore[index]
        except (psycopg.Error, LookupError):
            self.drop(database)
            return
        self._spare.append(url)

    def drop_spares(self) -> None:
        while self._spare:
            self.drop_url(self._spare.pop())

    def fresh(self, *, empty: bool = False) -> str:
        """A new database: a clone of the template (our schema), or an empty one."""
        name = f"approvals_t{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            if empty:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            else:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(self.template)
                    )
                )
        return self.url_for(name)

    def rows_of(self, url: str) -> Rows:
        """Every row of the database at `url` (our schema's version aside), to put in a
        fresh database with `checkout(rows=...)`."""
        with psycopg.connect(url) as conn:
            names = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'approvals_schema' ORDER BY tablename"
            ).fetchall()
            tables = []
            for (name,) in names:
                query = sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(sql.Identifier(name))
                with conn.cursor().copy(query) as copy:
                    tables.append((str(name), b"".join(bytes(chunk) for chunk in copy)))
            sequences = conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences"
                " WHERE schemaname = 'public' AND last_value IS NOT NULL"
            ).fetchall()
        return Rows(tables, [(str(name), int(value)) for name, value in sequences])

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def drop_url(self, url: str) -> None:
        database = make_url(url).database
        if database:
            self.drop(database)


# -- a private server of a test's own, to stop and start ----------------------------------------


def _server_binaries() -> Path:
    given = os.environ.get(BIN_ENV)
    found = [Path(given)] if given else sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    for folder in reversed(found):
        if (folder / "initdb").is_file():
            return folder
    reason = "no PostgreSQL server binaries (initdb) to start a private server"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the PostgreSQL cases must run", pytrace=False)
    pytest.skip(reason)


def _as_owner(command: list[str]) -> list[str]:
    """As .ci/pg-cluster: the server refuses to run as root, so it runs as nobody."""
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    return command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateCluster:
    """A PostgreSQL cluster of its own in a temporary folder (as .ci/pg-cluster makes
    one), for tests that stop and start the server: the shared one serves everybody
    else's tests. `server` makes and drops databases on it as `pg_server` does."""

    def __init__(self) -> None:
        self.bin = _server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="approvals-private-pg-"))
        self.folder.chmod(0o755)
        self.port = free_port()
        password = secrets.token_hex(16)
        (self.folder / "pwfile").write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "nobody", "nogroup")
            shutil.chown(self.folder / "pwfile", "nobody", "nogroup")
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "approvals",
             f"--pwfile={self.folder / 'pwfile'}", "--auth-local=trust",
             "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]
        )  # fmt: skip
        (self.folder / "pwfile").unlink()
        self.admin_url = f"postgresql://approvals:{password}@127.0.0.1:{self.port}/postgres"
        self.start()
        self.server = PgServer(self.admin_url, template=f"approvals_private_{os.getpid()}")
        self.server.create_template()

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, command: list[str]) -> None:
        # Output goes to a file: a pipe would be held open by the server it starts.
        with (self.folder / "ctl.log").open("ab") as log:
            subprocess.run(_as_owner(command), check=True, stdout=log, stderr=log, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
             str(self.folder / "server.log"), "-w", "-t", "60", "start", "-o", options]
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast: every session is ended)."""
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def running(self) -> bool:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
        return subprocess.run(_as_owner(command), capture_output=True).returncode == 0

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- a network between client and server that can be cut --------------------------------------


class TcpProxy:
    """A real TCP relay on a loopback port in front of the server. cut() drops every
    relayed connection at once and refuses new ones (a cable pulled, a VPN gone), until
    restore(). `url(u)` is `u` pointed through the relay."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="proxy accept").start()

    def url(self, url: str) -> str:
        return (
            make_url(url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                refused = self._cut or self._closed
            if refused:
                client.close()  # the server end of the network is gone
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *ends: socket.socket) -> None:
        with self._lock:
            for end in ends:
                self._open.discard(end)
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            ends = list(self._open)
        self._drop(*ends)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.cut()
        self._listener.close()
