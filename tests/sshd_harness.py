"""A real OpenSSH server and real ssh clients in tmux, for end-to-end tests.

`SshServer` runs `/usr/sbin/sshd -D -e` on 127.0.0.1 at a free high port with its own
config, host key and authorized_keys, all in a temp dir. It lets in exactly one account:
the one running the tests, which must be root (as in CI). The config admits root only for
forced commands (`PermitRootLogin forced-commands-only`): the very model the README
recommends. Logging in as ourselves needs no `useradd`, leaves nothing behind on the
machine, and keeps the temp database readable and writable by the console without chmod
games. Why root: a pty session needs sshd to chown the pty to the user and group `tty`,
which an unprivileged sshd cannot do unless devpts is mounted with gid=5 (it is not in
many containers: sshd then drops the connection with "chown(/dev/pts/N) failed").

`Terminal` is one tmux session on a private tmux server (its own socket), running one
command, typically `ssh -tt ...`. Tests type with `send`/`type` and read the screen with
`screen()`; `wait_for` polls the screen until a condition holds or a deadline passes, and
fails with the last screen in the message. Nothing here sleeps for correctness.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")  # root's sshd chroots its pre-auth child here
POLL = 0.05


def unavailable_reason() -> str | None:
    """Why a real sshd session cannot run here, or None when it can."""
    missing = [] if os.access(SSHD, os.X_OK) else [SSHD]
    missing += [tool for tool in ("ssh", "ssh-keygen", "tmux") if not shutil.which(tool)]
    if missing:
        return f"not installed: {', '.join(missing)} (apt-get install openssh-server tmux)"
    if os.geteuid() != 0:
        return "sshd must run as root to hand a login session its pty (.ci/run runs as root)"
    return None


def wait_until(condition: Callable[[], bool], timeout: float, describe: Callable[[], str]) -> None:
    """Poll `condition` until it holds; after `timeout` s fail with `describe()`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s: {describe()}")
        time.sleep(POLL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


@dataclass(frozen=True)
class ClientKey:
    name: str
    path: Path

    @property
    def public(self) -> str:
        return self.path.with_suffix(".pub").read_text().strip()


def authorized_line(key: ClientKey, command: str, options: str = "restrict,pty") -> str:
    """One authorized_keys line that forces `command` for `key`, as the README shows.
    (Inside command="...", sshd unescapes only \\"; the shell then parses the rest.)"""
    escaped = command.replace('"', '\\"')
    return f'command="{escaped}",{options} {key.public}'


@dataclass
class SshServer:
    """sshd on 127.0.0.1:port, serving `user`. Start with `SshServer.start(dir)`."""

    root: Path
    port: int
    user: str
    process: subprocess.Popen[bytes]
    log: Path
    keys: dict[str, ClientKey] = field(default_factory=dict)

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    @classmethod
    def start(cls, root: Path, clients: Iterable[str] = ("alice", "bob")) -> SshServer:
        root.mkdir(parents=True, exist_ok=True)
        if not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True)  # sshd refuses to start without it
        host_key = keygen(root / "host_ed25519", "e2e-host")
        keys = {
            name: ClientKey(name, keygen(root / f"{name}_ed25519", f"{name}@e2e"))
            for name in clients
        }
        (root / "authorized_keys").write_text("")
        user = pwd.getpwuid(os.geteuid()).pw_name
        last_error = ""
        for _attempt in range(3):  # another process may take the "free" port first
            port = free_port()
            config = _write_config(root, port, host_key, user)
            log = root / f"sshd-{port}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            server = cls(root, port, user, process, log, keys)
            if server._wait_listening():
                return server
            last_error = server.log_text()
            server.stop()
        raise RuntimeError(f"sshd did not start; last log:\n{last_error}")

    def _wait_listening(self, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        needle = f"Server listening on 127.0.0.1 port {self.port}"
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(POLL)
        return False

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def authorize(self, lines: Sequence[str]) -> None:
        """Replace authorized_keys. sshd reads it afresh on every login."""
        tmp = self.authorized_keys.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines))
        tmp.replace(self.authorized_keys)

    def ssh_command(
        self,
        key: str,
        *remote: str,
        term: str | None = None,
        options: Sequence[str] = (),
    ) -> list[str]:
        """The real client as `key`, ignoring the user's ~/.ssh/config and agent. `remote`
        is the command the client asks for; `options` are extra `-o` settings."""
        argv = [
            "ssh",
            "-tt",
            "-F",
            "/dev/null",
            "-i",
            str(self.keys[key].path),
            "-p",
            str(self.port),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=15",
            *(arg for option in options for arg in ("-o", option)),
            f"{self.user}@127.0.0.1",
            *remote,
        ]
        return ["env", f"TERM={term}", *argv] if term else argv

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _write_config(root: Path, port: int, host_key: Path, user: str) -> Path:
    config = root / f"sshd_config-{port}"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress 127.0.0.1:{port}",
                f"HostKey {host_key}",
                f"PidFile {root / f'sshd-{port}.pid'}",
                f"AuthorizedKeysFile {root / 'authorized_keys'}",
                f"AllowUsers {user}",
                # Root gets in only through a forced command: the deployment model itself.
                "PermitRootLogin forced-commands-only",
                # The temp dir is not root-owned 0755 all the way up.
                "StrictModes no",
                # No PAM: containers often lack a working PAM session stack (loginuid...).
                "UsePAM no",
                "PubkeyAuthentication yes",
                "AuthenticationMethods publickey",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "HostbasedAuthentication no",
                "PermitUserEnvironment no",
                "X11Forwarding no",
                "AllowTcpForwarding no",
                "AllowAgentForwarding no",
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                # So the client's `-o SetEnv=NO_COLOR=1` reaches the console.
                "AcceptEnv NO_COLOR COLORTERM",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    return config


