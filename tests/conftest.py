"""Shared fixtures: real SQLite files in tmp dirs and real PostgreSQL databases, never
mocks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import Database
from pg_support import PgServer, PrivateCluster, Rows, require_server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "approvals.db"


@pytest.fixture
def db(db_target: DbTarget) -> Iterator[Database]:
    database = db_target.open()
    yield database
    database.close()


@pytest.fixture
def demo(demo_target: DbTarget) -> Iterator[ApprovalService]:
    """The console's demo data on a database of its own (`demo_target`), frozen clock."""
    from tui_support import open_service  # imports Textual: only for tests that ask

    service = open_service(demo_target)
    yield service
    service.db.close()


@pytest.fixture
def demo_path(demo_target: DbTarget) -> Path:
    """The demo's SQLite file, for tests of a file as such (on SQLite alone)."""
    if demo_target.path is None:
        raise pytest.UsageError("demo_path is SQLite's: use demo_target on PostgreSQL")
    return demo_target.path


@pytest.fixture
def service(db: Database) -> ApprovalService:
    return ApprovalService(db)


@pytest.fixture
def seeded(service: ApprovalService) -> ApprovalService:
    """Two servers: pi-4 paused (actions start pending), nas active (actions auto-approve)."""
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    service.add_server("nas", "nas.lan")
    return service


FROZEN_NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


# -- one fixture, both backends ----------------------------------------------------------------
#
# A test module marked `pytest.mark.backends` runs each of its tests on SQLite and on
# PostgreSQL: `backend` is parametrized, and `db_target` (hence `db`, `service`,
# `seeded`) is a fresh database of that backend. Other modules stay on SQLite.


# In such a module, `pytest.mark.sqlite_only("why")` keeps one test on SQLite alone, saying
# why (a file, its permissions, sqlite3 itself): never a silent skip of a PostgreSQL case.


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("backends"):
        only = metafunc.definition.get_closest_marker("sqlite_only")
        if only is None:
            metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
        elif not only.args:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer(require_server())
    server.create_template()
    yield server
    server.drop_spares()
    server.drop(server.template)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivateCluster]:
    """A PostgreSQL server of the module's own, to stop and start (never the shared one)."""
    cluster = PrivateCluster()
    yield cluster
    cluster.remove()


@pytest.fixture
def db_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DbTarget]:
    if backend == "sqlite":
        yield DbTarget(backend, path=tmp_path / "approvals.db")
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.checkout()  # fresh, or recycled exactly as fresh (pg_support.py)
    target = DbTarget(backend, url=url)
    yield target
    target.close()
    server.checkin(url)


@pytest.fixture(scope="session")
def pg_demo_rows(pg_server: PgServer) -> Rows:
    """The console's demo, built once in a database of the server's, as its rows."""
    from tui_support import fill_demo_at  # imports Textual: only for tests that ask

    url = pg_server.checkout()
    try:
        fill_demo_at(url)
        return pg_server.rows_of(url)
    finally:
        pg_server.checkin(url)


@pytest.fixture
def demo_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DbTarget]:
    """A fresh database holding the console's deterministic demo (seed 0, frozen clock),
    on the test's backend: on SQLite a copy of a file built once per session, on
    PostgreSQL a recycled database (as good as a clone of the template) given the rows
    of one built once per session. A clone of a demo template database would do too,
    at about 0.25 s a clone on a busy machine against a few ms."""
    if backend == "sqlite":
        from tui_support import demo_file  # imports Textual: only for tests that ask

        path = tmp_path / "demo.db"  # beside, never instead of, db_target's file
        demo_file(path)
        yield DbTarget(backend, path=path)
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.checkout(rows=request.getfixturevalue("pg_demo_rows"))
    target = DbTarget(backend, url=url)
    yield target
    target.close()
    server.checkin(url)
