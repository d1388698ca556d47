"""The console on PostgreSQL, the real app under Pilot: another connection's change shows
by LISTEN/NOTIFY; the server restarting (on a private server of this module's own) and
the network dropping (a real TCP relay, cut and restored) show "database unreachable,
retrying" while the console keeps running and catches up by itself; a lost listener
misses nothing; a role with SELECT only gets the read-only banner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from textual.widgets import Static

from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.storage.postgres.backend import LISTENER_NAME
from homelab_approvals.tui.app import ApprovalsApp
from homelab_approvals.tui.live import UNREACHABLE_BANNER
from pg_support import PgServer, PrivateCluster, TcpProxy
from tui_support import (
    frozen_clock,
    highlighted_id,
    rows,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_until,
)

#: A server restart takes a few seconds, and the feed retries at most 5 s apart.
RECOVERY = 30.0


@contextmanager
def fresh_queue(url: str) -> Iterator[tuple[ApprovalService, list[ActionView]]]:
    """Our schema at `url`, one paused server and two pending actions."""
    db = open_database(url=url)
    service = ApprovalService(db, clock=frozen_clock)
    service.add_server("pi-4", "pi4.lan", paused=True)
    actions = [
        service.create_action("pi-4", ActionType.RESTART_SERVICE, "nginx", actor="bob"),
        service.create_action("pi-4", ActionType.CLEAR_LOGS, actor="bob"),
    ]
    try:
        yield service, actions
    finally:
        db.close()


@contextmanager
def another_host(url: str) -> Iterator[ApprovalService]:
    """Another host's connection: its own engine, straight to the server."""
    db = open_database(url=url)
    try:
        yield ApprovalService(db)
    finally:
        db.close()


def refresh_banner(app: ApprovalsApp) -> str | None:
    """What the refresh banner says, or None while it is hidden."""
    banner = screen(app).query_one("#refresh-error", Static)
    return text_of(banner).strip() if banner.display else None


def database_toasts(app: ApprovalsApp, after: int = 0) -> list[str]:
    return [message for _, title, message in toasts(app)[after:] if title == "Database"]


@pytest.fixture
def private_url(private_pg: PrivateCluster) -> Iterator[str]:
    if not private_pg.running():  # a test before this one failed with it stopped
        private_pg.start()
    url = private_pg.server.fresh()
    yield url
    if not private_pg.running():
        private_pg.start()
    private_pg.server.drop_url(url)


@pytest.fixture
def shared_url(pg_server: PgServer) -> Iterator[str]:
    url = pg_server.fresh()
    yield url
    pg_server.drop_url(url)


# -- the server goes away ----------------------------------------------------------------------


@run_async
async def test_a_server_restart_shows_the_banner_and_the_console_catches_up(
    private_pg: PrivateCluster, private_url: str
) -> None:
    with fresh_queue(private_url) as (service, (first, second)):
        async with running(service) as (app, pilot):
            assert refresh_banner(app) is None
            assert highlighted_id(app) == first.id
            private_pg.stop()
            await wait_until(
                pilot, lambda: refresh_banner(app) == UNREACHABLE_BANNER, "the banner", RECOVERY
            )
            # Which error it was is in the first attempt's toast, on one line.
            (detail,) = database_toasts(app)
            assert detail.startswith("database unreachable (")
            assert "\n" not in detail
            assert app.is_running

            # A decision while the server is down: one line, nothing applied.
            shown = len(toasts(app))
            await pilot.press("a")
            await wait_until(pilot, lambda: database_toasts(app, shown), "the refusal", RECOVERY)
            (refused,) = database_toasts(app, shown)
            assert refused.startswith("database unreachable")
            assert "\n" not in refused
            assert refresh_banner(app) == UNREACHABLE_BANNER

            private_pg.start()
            # Another host decides and adds at once, before the console is back: no key
            # is pressed, and the console shows both when it has reconnected.
            with another_host(private_url) as other:
                other.reject(second.id, "carol", "not tonight")
                new = other.create_action("pi-4", ActionType.APT_UPDATE, actor="cron")
            await wait_until(
                pilot,
                lambda: refresh_banner(app) is None and rows(app) == [first.id, new.id],
                "the console to catch up",
                RECOVERY,
            )
            assert app.is_running
        # The refused approval left no trace: still pending, no event of its own.
        assert service.get_action(first.id).status == "pending"
        assert [e.to_status for e in service.list_events(action_id=first.id)] == ["pending"]


