"""Python's cyclic garbage collector, held off while the console starts.

Starting the console allocates a few hundred thousand objects that live as long as the
process (modules, classes, styles), and the collector keeps walking them: on the
benchmark machine its passes add up to about 0.1 s before the first screen. So the entry
points (the CLI's console command, the benchmark) pause it before their imports; once
the database is open, everything alive is frozen (never scanned again, `gc.freeze`) and
collection resumes for what is allocated from then on. Nothing here imports Textual."""

from __future__ import annotations

import gc

_paused = False


def pause_collector() -> None:
    """Hold off cyclic garbage collection until `resume_collector()` (entry points only:
    an app started by anything else, tests included, leaves the collector alone)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
    """Freeze what the startup built, and collect again. A no-op unless paused."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
