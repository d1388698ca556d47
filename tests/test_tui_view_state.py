"""vim-style movement, and the view remembered per database (pending/all, sort, filter),
driven headless through Pilot on real databases of both backends and real state files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus, SortOrder
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.tui.decisions import DECISION_KEYS
from homelab_approvals.tui.table import ActionTable
from homelab_approvals.tui.view_state import PENDING_QUERY, ViewState
from tui_support import (
    highlighted_id,
    rows,
    run_async,
    running,
    screen,
    wait_settled,
    wait_until,
)

pytestmark = pytest.mark.backends

PENDING = ActionQuery(statuses=(ActionStatus.PENDING,))


def state_for(database: str, tmp_path: Path) -> ViewState:
    """The state file of the database named `database` (a path, or a URL)."""
    return ViewState.for_database(database, folder=tmp_path / "state")


#: A database's name only: the state file tests below need no database, so run once.
NAMED = "/srv/homelab/approvals.db"


# -- vim-style movement ---------------------------------------------------------------------


@run_async
async def test_j_k_g_G_and_half_pages_move_the_cursor(demo: ApprovalService) -> None:
    ids = [view.id for view in demo.list_actions(PENDING).rows]
    assert len(ids) > 6
    async with running(demo, size=(80, 24)) as (app, pilot):
        table = screen(app).table
        await pilot.press("j", "j")
        assert highlighted_id(app) == ids[2]
        await pilot.press("k")
        assert highlighted_id(app) == ids[1]
        await pilot.press("G")
        assert highlighted_id(app) == ids[-1]
        await pilot.press("g")
        assert highlighted_id(app) == ids[0]
        half = table._half_page()
        assert half >= 1
        await pilot.press("ctrl+d")
        assert table.cursor_row == min(half, len(ids) - 1)
        await pilot.press("ctrl+u")
        assert table.cursor_row == 0
        await pilot.press("ctrl+u")  # at the top it stays there
        assert table.cursor_row == 0
        # Moving never decided anything.
        assert [view.id for view in demo.list_actions(PENDING).rows] == ids


def test_no_movement_key_is_a_decision_key() -> None:
    decision_keys = {"a", "r", "c", "A", "R", "space", "ctrl+a"}
    for binding in ActionTable.BINDINGS:
        assert not isinstance(binding, tuple)
        assert binding.key not in decision_keys
        assert binding.action not in DECISION_KEYS


# -- the remembered view --------------------------------------------------------------------


@run_async
async def test_the_view_is_remembered_and_restored(demo: ApprovalService, tmp_path: Path) -> None:
    state = state_for(demo.db.label, tmp_path)
    async with running(demo, view_state=state) as (app, pilot):
        await pilot.press("p", "s")
        await wait_until(pilot, lambda: screen(app).view_query.sort is SortOrder.SERVER)
        await pilot.press("slash", *"pihole", "enter")
        await wait_until(pilot, lambda: screen(app).view_query.search == "pihole")
        await wait_settled(pilot, app)
    app.remember_view()
    saved = json.loads(state.path.read_text())
    assert (saved["view"], saved["sort"], saved["filter"]) == ("all", "server", "pihole")
    assert state.path.stat().st_mode & 0o077 == 0  # the operator's alone

    restored = state.load()
    assert restored is not None
    expected = [v.id for v in demo.list_actions(restored).rows]
    async with running(demo, view=restored, view_state=state) as (app, pilot):
        console = screen(app)
        assert console.view_query == restored
        assert rows(app) == expected
        title = str(console.table.border_title)
        assert title.startswith("All · by server")
        # A filter nobody typed this time says so, and how to drop it.
        assert 'restored filter "pihole" · escape clears' in title
        assert console.filter_input.value == "pihole"
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen(app).view_query.search is None, "no filter")
        await wait_settled(pilot, app)
        assert "restored" not in str(console.table.border_title)


@run_async
async def test_a_restored_filter_typed_again_is_the_operators_own(
    demo: ApprovalService,
) -> None:
    restored = PENDING_QUERY.with_(search="pihole")
    async with running(demo, view=restored) as (app, pilot):
        console = screen(app)
        await pilot.press("slash", "backspace", *"nginx", "enter")
        await wait_until(pilot, lambda: console.view_query.search == "nginx")
        await wait_settled(pilot, app)
        assert 'filter "nginx"' in str(console.table.border_title)
        assert "restored" not in str(console.table.border_title)


def test_a_corrupt_state_file_is_ignored_with_one_log_line(tmp_path: Path) -> None:
    state = state_for(NAMED, tmp_path)
    state.path.parent.mkdir(parents=True)
    for content in (b"{not json", b'{"version": 1}', b"\xff\xfe", b"[]"):
        state.path.write_bytes(content)
        assert state.load() is None
    bad_sort = {"version": 1, "database": NAMED, "view": "all", "sort": "random"}
    state.path.write_text(json.dumps(bad_sort))
    assert state.load() is None
    lines = state.log_path.read_text().splitlines()
    assert len(lines) == 5  # one per start that ignored it
    assert all(f"view state {state.path} ignored: " in line for line in lines)


def test_a_state_written_for_another_database_is_not_used(tmp_path: Path) -> None:
    mine = state_for(NAMED, tmp_path)
    other = ViewState.for_database(str(tmp_path / "other.db"), folder=tmp_path / "state")
    assert other.path != mine.path
    other.save(PENDING_QUERY.with_(statuses=()))
    mine.path.parent.mkdir(parents=True, exist_ok=True)
    mine.path.write_bytes(other.path.read_bytes())  # copied over by hand, say
    assert mine.load() is None


@run_async
async def test_the_console_starts_with_defaults_after_a_corrupt_state(
    demo: ApprovalService, tmp_path: Path
) -> None:
    state = state_for(demo.db.label, tmp_path)
    state.path.parent.mkdir(parents=True)
    state.path.write_text('{"version": 1, "view": ')
    async with running(demo, view=state.load(), view_state=state) as (app, pilot):
        assert screen(app).view_query == PENDING_QUERY.with_(limit=screen(app).view_query.limit)
        assert rows(app) == [v.id for v in demo.list_actions(PENDING).rows]
        await pilot.press("p")
        await wait_until(pilot, lambda: not screen(app).view_query.statuses)
    app.remember_view()  # the unusable file is replaced by the view left last
    restored = state.load()
    assert restored is not None
    assert restored.statuses == ()


def test_an_unwritable_state_dir_is_logged_not_raised(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "views").write_text("a file where the folder should be")
    state = ViewState.for_database(NAMED, folder=folder)
    state.save(PENDING_QUERY)
    assert "cannot save it" in state.log_path.read_text()


# -- through the real CLI, on a terminal ----------------------------------------------------


@pytest.mark.slow
def test_the_cli_restores_the_view_and_fresh_starts_with_defaults(
    seeded: ApprovalService, db_target: DbTarget, tmp_path: Path
) -> None:
    from test_cli_process import PtyProcess

    seeded.create_action("pi-4", "restart_service", "nginx", actor="homelabcmd")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOMELAB_APPROVALS_DB", "HOMELAB_APPROVALS_CONFIG")
    }
    env |= {f"XDG_{kind}_HOME": str(tmp_path / kind) for kind in ("CONFIG", "DATA", "STATE")}
    # What the CLI names the database by: the file's full path, or the URL as shown
    # (its password hidden), which is the service's label.
    named = str(db_target.path.resolve()) if db_target.path is not None else seeded.db.label
    state = ViewState.for_database(named, folder=tmp_path / "STATE" / "homelab-approvals")
    state.save(ActionQuery(sort=SortOrder.SERVER))  # 'all, by server', as if left so

    for argv, title in (([], b"All \xc2\xb7 by server"), (["--fresh"], b"Pending \xc2\xb7 oldest")):
        console = PtyProcess([*db_target.cli_args, "--operator", "alice", *argv], env)
        try:
            console.wait_for(title)
            console.send(b"q")
            assert console.wait_exit() == 0
        finally:
            console.close()
    # Leaving the fresh start remembered its view: the default one.
    assert json.loads(state.path.read_text())["view"] == "pending"
