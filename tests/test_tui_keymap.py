"""`[keys]` in the config: checked before the console starts (unknown id, malformed key,
clash: exit 2 naming it), applied with Textual's keymap, and shown where keys are named
(footer, help, palette, hints). Real app under Pilot on both backends, real config files.
Checking a keymap needs no database: those tests run once."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList
from textual.widgets import Static

from homelab_approvals.cli.main import main
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.errors import ConfigError
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.service.config import load_config
from homelab_approvals.tui.app import ApprovalsApp
from homelab_approvals.tui.help import HelpScreen
from homelab_approvals.tui.keymap import canonical, check_keymap
from homelab_approvals.tui.reject import RejectScreen
from pg_support import PgServer
from tui_support import run_async, running, screen, text_of, wait_until

pytestmark = pytest.mark.backends

PENDING = ActionQuery(statuses=(ActionStatus.PENDING,))
SOURCE = Path("/etc/approvals/config.toml")


def pending_ids(service: ApprovalService) -> list[int]:
    return [view.id for view in service.list_actions(PENDING).rows]


# -- checking [keys] ------------------------------------------------------------------------


def test_a_good_keymap_is_returned_as_textual_takes_it() -> None:
    table = {"approve": "y", "reject": "n", "quit": "x", "approve-marked": "Y, ctrl+y"}
    assert check_keymap(table, SOURCE) == {
        "approve": "y",
        "reject": "n",
        "quit": "x",
        "approve-marked": "Y,ctrl+y",
    }


@pytest.mark.parametrize(
    ("table", "says"),
    [
        pytest.param({"aprove": "y"}, "unknown key 'keys.aprove' (binding ids: ", id="unknown"),
        pytest.param({"approve": "yes"}, "'keys.approve': 'yes' is not a key", id="word"),
        pytest.param({"approve": "ctrl+"}, "'ctrl+' is not a key", id="dangling"),
        pytest.param({"approve": "hyperctrl+y"}, "is not a key", id="modifier"),
        pytest.param({"approve": ""}, "'' is not a key", id="empty"),
        pytest.param({"approve": "shift+a"}, "'shift+a' is not a key", id="shift-letter"),
        pytest.param({"approve": "q"}, "'keys.approve' = 'q' clashes with the key of 'quit'",
                     id="clash-quit"),
        pytest.param({"approve": "j"}, "clashes with the key of 'down'", id="clash-vim"),
        pytest.param({"approve": "question_mark"}, "clashes with the key of 'help'",
                     id="clash-by-name"),
        pytest.param({"approve": "?"}, "clashes with the key of 'help'", id="clash-by-char"),
        pytest.param({"approve": "y", "reject": "y"}, "'keys.approve' = 'y' clashes",
                     id="two-on-one"),
        pytest.param({"approve": "ctrl+p"}, "clashes with the key of 'command-palette'",
                     id="clash-app"),
        pytest.param({"down": "a"}, "'keys.down' = 'a' clashes with the key of 'approve'",
                     id="movement-onto-decision"),
    ],
)  # fmt: skip
def test_a_bad_keymap_is_a_config_error_naming_it(table: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_keymap(table, SOURCE)
    assert str(refused.value).startswith(f"{SOURCE}: ")
    assert says in str(refused.value)


def test_a_key_freed_by_the_keymap_can_be_taken() -> None:
    assert check_keymap({"approve": "q", "quit": "x"}, SOURCE)["approve"] == "q"
    assert check_keymap({"details": "enter"}, SOURCE) == {"details": "enter"}  # as default


def test_keys_compare_as_textual_sees_them() -> None:
    assert canonical("?") == canonical("question_mark")
    assert canonical("/") == canonical("slash")
    assert canonical("ctrl+m") == canonical("enter")
    assert canonical("A") != canonical("a")


def test_the_config_file_holds_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[keys]\napprove = "y"\n')
    assert load_config(path).keys == {"approve": "y"}
    path.write_text("[keys]\napprove = 5\n")
    with pytest.raises(ConfigError, match=r"'keys\.ID' must be a string \(got a whole number\)"):
        load_config(path)
    path.write_text('keys = "y"\n')
    with pytest.raises(ConfigError, match=r"'keys' must be a table \(got a string\)"):
        load_config(path)


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ('approve = "q"', "'keys.approve' = 'q' clashes with the key of 'quit'"),
        ('frobnicate = "f"', "unknown key 'keys.frobnicate'"),
        ('approve = "yes"', "'yes' is not a key"),
    ],
)
def test_the_console_refuses_a_bad_keymap_with_exit_2_before_opening_anything(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    keys: str,
    says: str,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = tmp_path / "config.toml"
    config.write_text(f"[keys]\n{keys}\n")
    db = tmp_path / "approvals.db"
    if backend == "sqlite":
        where = ["--db", str(db)]
    else:  # a database that does not exist: opening it first would fail (exit 1) naming it
        server: PgServer = request.getfixturevalue("pg_server")
        where = ["--database-url", server.url_for("approvals_never_created")]
    code = main([*where, "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"error: CONFIG_ERROR: {config}: ")
    assert says in err
    assert not db.exists()  # refused before the database was opened (or created)


# -- the keymap in force, in the running console ---------------------------------------------


KEYMAP = {"approve": "y", "reject": "n", "approve-marked": "Y", "clear-filter": "x"}


def footer_keys(app: ApprovalsApp) -> list[tuple[str, str]]:
    """What the footer lists, in its order: it is built from the screen's active_bindings."""
    return [
        (app.get_key_display(binding), binding.description)
        for _ns, binding, _on, _tip in screen(app).active_bindings.values()
        if binding.show
    ]


