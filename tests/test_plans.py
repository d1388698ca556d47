"""Previews in the domain: the probe whitelist, reading real probe transcripts into plans,
their digest, summary, and what a newer plan adds. The transcripts in tests/transcripts/
were printed by apt-get and unattended-upgrade on Debian 12 (see their README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homelab_approvals.domain.commands import command_for
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.plan_parsing import (
    ProbeOutputError,
    parse_apt_simulation,
    parse_journal_usage,
    parse_probe,
    parse_unattended_dry_run,
    parse_unit_state,
)
from homelab_approvals.domain.plans import (
    AptPlan,
    PackageChange,
    UnitState,
    UpgradeList,
    plan_additions,
    plan_digest,
    plan_from_json,
    plan_lines,
    plan_summary,
    plan_to_json,
    plan_warnings,
)
from homelab_approvals.domain.probes import ProbeKind, probe_for

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def transcript(name: str) -> str:
    return (TRANSCRIPTS / name).read_text()


# -- the whitelist -------------------------------------------------------------------------


def test_each_type_has_its_fixed_probe() -> None:
    apt = probe_for(ActionType.APT_UPGRADE_ALL, None)
    assert apt is not None
    assert apt.command == (
        'apt-get -s dist-upgrade -o Dpkg::Options::="--force-confdef" '
        '-o Dpkg::Options::="--force-confold" -o APT::Sandbox::User=root'
    )
    assert (apt.kind, apt.privileged, apt.slow, apt.binding) == (
        ProbeKind.APT_SIMULATION,
        False,
        False,
        True,
    )
    # The real command's -o options, every one of them.
    real = command_for(ActionType.APT_UPGRADE_ALL, None)
    assert [w for w in real.split() if w.startswith("Dpkg") or w.startswith("APT::")] == [
        w for w in apt.command.split() if w.startswith("Dpkg") or w.startswith("APT::")
    ]
    security = probe_for(ActionType.APT_UPGRADE_SECURITY, None)
    assert security is not None
    assert security.command == "unattended-upgrade --dry-run -v"
    assert (security.privileged, security.slow, security.binding) == (True, True, True)
    unit = probe_for(ActionType.RESTART_SERVICE, "nginx.service")
    assert unit is not None
    assert unit.command == (
        "systemctl show nginx.service "
        "-p LoadState,ActiveState,SubState,Result,NRestarts,ActiveEnterTimestamp"
    )
    assert not unit.binding
    logs = probe_for(ActionType.CLEAR_LOGS, None)
    assert logs is not None
    assert (logs.command, logs.binding) == ("journalctl --disk-usage", False)
    assert probe_for(ActionType.APT_UPDATE, None) is None
    assert probe_for("reboot", None) is None
    assert probe_for(ActionType.RESTART_SERVICE, None) is None


# -- apt-get -s ----------------------------------------------------------------------------


def test_a_real_dist_upgrade_as_root() -> None:
    plan = parse_apt_simulation(transcript("apt-get-s-dist-upgrade-root.txt"))
    assert len(plan.upgrades) == 105
    assert (plan.installs, plan.removals, plan.kept_back) == ((), (), 0)
    bash = next(c for c in plan.upgrades if c.name == "bash")
    assert bash == PackageChange("bash", "5.2.15-2+b8", "5.2.15-2+b13")
    # an epoch, and an Inst line ending in extra bracketed notes
    login = next(c for c in plan.upgrades if c.name == "login")
    assert (login.old, login.new) == ("1:4.13+dfsg1-1+deb12u1", "1:4.13+dfsg1-1+deb12u2")
    perl = next(c for c in plan.upgrades if c.name == "libperl5.36")
    assert perl.new == "5.36.0-7+deb12u3"
    assert plan_summary(plan) == "upgrade 105"
    assert plan_warnings(plan) == []


def test_as_another_user_the_note_changes_nothing() -> None:
    as_root = parse_apt_simulation(transcript("apt-get-s-dist-upgrade-root.txt"))
    as_user = parse_apt_simulation(transcript("apt-get-s-dist-upgrade-user.txt"))
    assert as_user == as_root
    assert plan_digest(as_user) == plan_digest(as_root)


def test_new_kernel_and_removal() -> None:
    plan = parse_apt_simulation(transcript("apt-get-s-dist-upgrade-kernel-removal.txt"))
    assert len(plan.upgrades) == 8
    assert len(plan.installs) == 13
    assert plan.removals == (PackageChange("zip", "3.0-13", None),)
    assert plan.kept_back == 97
    assert plan.new_kernels == ("linux-image-6.1.0-50-amd64",)
    # Inst without the old version is a new install
    assert PackageChange("cpio", None, "2.13+dfsg-7.1") in plan.installs
    assert PackageChange("busybox", None, "1:1.35.0-4+deb12u1+b1") in plan.installs
    assert plan_summary(plan) == "upgrade 8, install 13 (new kernel), remove 1, 97 kept back"
    assert plan_warnings(plan) == ["removes 1", "new kernel"]
    lines = plan_lines(plan)
    assert lines[0] == "remove zip 3.0-13"
    assert "install linux-image-6.1.0-50-amd64 6.1.176-1 (new kernel)" in lines
    assert "upgrade systemd 252.38-1~deb12u1 -> 252.39-1~deb12u2" in lines
    # Conf lines add nothing: 8 + 13 + 1 operations
    assert len(lines) == 22


def test_a_single_removal() -> None:
    plan = parse_apt_simulation(transcript("apt-get-s-remove-zip.txt"))
    assert plan == AptPlan(removals=(PackageChange("zip", "3.0-13"),), kept_back=105)
    assert plan_summary(plan) == "remove 1, 105 kept back"


def test_several_origins_and_a_purge() -> None:
    output = (
        "Inst libexpat1 [2.5.0-1] (2.5.0-1+deb12u1 Debian:12.15/oldstable, "
        "Debian-Security:12/oldstable-security [amd64])\n"
        "Purg old-thing [1.0]\n"
        "Inst libpam-modules [1.5.2-6+deb12u1] (1.5.2-6+deb12u2 Debian:12.15/oldstable [amd64]) "
        "[libpam-modules:amd64 on libpam-modules-bin:amd64] [libpam-modules:amd64 ]\n"
    )
    plan = parse_apt_simulation(output)
    assert [c.new for c in plan.upgrades] == ["2.5.0-1+deb12u1", "1.5.2-6+deb12u2"]
    assert plan.removals == (PackageChange("old-thing", "1.0"),)


def test_nothing_to_do_is_an_empty_plan_and_garbage_is_refused() -> None:
    empty = parse_apt_simulation(
        "Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
    )
    assert empty == AptPlan()
    assert plan_summary(empty) == "nothing to upgrade"
    with pytest.raises(ProbeOutputError):
        parse_apt_simulation("E: Could not open lock file\n")
    with pytest.raises(ProbeOutputError):
        parse_apt_simulation("Inst broken line without parenthesis\n")


def test_the_whole_output_is_read_however_long() -> None:
    # 140 upgrades print about 27,000 characters; only storage caps.
    lines = [
        f"Inst pkg{i:03d} [1.{i}] (1.{i}+deb12u1 Debian:12.15/oldstable [amd64])"
        for i in range(500)
    ]
    output = "\n".join(lines)
    assert len(output) > 27_000
    assert len(parse_apt_simulation(output).upgrades) == 500


# -- unattended-upgrade, systemctl, journalctl ---------------------------------------------


def test_unattended_upgrade_dry_run() -> None:
    plan = parse_unattended_dry_run(transcript("unattended-upgrade-dry-run.txt"))
    assert len(plan.packages) > 0
    assert "openssl" in plan.packages
    assert list(plan.packages) == sorted(plan.packages)
    assert plan_summary(plan) == f"upgrade {len(plan.packages)}"
    nothing = parse_unattended_dry_run(transcript("unattended-upgrade-dry-run-nothing.txt"))
    assert nothing == UpgradeList(())
    with pytest.raises(ProbeOutputError):
        parse_unattended_dry_run("You need to be root to run this application\n")


def test_systemctl_show() -> None:
    failed = parse_unit_state(
        "LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\n"
        "NRestarts=3\nActiveEnterTimestamp=Fri 2026-12-04 09:12:01 UTC\n"
    )
    assert failed == UnitState("loaded", "failed", "failed", "exit-code", 3, "2026-12-04 09:12 UTC")
    assert (
        plan_summary(failed) == "failed (exit-code) since 2026-12-04 09:12 UTC, restarted 3 times"
    )
    healthy = parse_unit_state(
        "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\n"
        "NRestarts=0\nActiveEnterTimestamp=Thu 2026-12-03 22:01:45 CET\n"
    )
    assert plan_summary(healthy) == "healthy: active (running) since 2026-12-03 22:01 CET"
    unknown = parse_unit_state(
        "LoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\n"
        "NRestarts=0\nActiveEnterTimestamp=\n"
    )
    assert plan_summary(unknown) == "unit not found on the server"
    with pytest.raises(ProbeOutputError):
        parse_unit_state("Failed to connect to bus: Host is down\n")


def test_journalctl_disk_usage() -> None:
    usage = parse_journal_usage("Archived and active journals take up 3.9G in the file system.\n")
    assert plan_summary(usage) == "journals take up 3.9G"
    with pytest.raises(ProbeOutputError):
        parse_journal_usage("No journal files were found.\n")


def test_parse_probe_dispatches_by_kind() -> None:
    output = transcript("apt-get-s-remove-zip.txt")
    assert parse_probe(ProbeKind.APT_SIMULATION, output) == parse_apt_simulation(output)


# -- what changed --------------------------------------------------------------------------


def _apt(*changes: tuple[str, str | None, str | None]) -> AptPlan:
    ups = tuple(PackageChange(*c) for c in changes if c[1] and c[2])
    ins = tuple(PackageChange(*c) for c in changes if not c[1])
    rms = tuple(PackageChange(*c) for c in changes if not c[2])
    return AptPlan(ups, ins, rms)


def test_additions_name_what_the_new_plan_holds_that_the_approved_did_not() -> None:
    approved = _apt(("bash", "1", "2"), ("curl", "7", "8"), ("zip", "3", None))
    grown = _apt(
        ("bash", "1", "3"),
        ("curl", "7", "8"),
        ("linux-image-6.1.0-58-amd64", None, "6.1.180-1"),
        ("zip", "3", None),
        ("unzip", "6", None),
    )
    assert plan_additions(approved, grown) == [
        "added: install linux-image-6.1.0-58-amd64 6.1.180-1",
        "other version: bash 3 (approved 2)",
        "new removal: unzip",
    ]
    shrunk = _apt(("curl", "7", "8"))
    assert plan_additions(approved, shrunk) == []
    assert plan_additions(approved, approved) == []


def test_informing_previews_never_add() -> None:
    before = UnitState("loaded", "active", "running", "success", 0, "x")
    after = UnitState("loaded", "failed", "failed", "exit-code", 5, "y")
    assert plan_additions(before, after) == []


# -- properties ----------------------------------------------------------------------------

_NAMES = st.from_regex(r"[a-z0-9][a-z0-9+.-]{0,20}", fullmatch=True)
_VERSIONS = st.from_regex(r"([0-9]:)?[0-9][A-Za-z0-9.+~-]{0,15}", fullmatch=True)


@st.composite
def apt_plans(draw: st.DrawFn) -> AptPlan:
    names = draw(st.lists(_NAMES, unique=True, max_size=12))
    changes = []
    for name in names:
        kind = draw(st.sampled_from(["upgrade", "install", "remove"]))
        old = None if kind == "install" else draw(_VERSIONS)
        new = None if kind == "remove" else draw(_VERSIONS)
        changes.append(PackageChange(name, old, new))

    def ordered(items: list[PackageChange]) -> tuple[PackageChange, ...]:
        return tuple(sorted(items, key=lambda c: c.name))

    return AptPlan(
        ordered([c for c in changes if c.old and c.new]),
        ordered([c for c in changes if c.old is None]),
        ordered([c for c in changes if c.new is None]),
        draw(st.integers(0, 50)),
    )


def as_apt_output(plan: AptPlan, order: list[int]) -> str:
    """What apt-get -s prints for `plan`, operations in the given order."""
    ops = [f"Remv {c.name} [{c.old}]" for c in plan.removals]
    ops += [f"Inst {c.name} ({c.new} Debian:12.15/oldstable [amd64])" for c in plan.installs]
    ops += [
        f"Inst {c.name} [{c.old}] ({c.new} Debian:12.15/oldstable [all]) []" for c in plan.upgrades
    ]
    ops = [ops[i] for i in order[: len(ops)]] if len(order) >= len(ops) else ops
    confs = [f"Conf {c.name} ({c.new} Debian:12.15/oldstable [amd64])" for c in plan.installs]
    n_up, n_in, n_rm = len(plan.upgrades), len(plan.installs), len(plan.removals)
    summary = (
        f"{n_up} upgraded, {n_in} newly installed, {n_rm} to remove "
        f"and {plan.kept_back} not upgraded."
    )
    return "\n".join(["Reading package lists...", summary, *ops, *confs])


@settings(max_examples=150, deadline=None)
@given(apt_plans(), st.randoms())
def test_any_plan_printed_by_apt_reads_back_the_same(plan: AptPlan, rnd: object) -> None:
    count = len(plan.upgrades) + len(plan.installs) + len(plan.removals)
    order = list(range(count))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    parsed = parse_apt_simulation(as_apt_output(plan, order))
    assert parsed == plan
    # the digest depends on the plan, not on apt's order of operations
    assert plan_digest(parsed) == plan_digest(plan)
    # JSON round trip, digest unchanged
    again = plan_from_json(json.loads(json.dumps(plan_to_json(plan))))
    assert again == plan
    assert plan_digest(again) == plan_digest(plan)


@settings(max_examples=150, deadline=None)
@given(apt_plans(), apt_plans())
def test_additions_are_empty_exactly_when_nothing_was_added(a: AptPlan, b: AptPlan) -> None:
    additions = plan_additions(a, b)
    targets = {c.name: c.new for c in (*a.upgrades, *a.installs)}
    removals = {c.name for c in a.removals}
    grew = any(targets.get(c.name, object()) != c.new for c in (*b.upgrades, *b.installs)) or any(
        c.name not in removals for c in b.removals
    )
    assert bool(additions) == grew
    assert plan_additions(a, a) == []
    # a plan never adds to itself shrunk
    shrunk = AptPlan(a.upgrades[::2], a.installs[1::2], a.removals[::3])
    assert plan_additions(a, shrunk) == []
    if plan_to_json(a) != plan_to_json(b) and (a.upgrades, a.installs, a.removals) != (
        b.upgrades,
        b.installs,
        b.removals,
    ):
        assert plan_digest(a) != plan_digest(b)
