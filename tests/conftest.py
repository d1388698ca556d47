"""Shared fixtures: real SQLite files in tmp dirs, never mocks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import Database, open_database


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "approvals.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path)
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
