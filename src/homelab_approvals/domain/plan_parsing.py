"""Reading what a probe printed into a plan (domain/plans.py).

The whole output is read, however long: only what is stored is capped. Output comes from
a remote machine and is hostile; nothing here interprets it beyond these patterns, and a
plan's names and versions are shown through the inert-text path like any other text."""

import re

from homelab_approvals.domain.plans import (
    AptPlan,
    JournalUsage,
    PackageChange,
    Plan,
    UnitState,
    UpgradeList,
)
from homelab_approvals.domain.probes import ProbeKind


class ProbeOutputError(ValueError):
    """The probe answered, but not in a form this code knows."""


# `Inst NAME [OLD] (NEW ORIGINS [ARCH]) [notes]…`: [OLD] is missing for a new install;
# origins may be several, comma-separated; notes may follow the parenthesis.
_INST = re.compile(r"Inst (?P<name>\S+)(?: \[(?P<old>[^\]]*)\])? \((?P<new>\S+)[^)]*\)")
# `Remv NAME [OLD]`, `Purg NAME [OLD]`.
_REMOVE = re.compile(r"(?:Remv|Purg) (?P<name>\S+)(?: \[(?P<old>[^\]]*)\])?")
# "140 upgraded, 0 newly installed, 0 to remove and 3 not upgraded."
_APT_SUMMARY = re.compile(
    r"(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded\."
)
_UU_PACKAGES = "Packages that will be upgraded:"
_UU_NOTHING = "No packages found that can be upgraded unattended"
_JOURNAL = re.compile(r"take up (?P<size>\S+) in the file system")
_UNIT_KEYS = {
    "LoadState": "load_state",
    "ActiveState": "active_state",
    "SubState": "sub_state",
    "Result": "result",
    "NRestarts": "restarts",
    "ActiveEnterTimestamp": "since",
}
# "Fri 2026-12-04 09:12:01 UTC" -> "2026-12-04 09:12 UTC"
_SYSTEMD_TIME = re.compile(r"\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d):\d\d( \S+)?")


def parse_probe(kind: ProbeKind, output: str) -> Plan:
    """The plan in `output` (the probe's stdout). Raises ProbeOutputError."""
    if kind is ProbeKind.APT_SIMULATION:
        return parse_apt_simulation(output)
    if kind is ProbeKind.UNATTENDED_DRY_RUN:
        return parse_unattended_dry_run(output)
    if kind is ProbeKind.UNIT_STATE:
        return parse_unit_state(output)
    return parse_journal_usage(output)


def parse_apt_simulation(output: str) -> AptPlan:
    """From the one-line-per-operation part only: the human sections wrap and repeat it."""
    upgrades: dict[str, PackageChange] = {}
    installs: dict[str, PackageChange] = {}
    removals: dict[str, PackageChange] = {}
    kept_back: int | None = None
    for line in output.splitlines():
        if line.startswith("Inst "):
            match = _INST.match(line)
            if match is None:
                raise ProbeOutputError(f"apt-get printed an Inst line this cannot read: {line}")
            name, old = match["name"], match["old"]
            change = PackageChange(name, old, match["new"])
            (upgrades if old is not None else installs)[name] = change
        elif line.startswith(("Remv ", "Purg ")):
            match = _REMOVE.match(line)
            if match is None:
                raise ProbeOutputError(f"apt-get printed a removal this cannot read: {line}")
            removals[match["name"]] = PackageChange(match["name"], match["old"], None)
        elif kept_back is None and (summary := _APT_SUMMARY.match(line)):
            kept_back = int(summary[4])
    if kept_back is None and not (upgrades or installs or removals):
        raise ProbeOutputError("apt-get printed neither operations nor its summary line")

    def ordered(changes: dict[str, PackageChange]) -> tuple[PackageChange, ...]:
        return tuple(changes[name] for name in sorted(changes))

    return AptPlan(ordered(upgrades), ordered(installs), ordered(removals), kept_back or 0)


def parse_unattended_dry_run(output: str) -> UpgradeList:
    for line in output.splitlines():
        if line.startswith(_UU_PACKAGES):
            names = line[len(_UU_PACKAGES) :].split()
            return UpgradeList(tuple(sorted(set(names))))
        if line.startswith(_UU_NOTHING):
            return UpgradeList(())
    raise ProbeOutputError(
        "unattended-upgrade printed neither 'Packages that will be upgraded:' "
        "nor 'No packages found'"
    )


def parse_unit_state(output: str) -> UnitState:
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in _UNIT_KEYS:
            values[_UNIT_KEYS[key]] = value.strip()
    if "active_state" not in values:
        raise ProbeOutputError("systemctl show printed no ActiveState")
    restarts_text = values.pop("restarts", "")
    restarts = int(restarts_text) if restarts_text.isdigit() else None
    since = values.pop("since", "")
    if match := _SYSTEMD_TIME.fullmatch(since):
        since = match[1] + (match[2] or "")
    return UnitState(
        values.get("load_state", ""),
        values["active_state"],
        values.get("sub_state", ""),
        values.get("result", ""),
        restarts,
        since,
    )


def parse_journal_usage(output: str) -> JournalUsage:
    match = _JOURNAL.search(output)
    if match is None:
        raise ProbeOutputError("journalctl printed no 'take up SIZE in the file system'")
    return JournalUsage(match["size"])
