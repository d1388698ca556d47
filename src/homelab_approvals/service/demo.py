"""A realistic, deterministic demo database, and a simulator that keeps it moving.

Everything a person can do goes through the service (servers, new actions, approve,
reject, cancel). Only what HomelabCmd's agent does after an approval (executing,
completed, failed with output) is written through the storage layer, with its event rows.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, update

from homelab_approvals.domain.enums import ActionStatus, ActionType
from homelab_approvals.domain.errors import ApprovalsError, InvalidTransition
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.approvals import ApprovalService
from homelab_approvals.service.demo_previews import demo_probe_run
from homelab_approvals.service.probe_choice import probe_of
from homelab_approvals.storage.tables import ActionEvent, RemediationAction

#: Who proposes actions in the demo (HomelabCmd's remediation engine).
PROPOSER = "homelabcmd"
#: Who runs approved actions (HomelabCmd's agent on each host).
AGENT = "agent"
OPERATORS = ("alice", "bob")


@dataclass(frozen=True, slots=True)
class DemoServer:
    id: str
    hostname: str
    display_name: str | None
    paused: bool
    services: tuple[str, ...]


SERVERS = (
    DemoServer("pi-4", "pi4.lan", "pi-4", True, ("nginx", "pihole-FTL", "unbound")),
    DemoServer("nas", "nas.lan", "nas", True, ("smbd", "nfs-server", "zfs-zed")),
    DemoServer("proxmox", "pve.lan", "proxmox", False, ("pveproxy", "pvedaemon", "corosync")),
    DemoServer("pihole", "pihole.lan", None, True, ("pihole-FTL", "lighttpd")),
    DemoServer("media", "media.lan", "media-server", True, ("jellyfin", "docker", "tailscaled")),
    DemoServer("k3s-1", "k3s-1.lan", "k3s-node-1", False, ("k3s", "containerd")),
    DemoServer("homeassistant", "ha.lan", "home-assistant", True, ("mosquitto", "zigbee2mqtt")),
)

REJECTION_REASONS = (
    "Recovered on its own",
    "Backup running until 02:00; restart after it finishes",
    "Kernel update needs a reboot window; scheduled for Sunday",
    "Known flapping alert, tracked in homelab#42",
    "Logs needed for debugging the disk errors",
)

_FAILED_STDERR = (
    "Job for {unit}.service failed because the control process exited with error code.\n"
    'See "systemctl status {unit}.service" and "journalctl -xeu {unit}.service" for details.'
)


class _DemoClock:
    """A clock the demo moves by hand, so every timestamp is reproducible."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    @contextmanager
    def at(self, moment: datetime) -> Iterator[None]:
        saved, self.now = self.now, moment
        try:
            yield
        finally:
            self.now = saved


#: How often the demo proposes each kind of action: restarts dominate real remediation
#: queues.
ACTION_WEIGHTS = {
    ActionType.RESTART_SERVICE: 6,
    ActionType.CLEAR_LOGS: 2,
    ActionType.APT_UPDATE: 1,
    ActionType.APT_UPGRADE_ALL: 1,
    ActionType.APT_UPGRADE_SECURITY: 1,
}


def _kind_and_unit(rng: random.Random, services: tuple[str, ...]) -> tuple[ActionType, str | None]:
    kind = rng.choices(list(ACTION_WEIGHTS), weights=list(ACTION_WEIGHTS.values()))[0]
    unit = rng.choice(services) if kind is ActionType.RESTART_SERVICE else None
    return kind, unit


def build_demo(service: ApprovalService, *, now: datetime | None = None, seed: int = 0) -> None:
    """Fill an empty database with servers and actions in every status.

    Deterministic for a given `now` and `seed`: the screenshots and snapshot tests rely
    on that. Actions are spread over the last two days, with the pending queue the most
    recent few hours, as a real queue looks after a night of alerts."""
    end = now or service.clock()
    rng = random.Random(seed)
    clock = _DemoClock(end - timedelta(days=2))
    demo = ApprovalService(service.db, service.policy, clock=clock)

    for server in SERVERS:
        # Everything starts paused so that decisions can be shown on every host;
        # the servers meant to be active are unpaused at the end.
        demo.add_server(server.id, server.hostname, server.display_name, paused=True)

    history_start = end - timedelta(days=2)
    moments = sorted(history_start + timedelta(minutes=rng.randint(0, 60 * 40)) for _ in range(34))
    # The story of each past action, in a fixed mix so every status appears.
    fates = ["completed"] * 13 + ["rejected"] * 6 + ["failed"] * 4 + ["cancelled"] * 3
    fates += ["approved"] * 4 + ["cancelled_after_approval"] * 1
    fates += ["completed"] * (len(moments) - len(fates))
    rng.shuffle(fates)
    for moment, fate in zip(moments, fates, strict=True):
        _past_action(demo, clock, rng, moment, fate)
    # Two the agents are running right now.
    for minutes in (40, 25):
        _past_action(demo, clock, rng, end - timedelta(minutes=minutes), "executing")

    # The live queue: pending actions from the last few hours, oldest first.
    queued = sorted(end - timedelta(minutes=rng.randint(2, 6 * 60)) for _ in range(16))
    paused = [s for s in SERVERS if s.paused]
    previews = random.Random(seed + 1)  # its own stream: the actions stay as they were
    risky_shown = False
    for moment in queued:
        with clock.at(moment):
            server = rng.choice(paused)
            kind, unit = _kind_and_unit(rng, server.services)
            created = _create(demo, server.id, kind, unit)
        if created is not None:
            risky = not risky_shown and created.action_type == ActionType.APT_UPGRADE_ALL
            risky_shown = risky_shown or risky
            with clock.at(min(end, moment + timedelta(minutes=1))):
                _preview(demo, created, previews, risky=risky)

    with clock.at(end - timedelta(minutes=1)):
        for server in SERVERS:
            if not server.paused:
                demo.set_paused(server.id, False)