@run_async
async def test_remapped_keys_decide_and_the_old_ones_do_nothing(demo: ApprovalService) -> None:
    first, second = pending_ids(demo)[:2]
    async with running(demo, keymap=KEYMAP) as (app, pilot):
        await pilot.press("a")  # approve's old key: nothing bound to it any more
        await pilot.pause()
        assert demo.get_action(first).status == "pending"
        await pilot.press("y")
        await wait_until(pilot, lambda: demo.get_action(first).status == "approved", "y")
        await wait_until(pilot, lambda: screen(app).table.highlighted_id == second)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen), "n: the modal")


@run_async
async def test_footer_help_palette_and_hints_show_the_keys_in_force(
    demo: ApprovalService,
) -> None:
    async with running(demo, keymap=KEYMAP) as (app, pilot):
        keys = footer_keys(app)
        assert keys[:2] == [("y", "Approve"), ("n", "Reject")]  # in declared order
        assert not any(display == "a" for display, _ in keys)

        await pilot.press("space")
        bar = text_of(screen(app).query_one("#marks-bar", Static))
        assert "Y approves them" in bar
        assert "x unmarks" in bar
        await pilot.press("x")
        await wait_until(pilot, lambda: not screen(app).table.marked_ids, "x unmarks")

        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        lines = [
            " ".join(line.split())
            for widget in app.screen.query(Static)
            for line in text_of(widget).splitlines()
        ]
        assert any(line.startswith("y Approve ") for line in lines)
        assert any(line.startswith("n Reject ") for line in lines)
        assert not any(line.startswith("a Approve ") for line in lines)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))

        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: app.screen.has_class("--textual-command-palette"))
        await pilot.press(*"approve")
        commands = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: commands.option_count >= 1, "matching commands")
        assert "Approve (y)" in str(commands.get_option_at_index(0).prompt)


@run_async
async def test_without_a_keymap_the_footer_is_as_before(demo: ApprovalService) -> None:
    async with running(demo) as (app, _pilot):
        assert footer_keys(app)[:3] == [("a", "Approve"), ("r", "Reject"), ("c", "Cancel")]
