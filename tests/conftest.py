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
from pg_support import PgServer, PrivateCluster, require_server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "approvals.db"


@pytest.fixture
def db(db_target: DbTarget) -> Iterator[Database]:
    database = db_target.open()
    yield database
    database.close()


@pytest.fixture
def demo_path(tmp_path: Path) -> Path:
    return tmp_path / "approvals.db"


@pytest.fixture
def demo(demo_path: Path) -> Iterator[ApprovalService]:
    """The console's demo data (a copy of one built once per run), on a real file."""
    from tui_support import demo_service  # imports Textual: only for tests that ask

    service = demo_service(demo_path)
    yield service
    service.db.close()


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
