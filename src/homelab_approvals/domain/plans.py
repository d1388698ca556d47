"""What a preview found: the plan an action would carry out, its digest, its one-line
summary, and what a newer plan holds that an approved one did not."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from homelab_approvals.domain.probes import ProbeKind

# A new kernel is a NEW versioned image (linux-image-6.1.0-57-amd64); the meta package
# (linux-image-amd64) is only upgraded. A reboot will follow either way.
_KERNEL_IMAGE = re.compile(r"linux-image-\d")


def is_kernel_image(name: str) -> bool:
    return _KERNEL_IMAGE.match(name) is not None


@dataclass(frozen=True, slots=True)
class PackageChange:
    name: str
    #: The installed version; None for a new install.
    old: str | None = None
    #: The target version; None for a removal.
    new: str | None = None


@dataclass(frozen=True, slots=True)
class AptPlan:
    """`apt-get -s dist-upgrade`, read from its Inst and Remv lines, each sorted by name."""

    upgrades: tuple[PackageChange, ...] = ()
    installs: tuple[PackageChange, ...] = ()
    removals: tuple[PackageChange, ...] = ()
    #: "… and 3 not upgraded": shown, but not part of what is approved.
    kept_back: int = 0

    @property
    def new_kernels(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.installs if is_kernel_image(c.name))


@dataclass(frozen=True, slots=True)
class UpgradeList:
    """`unattended-upgrade --dry-run -v`: the names it would upgrade, sorted."""

    packages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UnitState:
    """`systemctl show UNIT -p …`: the properties, as systemd spells them."""

    load_state: str = ""
    active_state: str = ""
    sub_state: str = ""
    result: str = ""
    restarts: int | None = None
    since: str = ""


@dataclass(frozen=True, slots=True)
class JournalUsage:
    """`journalctl --disk-usage`: the size as journalctl prints it (3.9G)."""

    size: str


Plan = AptPlan | UpgradeList | UnitState | JournalUsage

_KIND_OF: dict[type, ProbeKind] = {
    AptPlan: ProbeKind.APT_SIMULATION,
    UpgradeList: ProbeKind.UNATTENDED_DRY_RUN,
    UnitState: ProbeKind.UNIT_STATE,
    JournalUsage: ProbeKind.JOURNAL_USAGE,
}


class PlanFormatError(ValueError):
    """Stored plan JSON this code cannot read."""


# -- JSON and digest --------------------------------------------------------------------


def _change(change: PackageChange) -> dict[str, str | None]:
    return {"name": change.name, "old": change.old, "new": change.new}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON values; `kind` says which probe it came from."""
    kind = _KIND_OF[type(plan)].value
    if isinstance(plan, AptPlan):
        return {
            "kind": kind,
            "upgrades": [_change(c) for c in plan.upgrades],
            "installs": [_change(c) for c in plan.installs],
            "removals": [_change(c) for c in plan.removals],
            "kept_back": plan.kept_back,
            "new_kernels": list(plan.new_kernels),
        }
    if isinstance(plan, UpgradeList):
        return {"kind": kind, "packages": list(plan.packages)}
    if isinstance(plan, UnitState):
        return {
            "kind": kind,
            "load_state": plan.load_state,
            "active_state": plan.active_state,
            "sub_state": plan.sub_state,
            "result": plan.result,
            "restarts": plan.restarts,
            "since": plan.since,
        }
    return {"kind": kind, "size": plan.size}


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise PlanFormatError(f"plan field {key!r} is not text")
    return value


def _changes(data: dict[str, Any], key: str) -> tuple[PackageChange, ...]:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise PlanFormatError(f"plan field {key!r} is not a list")
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise PlanFormatError(f"plan field {key!r} holds something that is not a package")
        old, new = item.get("old"), item.get("new")
        if not (old is None or isinstance(old, str)) or not (new is None or isinstance(new, str)):
            raise PlanFormatError(f"plan field {key!r} holds a version that is not text")
        out.append(PackageChange(item["name"], old, new))
    return tuple(out)


def plan_from_json(data: Any) -> Plan:
    if not isinstance(data, dict):
        raise PlanFormatError("a plan is a JSON object")
    kind = data.get("kind")
    if kind == ProbeKind.APT_SIMULATION:
        kept = data.get("kept_back", 0)
        return AptPlan(
            _changes(data, "upgrades"),
            _changes(data, "installs"),
            _changes(data, "removals"),
            kept if isinstance(kept, int) else 0,
        )
    if kind == ProbeKind.UNATTENDED_DRY_RUN:
        packages = data.get("packages", [])
        if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
            raise PlanFormatError("plan field 'packages' is not a list of names")
        return UpgradeList(tuple(packages))
    if kind == ProbeKind.UNIT_STATE:
        restarts = data.get("restarts")
        return UnitState(
            _str(data, "load_state"),
            _str(data, "active_state"),
            _str(data, "sub_state"),
            _str(data, "result"),
            restarts if isinstance(restarts, int) else None,
            _str(data, "since"),
        )
    if kind == ProbeKind.JOURNAL_USAGE:
        return JournalUsage(_str(data, "size"))
    raise PlanFormatError(f"unknown plan kind {kind!r}")


