"""One of the OS processes of the contention benchmark, run by benchmarks/run.py.

    python benchmarks/_contender.py DB SEED ATTEMPTS FIRST_ID LAST_ID HOT

DB is a SQLite file, or a database URL (PostgreSQL).

Opens DB through the service, prints `ready`, waits for a line on stdin (so every
contender starts at once), then makes ATTEMPTS decisions on random ids in
[FIRST_ID, LAST_ID]: the first HOT attempts on the same small set of ids as every other
contender (guaranteed races), the rest anywhere. Four in five approve, one in five reject.
It prints one JSON line: started/ended (time.monotonic()), successes, conflicts (a clean
CONFLICT: someone else decided first), and errors (anything else, e.g. DATABASE_BUSY)
with the first few messages.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from homelab_approvals.domain.errors import ApprovalsError, InvalidTransition
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database


def main(argv: list[str]) -> None:
    path, seed, attempts, first, last, hot = argv
    rng = random.Random(int(seed))
    low, high = int(first), int(last)
    hot_ids = list(range(low, min(high, low + int(hot) - 1) + 1))
    rng.shuffle(hot_ids)
    targets = hot_ids + [rng.randint(low, high) for _ in range(int(attempts) - len(hot_ids))]

    db = open_database(url=path) if "://" in path else open_database(Path(path))
    service = ApprovalService(db)
    print("ready", flush=True)
    sys.stdin.readline()

    successes = conflicts = 0
    errors: list[str] = []
    started = time.monotonic()
    for action_id in targets:
        try:
            if rng.random() < 0.8:
                service.approve(action_id, f"bench-{seed}")
            else:
                service.reject(action_id, f"bench-{seed}", "benchmark")
        except InvalidTransition:
            conflicts += 1
        except ApprovalsError as error:
            errors.append(f"{error.code}: {error.message}")
        except Exception as error:  # anything at all is an error for this benchmark
            errors.append(f"{type(error).__name__}: {error}")
        else:
            successes += 1
    ended = time.monotonic()
    db.close()
    result = {
        "started": started,
        "ended": ended,
        "successes": successes,
        "conflicts": conflicts,
        "errors": len(errors),
        "error_samples": errors[:3],
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
