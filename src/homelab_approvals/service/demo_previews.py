"""Previews for the demo: what the probes would print on the demo's made-up servers, in the
very forms the real tools print (so they go through the same parsers), chosen by a seeded
random generator so the demo stays deterministic."""

from __future__ import annotations

import random

from homelab_approvals.domain.probes import ProbeKind, ProbeRun
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.probe_choice import probe_of

_ORIGIN = "Debian:12.15/oldstable"
_UPGRADES = (
    ("base-files", "12.4+deb12u11", "12.4+deb12u15"),
    ("bash", "5.2.15-2+b8", "5.2.15-2+b13"),
    ("curl", "7.88.1-10+deb12u12", "7.88.1-10+deb12u14"),
    ("libssl3", "3.0.17-1~deb12u2", "3.0.20-1~deb12u2"),
    ("openssl", "3.0.17-1~deb12u2", "3.0.20-1~deb12u2"),
    ("libsystemd0", "252.38-1~deb12u1", "252.39-1~deb12u2"),
    ("systemd", "252.38-1~deb12u1", "252.39-1~deb12u2"),
    ("tzdata", "2025b-0+deb12u1", "2025b-0+deb12u2"),
    ("login", "1:4.13+dfsg1-1+deb12u1", "1:4.13+dfsg1-1+deb12u2"),
    ("sed", "4.9-1", "4.9-1+deb12u1"),
    ("libexpat1", "2.5.0-1+deb12u1", "2.5.0-1+deb12u2"),
    ("linux-image-amd64", "6.1.170-1", "6.1.176-1"),
)
_KERNEL = "linux-image-6.1.0-50-amd64"


def demo_probe_run(
    action: ActionView, rng: random.Random, *, risky: bool = False
) -> ProbeRun | None:
    """What the action's probe would have printed, or None (no probe). `risky`: an apt
    plan with a new kernel and a removal (the demo shows one of each kind)."""
    probe = probe_of(action)
    if probe is None:
        return None
    if probe.kind is ProbeKind.APT_SIMULATION:
        if not risky and rng.random() < 0.15:
            return ProbeRun(
                255, "", f"ssh: connect to host {action.server_id} port 22: Connection timed out"
            )
        return ProbeRun(0, _apt_simulation(rng, risky=risky))
    if probe.kind is ProbeKind.UNATTENDED_DRY_RUN:
        names = sorted(rng.sample([name for name, _, _ in _UPGRADES[:6]], rng.randint(1, 4)))
        return ProbeRun(
            0,
            "Allowed origins are: origin=Debian,codename=bookworm-security\n"
            "Option --dry-run given, *not* performing real actions\n"
            f"Packages that will be upgraded: {' '.join(names)}\n"
            "All upgrades installed\n",
        )
    if probe.kind is ProbeKind.UNIT_STATE:
        if rng.random() < 0.6:
            state = "ActiveState=failed\nSubState=failed\nResult=exit-code\n"
            restarts = rng.randint(1, 5)
        else:
            state = "ActiveState=active\nSubState=running\nResult=success\n"
            restarts = 0
        since = f"Fri 2026-11-27 0{rng.randint(1, 8)}:1{rng.randint(0, 9)}:02 UTC"
        return ProbeRun(
            0, f"LoadState=loaded\n{state}NRestarts={restarts}\nActiveEnterTimestamp={since}\n"
        )
    size = f"{rng.randint(1, 9)}.{rng.randint(0, 9)}G"
    return ProbeRun(0, f"Archived and active journals take up {size} in the file system.\n")


def _apt_simulation(rng: random.Random, *, risky: bool) -> str:
    upgrades = rng.sample(_UPGRADES[:-1], rng.randint(3, len(_UPGRADES) - 1))
    kernel = risky or rng.random() < 0.3
    if kernel:
        upgrades.append(_UPGRADES[-1])  # the meta package follows the new image
    removal = risky or rng.random() < 0.3
    lines = ["Reading package lists...", "Building dependency tree...", "Calculating upgrade..."]
    installs = 1 if kernel else 0
    lines.append(
        f"{len(upgrades)} upgraded, {installs} newly installed, {int(removal)} to remove "
        "and 0 not upgraded."
    )
    if removal:
        lines.append("Remv zip [3.0-13]")
    if kernel:
        lines.append(f"Inst {_KERNEL} (6.1.176-1 {_ORIGIN} [amd64])")
    for name, old, new in upgrades:
        lines.append(f"Inst {name} [{old}] ({new} {_ORIGIN} [amd64])")
        lines.append(f"Conf {name} ({new} {_ORIGIN} [amd64])")
    return "\n".join(lines) + "\n"