def plan_digest(plan: Plan) -> str:
    """SHA-256 of the plan's canonical JSON: equal plans, equal digests, on any machine.
    What is shown but not approved (apt's kept-back count) is left out."""
    data = plan_to_json(plan)
    data.pop("kept_back", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    import hashlib  # here: the CLI's fast reads show plans without ever hashing one

    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# -- words --------------------------------------------------------------------------------


def _counted(word: str, n: int) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def plan_summary(plan: Plan) -> str:
    """One line: "upgrade 23, install 2 (new kernel), remove 1"."""
    if isinstance(plan, AptPlan):
        parts = []
        if plan.upgrades:
            parts.append(f"upgrade {len(plan.upgrades)}")
        if plan.installs:
            kernel = " (new kernel)" if plan.new_kernels else ""
            parts.append(f"install {len(plan.installs)}{kernel}")
        if plan.removals:
            parts.append(f"remove {len(plan.removals)}")
        if not parts:
            parts.append("nothing to upgrade")
        if plan.kept_back:
            parts.append(f"{plan.kept_back} kept back")
        return ", ".join(parts)
    if isinstance(plan, UpgradeList):
        if not plan.packages:
            return "nothing to upgrade"
        kernel = " (kernel)" if any(is_kernel_image(p) for p in plan.packages) else ""
        return f"upgrade {len(plan.packages)}{kernel}"
    if isinstance(plan, UnitState):
        return _unit_summary(plan)
    return f"journals take up {plan.size}"


def _unit_summary(state: UnitState) -> str:
    if state.load_state == "not-found":
        return "unit not found on the server"
    text = state.active_state or "unknown state"
    if state.sub_state and state.sub_state != state.active_state:
        text += f" ({state.sub_state})"
    if state.result and state.result != "success":
        text += f" ({state.result})"
    if state.since:
        text += f" since {state.since}"
    if state.restarts:
        text += f", restarted {_counted('time', state.restarts)}"
    if state.active_state == "active" and state.sub_state == "running" and not state.restarts:
        text = f"healthy: {text}"
    return text


def plan_lines(plan: Plan) -> list[str]:
    """The plan, one line per package or property: removals and new installs first,
    since they are what an operator most needs to see."""
    if isinstance(plan, AptPlan):
        lines = [f"remove {c.name} {c.old or ''}".rstrip() for c in plan.removals]
        for c in plan.installs:
            kernel = " (new kernel)" if is_kernel_image(c.name) else ""
            lines.append(f"install {c.name} {c.new}{kernel}")
        lines += [f"upgrade {c.name} {c.old} -> {c.new}" for c in plan.upgrades]
        return lines
    if isinstance(plan, UpgradeList):
        return [f"upgrade {name}" for name in plan.packages]
    if isinstance(plan, UnitState):
        pairs = [
            ("LoadState", plan.load_state),
            ("ActiveState", plan.active_state),
            ("SubState", plan.sub_state),
            ("Result", plan.result),
            ("NRestarts", "" if plan.restarts is None else str(plan.restarts)),
            ("ActiveEnterTimestamp", plan.since),
        ]
        return [f"{key}={value}" for key, value in pairs if value]
    return []  # the summary says it all: "journals take up 3.9G"


def plan_warnings(plan: Plan) -> list[str]:
    """What marks the row in the table: removals and a new kernel (a reboot follows)."""
    if not isinstance(plan, AptPlan):
        return []
    warnings = []
    if plan.removals:
        warnings.append(f"removes {len(plan.removals)}")
    if plan.new_kernels:
        warnings.append("new kernel")
    return warnings


# -- what changed since the approval ------------------------------------------------------


def plan_additions(approved: Plan, current: Plan) -> list[str]:
    """What `current` holds that `approved` did not: an added package, another target
    version, a new removal. A plan that only shrank gives []. Previews that only inform
    (a unit's state, the journal's size) never give anything."""
    if isinstance(approved, UnitState | JournalUsage) or isinstance(
        current, UnitState | JournalUsage
    ):
        return []
    if type(approved) is not type(current):
        return [f"the probe now reads: {plan_summary(current)}"]
    if isinstance(approved, UpgradeList) and isinstance(current, UpgradeList):
        known = set(approved.packages)
        return [f"added: upgrade {name}" for name in current.packages if name not in known]
    if not (isinstance(approved, AptPlan) and isinstance(current, AptPlan)):
        return []
    targets = {c.name: c.new for c in (*approved.upgrades, *approved.installs)}
    removals = {c.name for c in approved.removals}
    out = []
    for verb, changes in (("install", current.installs), ("upgrade", current.upgrades)):
        for c in changes:
            if c.name not in targets:
                out.append(f"added: {verb} {c.name} {c.new}")
            elif targets[c.name] != c.new:
                out.append(f"other version: {c.name} {c.new} (approved {targets[c.name]})")
    out += [f"new removal: {c.name}" for c in current.removals if c.name not in removals]
    return out
