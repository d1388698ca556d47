"""Property tests for every piece of free text a person can type: rejection reasons,
operator names, service (unit) names and search text.

Valid text must round-trip exactly through the database; invalid text must be refused
with VALIDATION_ERROR and change nothing. The oracles below restate the rules from the
issues independently of the implementation. One database per test function (not per
example) keeps this fast.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.storage import open_database

EXAMPLES = settings(
    max_examples=80,
    deadline=None,
    # One database for all examples of a test, on purpose: see the module docstring.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# -- the text people type ----------------------------------------------------------------------


def is_control(char: str) -> bool:
    return (
        unicodedata.category(char) == "Cc"
        or char in "\u2028\u2029"
        or "\u202a" <= char <= "\u202e"
        or "\u2066" <= char <= "\u2069"
    )


HOSTILE = [
    "[bold]x",
    "[@click=app.quit]boom[/]",
    "[/]",
    "[link=https://evil.example]click[/link]",
    "<script>alert(1)</script>",
    "🙂",
    "👩‍👩‍👧",  # ZWJ sequence
    "🏳️‍🌈",
    "مرحبا",
    "שלום",
    "e\u0301",  # combining accent
    "\u200b",  # zero-width space
    "\ufeff",  # byte-order mark
    "\u3000",  # ideographic space
    "\xa0",
    "\u202e",  # RTL override
    "\u2066",
    "\u2028",
    "\x00",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\n",
    "\r",
    "\t",
    "\x7f",
    "\x85",
    "%",
    "_",
    "/",
    "\\",
    "'",
    '"',
    "'; DROP TABLE action_events;--",
    " ",
    "  ",
    "#12",
    "nginx",
]
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)  # undecodable bytes from argv
CLEAN_PIECES = st.one_of(
    st.sampled_from([h for h in HOSTILE if not any(is_control(c) for c in h)]),
    st.characters(exclude_categories=("Cc", "Cs")),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
)
BAD_PIECES = st.one_of(
    st.sampled_from([h for h in HOSTILE if any(is_control(c) for c in h)]),
    st.characters(categories=("Cc",)),
    SURROGATES,
)
# Half the time text a person could mean; half the time with something unstorable in it.
TYPED = st.one_of(
    st.lists(CLEAN_PIECES, max_size=24).map("".join),
    st.lists(st.one_of(CLEAN_PIECES, BAD_PIECES), max_size=24).map("".join),
)


def padded_run(low: int, high: int) -> st.SearchStrategy[str]:
    """Text near a length limit, with surrounding blanks that trimming removes."""
    return st.builds(
        lambda pad_left, char, n, pad_right: pad_left + char * n + pad_right,
        st.sampled_from(["", " ", "\u3000 "]),
        st.sampled_from(["x", "é", "🙂", "中"]),
        st.integers(low, high),
        st.sampled_from(["", "  "]),
    )


# -- the rules, restated -----------------------------------------------------------------------


def storable(text: str) -> bool:
    return not any(is_control(c) or "\ud800" <= c <= "\udfff" for c in text)


def valid_free_text(text: str | None, max_len: int) -> bool:
    return text is not None and storable(text) and 1 <= len(text.strip()) <= max_len


UNIT = re.compile(r"[A-Za-z0-9:_.@][A-Za-z0-9:_.@-]{0,254}")


def valid_unit(text: str) -> bool:
    return UNIT.fullmatch(text) is not None


def ascii_lower(text: str) -> str:
    # SQLite's lower() and LIKE fold ASCII letters only.
    return text.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def svc(db_path: Path) -> Iterator[ApprovalService]:
    db = open_database(db_path)
    service = ApprovalService(db)
    service.add_server("pi-4", "pi4.lan", "Ünïcode 🙂 [bold]PI[/]", paused=True)
    service.add_server("nas", "NAS.lan", paused=True)
    yield service
    db.close()


_units = count()


def fresh_pending(service: ApprovalService, actor: str = "bob") -> int:
    return service.create_action(
        "pi-4", "restart_service", f"unit{next(_units)}.service", actor=actor
    ).id


def raw(db_path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def everything(db_path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (
        raw(db_path, "SELECT * FROM remediation_actions ORDER BY id"),
        raw(db_path, "SELECT * FROM action_events ORDER BY id"),
    )


# -- rejection reasons -------------------------------------------------------------------------


@EXAMPLES
@given(reason=st.one_of(TYPED, padded_run(990, 1010), st.none()))
def test_reasons_round_trip_or_are_refused(
    svc: ApprovalService, db_path: Path, reason: str | None
) -> None:
    action_id = fresh_pending(svc)
    before = everything(db_path)

    event("valid" if valid_free_text(reason, 1000) else "refused")
    if not valid_free_text(reason, 1000):
        with pytest.raises(ValidationError):
            svc.reject(action_id, "alice", reason)
        assert everything(db_path) == before
        return

    assert reason is not None
    rejected = svc.reject(action_id, "alice", reason)
    assert rejected.rejection_reason == reason.strip()
    assert raw(
        db_path, "SELECT rejection_reason FROM remediation_actions WHERE id = ?", action_id
    ) == [(reason.strip(),)]
    assert raw(
        db_path, "SELECT reason FROM action_events WHERE action_id = ? AND to_status = 'rejected'",
        action_id,
    ) == [(reason.strip(),)]  # fmt: skip
    assert svc.get_action(action_id).rejection_reason == reason.strip()


# -- operator names ----------------------------------------------------------------------------


@EXAMPLES
@given(name=st.one_of(TYPED, padded_run(45, 55)))
def test_operator_names_round_trip_or_are_refused(
    svc: ApprovalService, db_path: Path, name: str
) -> None:
    action_id = fresh_pending(svc)
    before = everything(db_path)

    event("valid" if valid_free_text(name, 50) else "refused")
    if not valid_free_text(name, 50):
        with pytest.raises(ValidationError):
            svc.approve(action_id, name)
        with pytest.raises(ValidationError):
            svc.create_action("nas", "clear_logs", actor=name)
        assert everything(db_path) == before
        return

    approved = svc.approve(action_id, name)
    assert approved.approved_by == name.strip()
    assert raw(db_path, "SELECT approved_by FROM remediation_actions WHERE id = ?", action_id) == [
        (name.strip(),)
    ]
    assert svc.list_events(action_id=action_id)[-1].actor == name.strip()
    created = svc.create_action("nas", "clear_logs", actor=name)
    assert created.created_by == name.strip()
    svc.cancel(created.id, name)  # so the next example may create it again


# -- service (unit) names ----------------------------------------------------------------------

UNITISH = st.one_of(
    st.from_regex(r"[A-Za-z0-9:_.@-]{1,20}", fullmatch=True),
    st.from_regex(r"[a-z]{1,8}@[a-z0-9]{0,6}\.(service|socket|timer)", fullmatch=True),
    st.builds(lambda n: "a" * n, st.integers(250, 260)),
    TYPED,
)


@EXAMPLES
@given(unit=UNITISH)
def test_service_names_reach_the_command_exactly_or_not_at_all(
    svc: ApprovalService, db_path: Path, unit: str
) -> None:
    before = everything(db_path)

    event("valid" if valid_unit(unit) else "refused")
    if not valid_unit(unit):
        with pytest.raises(ValidationError):
            svc.create_action("pi-4", "restart_service", unit, actor="bob")
        assert everything(db_path) == before
        return

    existing = svc.list_actions(ActionQuery(search=None)).rows
    pending = [a.id for a in existing if a.service_name == unit and a.status == "pending"]
    if pending:  # the one pending action of that unit, not an earlier cancelled one
        svc.cancel(pending[0], "bob")
    action = svc.create_action("pi-4", "restart_service", unit, actor="bob")
    assert action.service_name == unit
    assert action.command == f"systemctl restart {unit}"
    assert raw(
        db_path, "SELECT service_name, command FROM remediation_actions WHERE id = ?", action.id
    ) == [(unit, f"systemctl restart {unit}")]
    assert svc.get_action(action.id).command.split(" ") == ["systemctl", "restart", unit]


# -- search text -------------------------------------------------------------------------------


def matches(action_text: list[str | None], action_id: int, needle: str) -> bool:
    folded = ascii_lower(needle)
    if any(field is not None and folded in ascii_lower(field) for field in action_text):
        return True
    digits = needle.removeprefix("#")
    return digits.isascii() and digits.isdigit() and len(digits) <= 18 and int(digits) == action_id


@EXAMPLES
@given(
    units=st.lists(st.from_regex(r"[A-Za-z0-9:_.@%-]{1,12}", fullmatch=True), max_size=6),
    needle=st.one_of(TYPED, padded_run(195, 205), st.just("%"), st.just("_"), st.just("%_%")),
    pick=st.integers(0, 10_000),
)
def test_search_finds_exactly_what_contains_the_text(
    svc: ApprovalService, db_path: Path, units: list[str], needle: str, pick: int
) -> None:
    for unit in units:
        if valid_unit(unit) and not any(
            a.service_name == unit and a.status == "pending" for a in svc.list_actions().rows
        ):
            svc.create_action("pi-4", "restart_service", unit, actor="bob")
    before = everything(db_path)

    refused = not storable(needle) or len(needle.strip()) > 200
    event("refused" if refused else "valid")
    if refused:
        with pytest.raises(ValidationError):
            ActionQuery(search=needle)
        assert everything(db_path) == before
        return

    page = svc.list_actions(ActionQuery(search=needle, limit=100_000))
    trimmed = needle.strip()
    everyone = svc.list_actions(ActionQuery(limit=100_000)).rows
    servers = {s.id: s for s in svc.list_servers()}

    def fields(action_id: int) -> list[str | None]:
        action = next(a for a in everyone if a.id == action_id)
        server = servers[action.server_id]
        return [
            action.server_id,
            server.hostname,
            server.display_name,
            action.service_name,
            action.command,
        ]

    expected = {a.id for a in everyone if not trimmed or matches(fields(a.id), a.id, trimmed)}
    assert {a.id for a in page.rows} == expected
    assert page.total == len(expected)
    assert everything(db_path) == before

    # And a piece of a real command is always found.
    if everyone:
        target = everyone[pick % len(everyone)]
        start = pick % len(target.command)
        piece = target.command[start : start + 1 + pick % 7].strip()
        assume(piece)
        found = svc.list_actions(ActionQuery(search=piece, limit=100_000))
        assert target.id in {a.id for a in found.rows}
