"""The terminal's own window title ("homelab-approvals · 3 pending"), so tmux and terminal
tabs show the queue, and the bell.

Textual 8 has no public way to set the terminal's title: `App.title` and `sub_title` are
its Header widget's (Textual issues #1782 and #6443 are open), and printing an escape
sequence to stdout from the app would interleave with Textual's writer thread, mid-frame.
So the app's driver, which `App.get_driver_class` (a public hook) picks, is the
platform's own driver subclassed to tell the app when it can write; the title then goes
out through `Driver.write`, in order with the frames. xterm's title stack keeps the
title the terminal had and gives it back when the console exits (a terminal without the
stack ignores both sequences). Headless (tests, `run_test()`), nothing is written."""

from __future__ import annotations

from typing import Protocol

from textual.driver import Driver

#: OSC 2 sets the window title; ST (ESC \\) ends it, not BEL, so a bell stays a bell.
_SET_TITLE = "\x1b]2;{}\x1b\\"
_PUSH_TITLE = "\x1b[22;2t"
_POP_TITLE = "\x1b[23;2t"


class TitleHolder(Protocol):
    def title_driver(self, driver: Driver | None) -> None:
        """The driver the title may be written through now (None: none may)."""


def title_sequence(title: str) -> str:
    """The escape sequence setting `title`; it must hold no control character (the
    console builds it from counts, never from the database)."""
    return _SET_TITLE.format(title)


def titled_driver(base: type[Driver], holder: TitleHolder) -> type[Driver]:
    """`base`, telling `holder` when application mode starts and stops."""

    class TitledDriver(base):  # type: ignore[valid-type, misc]
        def start_application_mode(self) -> None:
            super().start_application_mode()
            self.write(_PUSH_TITLE)
            holder.title_driver(self)

        def stop_application_mode(self) -> None:
            holder.title_driver(None)
            self.write(_POP_TITLE)
            super().stop_application_mode()

    TitledDriver.__name__ = f"Titled{base.__name__}"
    return TitledDriver
