"""A real PostgreSQL server for the tests, when one is given: a template database with
our schema, cloned per test (CREATE DATABASE ... TEMPLATE), dropped afterwards.

HOMELAB_APPROVALS_TEST_PG_URL names a superuser's URL (.ci/pg-cluster starts a private
cluster and prints it). Without it the PostgreSQL cases skip, saying so; under CI=true
they fail instead, so CI never passes without having run them."""

from __future__ import annotations

import itertools
import os
import subprocess
from dataclasses import dataclass, field

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

    def checkout(self) -> str:
        """A database just like a new clone of the template: a recycled one, or a clone.
        (A clone costs about a second on a busy machine; recycling, a few ms.)"""
        return self._spare.pop() if self._spare else self.fresh()

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

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def drop_url(self, url: str) -> None:
        database = make_url(url).database
        if database:
            self.drop(database)

    def restart(self) -> None:
        """Restart the server (the cluster .ci/pg-cluster started): every connection drops."""
        folder, bin_dir = os.environ.get(DIR_ENV), os.environ.get(BIN_ENV)
        if not folder or not bin_dir:
            pytest.skip(f"restarting needs the cluster's {DIR_ENV} and {BIN_ENV}")
        command = [f"{bin_dir}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/server.log"]
        command += ["-m", "fast", "-w", "restart"]
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        # The server's output goes to its log: a pipe here would be held open by it.
        subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120
        )