@run_async
async def test_a_network_drop_shows_the_banner_and_changes_made_meanwhile_appear(
    shared_url: str,
) -> None:
    target = make_url(shared_url)
    proxy = TcpProxy(str(target.host), int(target.port or 5432))
    try:
        with another_host(shared_url) as setup:  # the schema and the queue, straight
            setup.add_server("pi-4", "pi4.lan", paused=True)
            first = setup.create_action("pi-4", ActionType.RESTART_SERVICE, "nginx", actor="bob")
        db = open_database(url=proxy.url(shared_url))  # the console's host, over the relay
        service = ApprovalService(db, clock=frozen_clock)
        try:
            async with running(service) as (app, pilot):
                assert rows(app) == [first.id]
                proxy.cut()
                await wait_until(
                    pilot,
                    lambda: refresh_banner(app) == UNREACHABLE_BANNER,
                    "the banner",
                    RECOVERY,
                )
                # Changes the console cannot hear about: their notifications are lost.
                with another_host(shared_url) as other:
                    other.approve(first.id, "carol")
                    new = other.create_action("pi-4", ActionType.CLEAR_LOGS, actor="cron")
                proxy.restore()
                await wait_until(
                    pilot,
                    lambda: refresh_banner(app) is None and rows(app) == [new.id],
                    "the console to catch up",
                    RECOVERY,
                )
                assert app.is_running
        finally:
            db.close()
    finally:
        proxy.close()


@run_async
async def test_a_killed_listener_misses_no_change(shared_url: str) -> None:
    """The listening session ends (an idle timeout, a pooler, an admin): a change made
    right then, whose notification nobody hears, still shows without a key press."""
    with fresh_queue(shared_url) as (service, (first, second)):
        async with running(service) as (app, pilot):
            database = make_url(shared_url).database
            with psycopg.connect(shared_url, autocommit=True) as conn:
                ended = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND datname = %s",
                    (LISTENER_NAME, database),
                ).fetchall()
            assert ended == [(True,)]
            with another_host(shared_url) as other:
                other.approve(first.id, "carol")
            await wait_until(
                pilot,
                lambda: refresh_banner(app) is None and rows(app) == [second.id],
                "the change to show",
                RECOVERY,
            )


# -- live refresh by notification --------------------------------------------------------------


@run_async
async def test_another_hosts_change_shows_by_notification(shared_url: str) -> None:
    """The console polls only every 30 s here: the change can only have been brought
    by the notification waking it (benchmarks/run.py times it: pg_screen_propagation)."""
    with fresh_queue(shared_url) as (service, (first, second)):
        async with running(service, poll_interval=30.0) as (app, pilot):
            console = screen(app)
            refreshes = console.refreshes
            with another_host(shared_url) as other:
                other.approve(first.id, "carol")
            await wait_until(pilot, lambda: rows(app) == [second.id], "the notification", 10)
            assert console.refreshes == refreshes + 1
            with another_host(shared_url) as other:
                new = other.create_action("pi-4", ActionType.APT_UPDATE, actor="cron")
            await wait_until(pilot, lambda: rows(app) == [second.id, new.id], "the next one", 10)


# -- read-only ---------------------------------------------------------------------------------


@contextmanager
def select_only_role(url: str) -> Iterator[str]:
    """A login role granted SELECT on our tables and nothing else; its URL."""
    role = f"approvals_reader_{os.getpid()}"
    database = str(make_url(url).database)
    grants: list[Any] = [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.Identifier(role)
        ),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(role)),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'reader-secret'").format(sql.Identifier(role))
        )
        for grant in grants:
            conn.execute(grant)
    try:
        yield (
            make_url(url)
            .set(username=role, password="reader-secret")
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(
                    sql.Identifier(role)
                )
            )
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                    sql.Identifier(database), sql.Identifier(role)
                )
            )
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@run_async
async def test_a_select_only_role_opens_the_console_read_only(shared_url: str) -> None:
    with fresh_queue(shared_url) as (_, (first, second)), select_only_role(shared_url) as reader:
        db = open_database(url=reader)
        service = ApprovalService(db, clock=frozen_clock)
        role = make_url(reader).username
        try:
            async with running(service) as (app, pilot):
                console = screen(app)
                # The words SQLite's read-only console shows, with this role's reason
                # (over two lines at 80 columns).
                banner = " ".join(text_of(console.query_one("#banner", Static)).split())
                assert banner == (
                    f"READ-ONLY · the role {role} may not change actions or add events"
                    " · approve, reject and cancel are off"
                )
                for action in ("approve", "reject", "cancel_action"):
                    assert console.check_action(action, ()) is None
                await pilot.press("a", "c")
                # It still refreshes live.
                with another_host(shared_url) as other:
                    other.approve(first.id, "carol")
                await wait_until(pilot, lambda: rows(app) == [second.id], "live refresh", 10)
        finally:
            db.close()
        with another_host(shared_url) as check:
            assert check.get_action(second.id).status == "pending"
