"""The CLI's plain-text rendering: cell widths, truncation, table fitting, CSV on a terminal."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from homelab_approvals.cli.output import (
    Column,
    cell_width,
    render_table,
    terminal_width,
    truncate,
    write_events_csv,
)
from homelab_approvals.domain.views import EventView


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("nginx", 5),
        ("", 0),
        ("ラズパイ", 8),  # wide: two cells each
        ("🍓pi", 4),
        ("e\u0301", 1),  # e + combining acute accent
        ("␛[2J", 4),  # the stand-in visible() uses is one cell
    ],
)
def test_cell_width(text: str, width: int) -> None:
    assert cell_width(text) == width


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("nginx", 10, "nginx"),
        ("nginx", 5, "nginx"),
        ("nginx.service", 6, "nginx…"),
        ("ラズパイ", 5, "ラズ…"),  # never splits a wide character
    ],
)
def test_truncate(text: str, width: int, expected: str) -> None:
    assert truncate(text, width) == expected
    assert cell_width(truncate(text, width)) <= width


COLUMNS = (
    Column("ID", right=True),
    Column("SERVER", shrink=True, min_width=6),
    Column("STATUS"),
)


def test_table_aligns_wide_characters() -> None:
    lines = render_table(COLUMNS, [["1", "ラズパイ", "pending"], ["12", "nas", "ok"]], None)
    assert lines == [
        "ID  SERVER    STATUS",
        " 1  ラズパイ  pending",
        "12  nas       ok",
    ]


def test_table_shrinks_only_shrinkable_columns_to_fit() -> None:
    rows = [["1", "a-very-long-server-label", "pending"]]
    lines = render_table(COLUMNS, rows, max_width=22)
    assert lines[1] == " 1  a-very-l…  pending"
    assert all(cell_width(line) <= 22 for line in lines)


def test_table_without_a_width_keeps_every_character() -> None:
    rows = [["1", "x" * 300, "pending"]]
    assert "x" * 300 in render_table(COLUMNS, rows, max_width=None)[1]


def test_table_that_cannot_fit_stops_at_the_minimum() -> None:
    lines = render_table(COLUMNS, [["1", "abcdefghijkl", "pending"]], max_width=5)
    assert lines[1] == " 1  abcde…  pending"


EVENT = EventView(
    id=1,
    action_id=7,
    from_status="pending",
    to_status="rejected",
    actor="bob",
    at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
    reason="evil\x1b[2J",
)


def test_csv_on_a_terminal_is_made_inert() -> None:
    main_fd, tty_fd = os.openpty()
    try:
        with open(tty_fd, "w", encoding="utf-8", closefd=False) as tty:
            assert terminal_width(tty) is not None
            write_events_csv([EVENT], tty)
        received = b""
        while received.count(b"\n") < 2:  # the header and the one row
            received += os.read(main_fd, 4096)
        written = received.decode("utf-8")
    finally:
        os.close(main_fd)
        os.close(tty_fd)
    assert "\x1b" not in written
    assert "evil␛[2J" in written
