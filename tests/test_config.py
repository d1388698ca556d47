"""The TOML config file: defaults when missing, and one clear error naming the key and
the file for every mistake."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from homelab_approvals.domain.errors import ConfigError
from homelab_approvals.service import Policy
from homelab_approvals.service.config import (
    CONFIG_ENV,
    MAX_CONFIG_BYTES,
    load_config,
    load_policy,
    resolve_config_path,
)


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_policy(tmp_path / "nope" / "config.toml") == Policy()


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, "")) == Policy()


def test_full_config(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '# who may decide\napprovers = ["alice", "bob"]\nallow_self_approval = false\n',
    )
    assert load_policy(path) == Policy(
        approvers=frozenset({"alice", "bob"}), allow_self_approval=False
    )


def test_approver_names_are_trimmed_like_operator_names(tmp_path: Path) -> None:
    path = write(tmp_path, 'approvers = [" alice ", "bob"]\n')
    assert load_policy(path).approvers == frozenset({"alice", "bob"})


def test_unicode_names_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, 'approvers = ["zoë", "李"]\n')
    assert load_policy(path).approvers == frozenset({"zoë", "李"})


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ('approvers = ["alice"]\nallow_self_approvals = false\n', "allow_self_approvals", "known"),
        ("Approvers = []\n", "Approvers", "known"),
        ("[approvers]\nalice = true\n", "approvers", "list"),
        ('approvers = "alice"\n', "approvers", "list"),
        ("approvers = [1, 2]\n", "approvers", "list"),
        ('approvers = ["alice", ["bob"]]\n', "approvers", "list"),
        ('allow_self_approval = "no"\n', "allow_self_approval", "true or false"),
        ("allow_self_approval = 0\n", "allow_self_approval", "true or false"),
        ('approvers = [""]\n', "approvers", "required"),
        ('approvers = ["   "]\n', "approvers", "required"),
        ('approvers = ["al\\u0000ice"]\n', "approvers", "control"),
        ('approvers = ["al\\u001bice"]\n', "approvers", "control"),
        (f'approvers = ["{"x" * 51}"]\n', "approvers", "at most 50"),
    ],
)
def test_mistakes_name_the_key_and_the_file(tmp_path: Path, text: str, key: str, hint: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    error = caught.value
    assert error.code == "CONFIG_ERROR"
    assert str(path) in error.message
    assert repr(key) in error.message or f"'{key}'" in error.message
    assert hint in error.message
    assert "\n" not in error.message


@pytest.mark.parametrize(
    "text",
    [
        "approvers = [\n",
        "approvers = ['alice'\nallow_self_approval = true\n",
        "allow_self_approval = false\nallow_self_approval = true\n",  # duplicate key
        "just some words\n",
        b'approvers = ["\xff\xfe"]\n',  # not UTF-8
    ],
)
def test_bad_toml_names_the_file(tmp_path: Path, text: str | bytes) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(path) in caught.value.message
    assert "TOML" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_folder_where_the_file_should_be(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.mkdir()
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(path) in caught.value.message


def test_an_unreadable_file_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    # Root reads anything, so make the read fail another way: a path through a file.
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "config.toml"
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(path) in caught.value.message


def test_config_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    default = resolve_config_path(None)
    assert default.name == "config.toml"
    assert default.parent.name == "homelab-approvals"
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "env.toml"))
    assert resolve_config_path(None) == tmp_path / "env.toml"
    assert resolve_config_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"


# -- the typed model: every table, every key ---------------------------------------------------


def test_executor_section(tmp_path: Path) -> None:
    path = write(tmp_path, '[executor]\nssh_config = "/etc/approvals/ssh_config"\nsudo = "never"\n')
    config = load_config(path)
    assert config.executor.ssh_config == "/etc/approvals/ssh_config"
    assert config.executor.sudo == "never"
    assert load_config(write(tmp_path, "")).executor.sudo == "apt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[executor]\nsudo = "sometimes"\n', "'executor.sudo': 'sometimes' is not one of 'apt'"),
        (
            '[executor]\nsudoo = "apt"\n',
            "unknown key 'executor.sudoo' (known keys here: ssh_config",
        ),
        (
            "[executor]\nssh_config = 3\n",
            "'executor.ssh_config' must be a string (got a whole number)",
        ),
        ("executor = 3\n", "'executor' must be a table (got a whole number)"),
        ("[nonsense]\n", "unknown key 'nonsense' (known keys here: allow_self_approval"),
    ],
)
def test_nested_mistakes_name_the_dotted_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert expected in caught.value.message


def test_preview_section(tmp_path: Path) -> None:
    defaults = load_config(write(tmp_path, "")).preview.settings
    assert (defaults.enabled, defaults.bind) == (True, True)
    assert defaults.max_age == timedelta(minutes=15)
    assert (defaults.timeout, defaults.security_timeout) == (30.0, 300.0)
    path = write(
        tmp_path,
        "[preview]\nenabled = false\nbind = false\nmax_age = 60\ntimeout = 10\n"
        "security_timeout = 600\n",
    )
    settings = load_config(path).preview.settings
    assert (settings.enabled, settings.bind) == (False, False)
    assert settings.max_age == timedelta(minutes=1)
    assert (settings.timeout, settings.security_timeout) == (10.0, 600.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[preview]\nbind = "yes"\n', "'preview.bind' must be true or false (got a string)"),
        ("[preview]\nmax_age = 0\n", "'preview.max_age'"),
        ("[preview]\ntimeout = -1\n", "'preview.timeout'"),
        ("[preview]\nmaxage = 5\n", "unknown key 'preview.maxage' (known keys here: bind,"),
    ],
)
def test_preview_mistakes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in caught.value.message


# -- bounded reading: only a regular file, at most 1 MiB ---------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(path)


def test_a_device_is_refused_not_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(Path("/dev/zero"))


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with path.open("wb") as stream:
        stream.truncate(MAX_CONFIG_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_config(path)


@pytest.mark.parametrize(
    "text",
    [
        "approvers = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "x = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n",
    ],
)
def test_deep_nesting_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.code == "CONFIG_ERROR"
    assert str(path) in caught.value.message


# -- expiry, rules, notify, bell ----------------------------------------------------------------


def test_rules_expiry_notify_and_bell(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'approvers = ["alice", "bob", "carol"]\n'
        "bell = true\n"
        '[expiry]\npending = "24h"\napproved = "90s"\n'
        '[rules.apt_upgrade_all]\napprovals = 2\napprovers = ["alice", "bob"]\n'
        '[[notify]]\nurl = "https://ntfy.sh/my-homelab"\nformat = "ntfy"\n'
        '[[notify]]\nurl = "http://hooks.lan/x"\nformat = "json"\non = ["failed"]\n',
    )
    config = load_config(path)
    policy = config.policy
    assert config.bell is True
    assert policy.expiry.pending is not None
    assert policy.expiry.pending.text == "24h"
    assert policy.expiry.approved is not None
    assert policy.expiry.approved.delta.total_seconds() == 90
    rule = policy.rule("apt_upgrade_all")
    assert (rule.approvals, rule.approvers) == (2, frozenset({"alice", "bob"}))
    assert policy.rule("clear_logs").approvals == 1
    assert [(n.format, n.on) for n in config.notify] == [
        ("ntfy", ["pending", "failed", "expired"]),
        ("json", ["failed"]),
    ]
    defaults = load_config(write(tmp_path, ""))
    assert (defaults.bell, defaults.notify, defaults.policy.rules) == (False, [], {})
    assert defaults.policy.expiry.pending is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[expiry]\npending = "1 day"\n', "'expiry.pending': '1 day' is not a duration"),
        ('[expiry]\npending = "0h"\n', "'expiry.pending': '0h' is not a duration"),
        ("[expiry]\npending = 24\n", "'expiry.pending': must be a duration such as \"24h\""),
        ('[expiry]\nstale = "1h"\n', "unknown key 'expiry.stale' (known keys here: approved"),
        ("[rules.reboot]\napprovals = 2\n", "'rules': 'reboot' is not an action type"),
        ("[rules.clear_logs]\napprovals = 0\n", "'rules.TYPE.approvals' must be a whole number"),
        ("[rules.clear_logs]\nquorum = 2\n", "unknown key 'rules.TYPE.quorum'"),
        (
            '[rules.clear_logs]\napprovals = 3\napprovers = ["a", "b"]\n',
            "needs 3 approvals but names only 2 approvers",
        ),
        (
            '[[notify]]\nurl = "file:///etc/passwd"\nformat = "json"\n',
            "url must be an http:// or https:// address",
        ),
        ('[[notify]]\nurl = "https://x"\nformat = "teams"\n', "'notify.format': 'teams'"),
        (
            '[[notify]]\nurl = "https://x"\nformat = "json"\non = ["done"]\n',
            "'notify.on': 'done' is not one of 'pending', 'failed', 'expired'",
        ),
        ('bell = "yes"\n', "'bell' must be true or false"),
    ],
)
def test_rule_mistakes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert expected in caught.value.message
