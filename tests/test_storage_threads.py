"""The live refresh's change check runs on a worker thread while another thread may close
the database (a replaced file being reopened, the console quitting). Closing the held
sqlite3 connection in the middle of its query used to crash the whole process
(SIGSEGV), so this runs in a child process and checks how it ended."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from homelab_approvals.storage import open_database

    db = open_database(Path(sys.argv[1]))
    stop = threading.Event()
    failures = []

    def check_for_changes():
        while not stop.is_set():
            try:
                db.change_token()
            except Exception as error:  # any error is a failure, not only a crash
                failures.append(repr(error))

    threads = [threading.Thread(target=check_for_changes) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(5000):
        db.close()
    stop.set()
    for thread in threads:
        thread.join()
    print(len(failures), failures[:3])
    """
)


def test_closing_while_another_thread_checks_for_changes_never_crashes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "approvals.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert result.stdout.strip() == "0 []"