class Terminal:
    """One tmux session running one command, on a private tmux server."""

    def __init__(self, socket_path: Path, name: str, width: int = 100, height: int = 30) -> None:
        self.socket = socket_path
        self.name = name
        self.width = width
        self.height = height

    def tmux(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [*_tmux_base(self.socket), *args],
            capture_output=True,
            text=True,
            env=_tmux_env(),
            timeout=30,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    @property
    def _status_file(self) -> Path:
        return self.socket.parent / f"{self.name}.status"

    def start(self, argv: Sequence[str]) -> Terminal:
        # A small shell records the exit status: tmux 3.3 sometimes marks a pane dead
        # without ever recording #{pane_dead_status}.
        script = 'status=$1; shift; "$@"; echo "$?" > "$status.tmp" && mv "$status.tmp" "$status"'
        wrapped = ["sh", "-c", script, "sh", str(self._status_file), *argv]
        self.tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            shlex.join(wrapped),
        )
        return self

    @property
    def target(self) -> str:
        return f"={self.name}:"

    def send(self, *keys: str) -> None:
        """Key names as tmux knows them: Escape, Enter, Space, C-a, Up..."""
        self.tmux("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.target, "-l", text)

    def screen(self, *, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", self.target]
        if escapes:
            args.append("-e")
        return self.tmux(*args, check=False)

    def pane(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", self.target, fmt, check=False).strip()

    def exit_status(self) -> int | None:
        """The command's exit status once it has ended, as a shell shows it (128 + N when
        killed by signal N); None while it runs."""
        try:
            return int(self._status_file.read_text())
        except FileNotFoundError:
            return None

    def pid(self) -> int:
        return int(self.pane("#{pane_pid}"))

    def process_named(self, name: str) -> int:
        """The pane's process, or its nearest descendant, whose program name starts with
        `name` ("ssh"; "python" also finds "python3.11")."""
        pending = [self.pid()]
        while pending:
            pid = pending.pop(0)
            if _comm(pid).startswith(name):
                return pid
            pending += _children(pid)
        raise AssertionError(f"no {name!r} process in pane {self.name}")

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", self.target, "-x", str(width), "-y", str(height))

    def wait_for(
        self,
        condition: str | Callable[[str], bool],
        timeout: float = 20.0,
        what: str | None = None,
    ) -> str:
        """Poll the screen until `condition` (a substring, or a predicate on the screen text)
        holds; return that screen. On timeout fail, showing the last screen."""
        check = (lambda text: condition in text) if isinstance(condition, str) else condition
        label = what or (repr(condition) if isinstance(condition, str) else "condition")
        last = ""

        def holds() -> bool:
            nonlocal last
            last = self.screen()
            return check(last)

        wait_until(holds, timeout, lambda: f"{self.name}: waiting for {label}; screen:\n{last}")
        return last

    def wait_exit(self, timeout: float = 20.0) -> int:
        """Wait for the command to end; its exit status (see `exit_status`)."""
        status: int | None = None

        def ended() -> bool:
            nonlocal status
            status = self.exit_status()
            return status is not None

        wait_until(ended, timeout, lambda: f"{self.name} still running; screen:\n{self.screen()}")
        assert status is not None
        return status


# The private server's settings. remain-on-exit keeps a pane (its last screen) after its
# command ends, so a test can still read what happened; no status line, so the pane is
# exactly the window's size; no escape-time, so tmux passes Escape on at once.
_TMUX_CONF = """\
set-option -g remain-on-exit on
set-option -g status off
set-option -g default-terminal screen-256color
set-option -g history-limit 0
set-option -g escape-time 0
"""


def _tmux_base(socket_path: Path) -> list[str]:
    # -f is read only when the server starts, so every call may pass it.
    return ["tmux", "-u", "-S", str(socket_path), "-f", str(socket_path.with_suffix(".conf"))]


@contextlib.contextmanager
def tmux_server() -> Iterator[Path]:
    """A private tmux server for the test; killed (with everything in it) afterwards.
    Its socket lives in a short /tmp dir: unix socket paths are limited to ~100 bytes."""
    root = Path(tempfile.mkdtemp(prefix="ha-tmux-"))
    socket_path = root / "tmux.sock"
    socket_path.with_suffix(".conf").write_text(_TMUX_CONF)
    try:
        yield socket_path
    finally:
        subprocess.run(
            [*_tmux_base(socket_path), "kill-server"],
            capture_output=True,
            env=_tmux_env(),
            timeout=30,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _tmux_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    env.setdefault("LANG", "C.UTF-8")
    env["TERM"] = env.get("TERM") or "xterm-256color"
    return env


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The fields after the parenthesised command name: state, then ppid.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def processes_matching(*needles: str) -> list[int]:
    """Pids whose command line contains every one of `needles` (like `pgrep -f`, without
    needing procps installed), excluding this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if cmdline and all(needle in cmdline for needle in needles):
            found.append(int(entry.name))
    return found


def kill_matching(*needles: str) -> None:
    """Clean-up after a failed test: SIGKILL, by pid, what we started under `needles`."""
    for pid in processes_matching(*needles):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# -- a remote end for the executor -----------------------------------------------------------

#: Real probe transcripts (Debian 12), which the remote end answers probes with.
TRANSCRIPTS = Path(__file__).parent / "transcripts"
#: What `systemctl show UNIT -p ...` answers.
UNIT_STATE = (
    "LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\n"
    "NRestarts=3\nActiveEnterTimestamp=Fri 2026-12-04 09:12:01 UTC\n"
)
#: `restart chatty-*` prints this many lines, one every CHATTY_PAUSE seconds.
CHATTY_LINES = 60
CHATTY_PAUSE = 0.05

#: The forced command of the executor's key: records each SSH_ORIGINAL_COMMAND (with the
#: account it ran as) and answers by the unit name in it, so one sshd plays every server.
_RUNNER = """\
#!/bin/sh
printf '%s\\t%s\\n' "$(id -un)" "$SSH_ORIGINAL_COMMAND" >> {log}
case "$SSH_ORIGINAL_COMMAND" in
  "apt-get -s dist-upgrade "*) cat "$(cat {plan})";;
  *"unattended-upgrade --dry-run -v") cat {security};;
  "systemctl show evil-"*) printf 'ActiveState=\\033[2Jfailed\\nSubState=[@click=app.quit]x\\n';;
  "systemctl show "*) printf '{unit_state}';;
  "journalctl --disk-usage") echo "Archived and active journals take up 3.9G in the file system.";;
  *"restart chatty-"*)
    i=0
    while [ $i -lt {chatty_lines} ]; do
      echo "Unpacking package-$i ..."; i=$((i+1)); sleep {chatty_pause}
    done;;
  *"restart fail-"*) echo "Job for failing.service failed" >&2; exit 3;;
  *"restart slow-"*) sleep {slow}; echo "restarted after a while";;
  *"restart hang-"*) exec sleep 30;;
  *"restart big-"*) head -c 25000 /dev/zero | tr '\\0' 'x'; echo " the end";;
  *"restart nul-"*) printf 'before\\000after\\n';;
  *) echo "ran: $SSH_ORIGINAL_COMMAND";;
