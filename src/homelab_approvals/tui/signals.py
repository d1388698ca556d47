"""SIGTERM, SIGHUP and SIGINT end the console the way `q` does, instead of killing it
outright.

Killed outright (Python's default for both), the process leaves the operator's terminal
in the alternate screen, with mouse reporting on and the keyboard in raw mode. Handled,
Textual gives the terminal back first. SIGHUP is what a session gets when its SSH
connection drops or its terminal window closes; SIGTERM is what `kill` and service
managers send. SIGINT from outside (`kill -INT`, `timeout -s INT`) would otherwise end
the app with status 0 as if the operator had quit; at the keyboard Ctrl-C is a key in the
terminal's raw mode, not a signal, so this changes nothing for the operator.

The database needs nothing from this: every decision is one transaction, so a decision
on its way either commits whole or not at all. A half-typed reason is simply dropped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from functools import partial

from textual.app import App

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
#: If the orderly exit has not finished by then, the process ends anyway. It can hang:
#: after a hang-up, writes to the terminal fail and Textual's output queue stops
#: draining; and a decision waiting on a locked database would hold the exit for up to
#: the busy timeout.
GRACE_SECONDS = 3.0


def exit_on_signals(app: App[int]) -> None:
    """From now on, SIGTERM, SIGHUP and SIGINT make `app` exit with status 128 + the signal's
    number (as a shell reports a process killed by it). A second signal, or the grace
    period running out, ends the process at once. Call from the app's event loop.

    A plain Python handler, not `loop.add_signal_handler`: that one runs only when the
    event loop gets round to it, and after a hang-up the loop can be stuck for good (the
    terminal's output queue is full and nothing drains it), so the console would never
    end. A Python handler runs in the main thread even while it waits on that queue, and
    starts the watchdog from there."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        status = 128 + signum
        if received:
            os._exit(status)  # asked twice: stop waiting for the orderly exit
        received.append(signum)
        watchdog = threading.Timer(GRACE_SECONDS, os._exit, (status,))
        watchdog.daemon = True
        watchdog.start()
        loop.call_soon_threadsafe(partial(app.exit, return_code=status))

    for signum in EXIT_SIGNALS:
        signal.signal(signum, on_signal)
