"""Live output on its way to a real database (SQLite and PostgreSQL, `backends`): batched
writes, UTF-8 split between reads put back together, and the cap on what one run may
write."""

from __future__ import annotations

import pytest

from homelab_approvals.executor import live_output
from homelab_approvals.executor.live_output import LiveOutput
from homelab_approvals.service import ApprovalService

pytestmark = pytest.mark.backends


def running_action(seeded: ApprovalService) -> int:
    return seeded.create_action("nas", "apt_upgrade_all", actor="bot").id


def test_everything_arrives_in_order_and_in_few_writes(seeded: ApprovalService) -> None:
    aid = running_action(seeded)
    said: list[str] = []
    live = LiveOutput(aid, seeded.add_output, said.append)
    text = "".join(f"Unpacking package-{n:03d} ...\n" for n in range(300))
    for piece in (text[i : i + 17] for i in range(0, len(text), 17)):
        live.feed("stdout", piece.encode())
    live.feed("stderr", b"W: Some index files failed\n")
    live.close()
    chunks, _ = seeded.output_since(aid)
    assert "".join(c.text for c in chunks if c.stream == "stdout") == text
    assert [c.text for c in chunks if c.stream == "stderr"] == ["W: Some index files failed\n"]
    assert live.writes < 10  # one flush per 0.25 s at most, never one per piece
    assert said == []


def test_a_character_split_between_reads_is_whole(seeded: ApprovalService) -> None:
    aid = running_action(seeded)
    live = LiveOutput(aid, seeded.add_output, print)
    data = "Paketlisten werden gelesen… 100 %\n".encode()
    cut = data.index("…".encode()) + 1  # inside the three bytes of "…"
    live.feed("stdout", data[:cut])
    live.feed("stdout", data[cut:])
    live.feed("stdout", b"\xff\n")  # not UTF-8 at all
    live.close()
    chunks, _ = seeded.output_since(aid)
    assert "".join(c.text for c in chunks) == "Paketlisten werden gelesen… 100 %\n\ufffd\n"


def test_a_nul_byte_is_written_as_its_picture(seeded: ApprovalService) -> None:
    """PostgreSQL's text refuses NUL; live output is a courtesy that must not stop."""
    aid = running_action(seeded)
    errors: list[str] = []
    live = LiveOutput(aid, seeded.add_output, errors.append)
    live.feed("stdout", b"tar: \x00 in a name\n")
    live.close()
    chunks, _ = seeded.output_since(aid)
    assert [c.text for c in chunks] == ["tar: \u2400 in a name\n"]
    assert errors == []


def test_a_run_writes_at_most_the_cap(seeded: ApprovalService) -> None:
    aid = running_action(seeded)
    live = LiveOutput(aid, seeded.add_output, print)
    line = ("x" * 99 + "\n").encode()
    for _ in range(live_output.LIVE_MAX // 100 + 500):
        live.feed("stdout", line)
    live.close()
    chunks, _ = seeded.output_since(aid)
    written = "".join(c.text for c in chunks)
    assert written.endswith(live_output.CUT_NOTE)
    assert len(written) == live_output.LIVE_MAX + len(live_output.CUT_NOTE)
