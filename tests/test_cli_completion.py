"""`completion bash|zsh`: the generated scripts parse, and bash completes commands, options
and the values of --status, --type and --sort when driven as readline would (COMP_WORDS)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASH = shutil.which("bash")
ZSH = shutil.which("zsh")


def generate(shell: str, tmp_path: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "homelab_approvals", "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")},
    )
    assert (result.returncode, result.stderr) == (0, "")
    script = tmp_path / f"completion.{shell}"
    script.write_text(result.stdout)
    return script


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate("bash", tmp_path_factory.mktemp("bash"))


def complete(script: Path, line: str) -> list[str]:
    """What bash offers for the last word of `line` (empty when `line` ends in a space)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    array = " ".join(shlex.quote(word) for word in words)
    probe = (
        f"source {shlex.quote(str(script))}\n"
        f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        "_shtab_homelab_approvals\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    assert BASH is not None
    result = subprocess.run(
        [BASH, "--norc", "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return sorted(filter(None, result.stdout.splitlines()))


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_the_bash_script_is_valid_bash(bash_script: Path) -> None:
    assert BASH is not None
    checked = subprocess.run([BASH, "-n", str(bash_script)], capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("homelab-approvals ap", ["approve"]),
        ("homelab-approvals c", ["cancel", "completion", "copy-to", "create"]),
        ("homelab-approvals --d", ["--database-url", "--db"]),
        ("homelab-approvals list --sort ", ["action", "newest", "oldest", "server"]),
        ("homelab-approvals list --status p", ["pending"]),
        ("homelab-approvals list --status pending --status f", ["failed"]),
        ("homelab-approvals --db x.db list --type apt_upgrade_", [
            "apt_upgrade_all", "apt_upgrade_security",
        ]),
        ("homelab-approvals create --server pi --type cl", ["clear_logs"]),
        ("homelab-approvals reject 12 --r", ["--reason"]),
        ("homelab-approvals server ", ["add", "pause", "unpause"]),
        ("homelab-approvals completion ", ["bash", "zsh"]),
    ],
)  # fmt: skip
def test_bash_completes_commands_options_and_values(
    bash_script: Path, line: str, offered: list[str]
) -> None:
    assert complete(bash_script, line) == offered


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_offers_files_for_db(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "approvals.db").touch()
    line = f"homelab-approvals --db {tmp_path}/appr"
    assert complete(bash_script, line) == [f"{tmp_path}/approvals.db"]


#: Drives an interactive zsh on a pseudo-terminal (zsh's own zpty module): compinit with
#: the script on $fpath, then a line typed with a Tab; waits for the listing, never sleeps.
ZPTY_PROBE = """
zmodload zsh/zpty || exit 3
zpty z 'zsh -f -i'
zpty -w z 'PS1="> "; fpath=(%(folder)s $fpath); autoload -U compinit'
zpty -w z 'compinit -u -d %(dump)s; print READY'
zpty -r z out '*READY*'
zpty -wn z $'homelab-approvals %(line)s\t'
zpty -r z out '*%(wait_for)s*'
print -r -- "$out"
zpty -d z
"""


@pytest.mark.skipif(ZSH is None, reason="zsh is not installed")
def test_the_zsh_script_is_valid_zsh_and_completes(tmp_path: Path) -> None:
    script = generate("zsh", tmp_path)
    assert ZSH is not None
    checked = subprocess.run([ZSH, "-n", str(script)], capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert script.read_text().startswith("#compdef homelab-approvals")
    folder = tmp_path / "functions"
    folder.mkdir()
    script.rename(folder / "_homelab-approvals")  # as the README says to install it
    for line, offered in (
        ("list --sort ", ("action", "newest", "oldest", "server")),
        ("list --status ", ("approved", "executing", "pending", "rejected")),
        # (with a common prefix typed already, zsh lists at once: LIST_AMBIGUOUS)
        ("create --server pi --type apt_up", ("apt_update", "apt_upgrade_all")),
    ):
        probe = ZPTY_PROBE % {
            "folder": folder,
            "dump": tmp_path / "zcompdump",
            "line": line,
            "wait_for": offered[-1],
        }
        done = subprocess.run(
            [ZSH, "-f", "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr
        listing = done.stdout.rsplit(line, 1)[-1]  # what came after the typed line
        for value in offered:
            assert value in listing, (line, done.stdout)


def test_only_the_completion_command_imports_shtab(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    probe = (
        "import sys\n"
        "from homelab_approvals.cli.main import main\n"
        f"main(['--db', {str(db)!r}, 'list', '--json'])\n"
        f"main(['--db', {str(db)!r}, 'approve', '1', '2'])\n"
        "print('shtab' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")},
    )
    assert result.stdout.splitlines()[-1] == "False", result.stderr