def _preview(
    demo: ApprovalService, action: ActionView, rng: random.Random, *, risky: bool = False
) -> None:
    """The preview the executor would have taken of a pending action (service/demo_previews)."""
    probe = probe_of(action)
    run = demo_probe_run(action, rng, risky=risky)
    if probe is not None and run is not None:
        demo.record_preview(action.id, probe, run)


def _create(
    demo: ApprovalService, server_id: str, kind: ActionType, unit: str | None
) -> ActionView | None:
    try:
        return demo.create_action(server_id, kind, unit, actor=PROPOSER)
    except InvalidTransition:  # the same fix is already queued for that host
        return None


def _past_action(
    demo: ApprovalService,
    clock: _DemoClock,
    rng: random.Random,
    moment: datetime,
    fate: str,
) -> None:
    server = rng.choice(SERVERS)
    kind, unit = _kind_and_unit(rng, server.services)
    with clock.at(moment):
        action = _create(demo, server.id, kind, unit)
    if action is None:
        return
    operator = rng.choice(OPERATORS)
    decided = moment + timedelta(minutes=rng.randint(3, 20 if fate == "executing" else 90))
    with clock.at(decided):
        if fate == "rejected":
            demo.reject(action.id, operator, rng.choice(REJECTION_REASONS))
            return
        if fate == "cancelled":
            demo.cancel(action.id, operator)
            return
        demo.approve(action.id, operator)
    if fate == "approved":
        return
    if fate == "cancelled_after_approval":
        with clock.at(decided + timedelta(minutes=2)):
            demo.cancel(action.id, rng.choice(OPERATORS))
        return
    started = decided + timedelta(seconds=rng.randint(5, 50))
    _agent_runs(demo, action, started, fate, rng)


def _agent_runs(
    demo: ApprovalService, action: ActionView, started: datetime, fate: str, rng: random.Random
) -> None:
    """What HomelabCmd's agent writes: executing, then completed or failed, with output.
    The service has no verb for this, so it goes through the storage layer."""
    finished = started + timedelta(seconds=rng.randint(2, 240))
    unit = action.service_name or "apt"
    steps: list[tuple[ActionStatus, ActionStatus, datetime, dict[str, object]]] = [
        (ActionStatus.APPROVED, ActionStatus.EXECUTING, started, {"executed_at": started}),
    ]
    if fate == "completed":
        steps.append(
            (
                ActionStatus.EXECUTING,
                ActionStatus.COMPLETED,
                finished,
                {"completed_at": finished, "exit_code": 0, "stdout": _stdout(action), "stderr": ""},
            )
        )
    elif fate == "failed":
        steps.append(
            (
                ActionStatus.EXECUTING,
                ActionStatus.FAILED,
                finished,
                {
                    "completed_at": finished,
                    "exit_code": 1,
                    "stdout": "",
                    "stderr": _FAILED_STDERR.format(unit=unit),
                },
            )
        )
    with demo.db.writing() as conn:
        for from_status, to_status, at, values in steps:
            conn.execute(
                update(RemediationAction)
                .where(RemediationAction.id == action.id)
                .values(status=to_status, **values)
            )
            conn.execute(
                insert(ActionEvent).values(
                    action_id=action.id,
                    from_status=from_status,
                    to_status=to_status,
                    actor=AGENT,
                    at=at,
                    reason=None,
                )
            )


def demo_run_output(action: ActionView, *, failed: bool) -> tuple[int, str | None, str | None]:
    """(exit code, stdout, stderr) as a real run of `action` prints them, empty as NULL."""
    if failed:
        unit = action.service_name or "apt"
        return 1, None, _FAILED_STDERR.format(unit=unit)
    return 0, _stdout(action) or None, None


def _stdout(action: ActionView) -> str:
    if action.action_type == ActionType.RESTART_SERVICE:
        return ""  # systemctl restart is silent on success
    if action.action_type == ActionType.CLEAR_LOGS:
        return "Vacuuming done, freed 1.2G of archived journals from /var/log/journal."
    if action.action_type == ActionType.APT_UPDATE:
        return "Reading package lists...\n14 packages can be upgraded."
    return "Reading package lists...\n3 upgraded, 0 newly installed, 0 to remove."


class DemoSimulator:
    """Adds a pending action every `interval` seconds from a background thread, so the
    demo console shows live refresh. `stop()` returns once the thread has ended."""

    def __init__(
        self,
        service: ApprovalService,
        interval: float = 4.0,
        *,
        seed: int | None = None,
        on_error: Callable[[ApprovalsError], None] | None = None,
    ) -> None:
        self.service = service
        self.interval = interval
        self.created = 0
        self._rng = random.Random(seed)
        self._preview_rng = random.Random(None if seed is None else seed + 1)
        self._on_error = on_error
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="demo-simulator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> DemoSimulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def step(self) -> ActionView | None:
        """Propose one new pending action on a paused server (None if the pick was a
        duplicate of one already queued, or no server is paused)."""
        paused = [s for s in self.service.list_servers() if s.is_paused]
        if not paused:
            return None
        server = self._rng.choice(paused)
        known = next((d for d in SERVERS if d.id == server.id), None)
        services = known.services if known else ("nginx",)
        kind, unit = _kind_and_unit(self._rng, services)
        action = _create(self.service, server.id, kind, unit)
        if action is not None:
            self.created += 1
            _preview(self.service, action, self._preview_rng)
        return action

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.step()
            except ApprovalsError as error:  # e.g. busy database: try again next tick
                if self._on_error is not None:
                    self._on_error(error)