esac
"""


@dataclass
class RemoteEnd:
    """sshd as the executor's remote servers. `ssh_config` defines the host aliases:
    `exec-host` (the real server, its key known), `exec-wrong-key` (the same server, a
    different key in known_hosts) and `exec-refused` (a port nobody listens on)."""

    server: SshServer
    ssh_config: Path
    record: Path
    #: Holds the path of the transcript `apt-get -s dist-upgrade` answers with.
    plan: Path

    def serve_plan(self, transcript: str) -> None:
        """Answer `apt-get -s dist-upgrade` with tests/transcripts/`transcript` from now."""
        self.plan.write_text(str(TRANSCRIPTS / transcript))

    def commands(self) -> list[tuple[str, str]]:
        """(account, command) of every command that reached the server, in order."""
        try:
            text = self.record.read_text()
        except FileNotFoundError:
            return []
        return [tuple(line.split("\t", 1)) for line in text.splitlines()]  # type: ignore[misc]


def remote_end(server: SshServer, root: Path, *, slow_seconds: float = 3) -> RemoteEnd:
    root.mkdir(parents=True, exist_ok=True)
    record = root / "commands.log"
    runner = root / "runner.sh"
    plan = root / "apt-plan"
    plan.write_text(str(TRANSCRIPTS / "apt-get-s-dist-upgrade-kernel-removal.txt"))
    runner.write_text(
        _RUNNER.format(
            log=shlex.quote(str(record)),
            slow=slow_seconds,
            plan=shlex.quote(str(plan)),
            security=shlex.quote(str(TRANSCRIPTS / "unattended-upgrade-dry-run.txt")),
            unit_state=UNIT_STATE.replace("\n", "\\n"),
            chatty_lines=CHATTY_LINES,
            chatty_pause=CHATTY_PAUSE,
        )
    )
    runner.chmod(0o755)
    key = ClientKey("executor", keygen(root / "executor_ed25519", "executor@e2e"))
    server.keys["executor"] = key
    server.authorize([authorized_line(key, str(runner), options="restrict")])
    host_key = (server.root / "host_ed25519.pub").read_text().split()
    other = keygen(root / "other_host_ed25519", "other").with_suffix(".pub").read_text().split()
    known = root / "known_hosts"
    known.write_text(f"exec-host {host_key[0]} {host_key[1]}\n")
    wrong = root / "known_hosts_wrong"
    wrong.write_text(f"exec-host {other[0]} {other[1]}\n")
    common = [
        "  HostName 127.0.0.1",
        f"  User {server.user}",
        f"  IdentityFile {key.path}",
        "  IdentitiesOnly yes",
        "  IdentityAgent none",
        "  HostKeyAlias exec-host",
        "  StrictHostKeyChecking yes",
        "  GlobalKnownHostsFile /dev/null",
        "  ConnectTimeout 10",
        "  LogLevel ERROR",
    ]
    config = root / "ssh_config"
    config.write_text(
        "\n".join(
            [
                "Host exec-host",
                f"  Port {server.port}",
                f"  UserKnownHostsFile {known}",
                *common,
                "Host exec-wrong-key",
                f"  Port {server.port}",
                f"  UserKnownHostsFile {wrong}",
                *common,
                "Host exec-refused",
                f"  Port {free_port()}",
                f"  UserKnownHostsFile {known}",
                *common,
                "",
            ]
        )
    )
    return RemoteEnd(server, config, record, plan)


@contextlib.contextmanager
def running_remote(folders: Callable[[str], Path], tests: str) -> Iterator[RemoteEnd]:
    """A started sshd and its remote end, for a test module's `remote` fixture. Where
    sshd cannot run it skips, but under CI it fails: `tests` names them in the message."""
    import pytest  # only the fixtures need it; the harness itself is plain Python

    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the {tests} OpenSSH tests must run in CI: {reason}")
        pytest.skip(reason)
    server = SshServer.start(folders("sshd"), clients=())
    try:
        yield remote_end(server, folders("remote"))
    finally:
        server.stop()
