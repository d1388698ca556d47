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


@dataclass
class PgServer:
    admin_url: str
    template: str = f"approvals_template_{os.getpid()}"
    _names: itertools.count[int] = field(default_factory=itertools.count)

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
