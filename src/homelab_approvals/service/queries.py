"""Listing actions: filtering, sorting and paging happen in SQL, never in Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from homelab_approvals.domain import validation
from homelab_approvals.domain.enums import SortOrder
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.listing import (
    DEFAULT_WINDOW,
    LIKE_ESCAPE,
    ActionQuery,
    list_parameters,
)
from homelab_approvals.storage import Database
from homelab_approvals.storage.tables import RemediationAction as A
from homelab_approvals.storage.tables import Server as S

# ActionQuery lives in listing.py (no SQLAlchemy there); it is named here too, as before.
__all__ = [
    "ACTION_COLUMNS",
    "DEFAULT_WINDOW",
    "ROW_QUERY",
    "ActionQuery",
    "counts_statement",
    "filters",
    "ordered",
    "rows_statement",
    "storable_id",
    "to_view",
]

ACTION_COLUMNS = tuple(A.__table__.c)
_LABEL = func.coalesce(S.display_name, S.hostname, A.server_id)
ROW_QUERY = select(
    *ACTION_COLUMNS,
    _LABEL.label("server_label"),
    S.is_paused.label("server_paused"),
).outerjoin(S, S.id == A.server_id)


def filters(
    query: ActionQuery, values: dict[str, object], *, with_status: bool
) -> list[ColumnElement[bool]]:
    """The WHERE terms of `query`, each binding its value from `values`
    (`list_parameters(query)`) by name: so the CLI's fast read, which runs these
    statements rendered (scripts/render_fast_sql.py), binds exactly the same values."""
    where: list[ColumnElement[bool]] = []
    if with_status and "statuses" in values:
        where.append(A.status.in_(_bind(values, "statuses", expanding=True)))
    if "server_id" in values:
        where.append(A.server_id == _bind(values, "server_id"))
    if "action_type" in values:
        where.append(A.action_type == _bind(values, "action_type"))
    if "search" in values:
        pattern = _bind(values, "search")
        matches: list[ColumnElement[bool]] = [
            column.icontains(pattern, escape=LIKE_ESCAPE)
            for column in (A.server_id, S.hostname, S.display_name, A.service_name, A.command)
        ]
        if "search_id" in values:
            # Bound as a 64-bit integer: PostgreSQL's `integer` id column compares with
            # it, where a bind typed like the column would be out of range.
            matches.append(A.id == _bind(values, "search_id", type_=BigInteger))
        where.append(or_(*matches))
    return where


def _bind(values: dict[str, object], name: str, **kw: Any) -> BindParameter[Any]:
    return bindparam(name, values[name], **kw)


def storable_id(db: Database, action_id: int) -> int | None:
    """`action_id` validated (ValidationError otherwise), or None when `db` cannot hold
    an id that large, so no action has it."""
    aid = validation.action_id(action_id)
    return aid if aid <= db.largest_id else None


def ordered(stmt: Select[Any], sort: SortOrder) -> Select[Any]:
    if sort is SortOrder.NEWEST:
        return stmt.order_by(A.created_at.desc(), A.id.desc())
    if sort is SortOrder.SERVER:
        # As people read names: "nas.lan" before "Web One" (lower(), not SQLite's NOCASE
        # collation: it runs on any database). The label itself breaks ties.
        return stmt.order_by(func.lower(_LABEL), _LABEL, A.created_at, A.id)
    if sort is SortOrder.ACTION:
        return stmt.order_by(A.action_type, A.service_name, A.created_at, A.id)
    return stmt.order_by(A.created_at, A.id)


def rows_statement(query: ActionQuery) -> Select[Any]:
    values = list_parameters(query)
    stmt = ROW_QUERY.where(and_(True, *filters(query, values, with_status=True)))
    limit, offset = _bind(values, "limit"), _bind(values, "offset")
    return ordered(stmt, query.sort).limit(limit).offset(offset)


def counts_statement(query: ActionQuery) -> Select[str, int]:
    stmt = select(A.status, func.count()).select_from(A)
    where = filters(query, list_parameters(query), with_status=False)
    if query.search:
        stmt = stmt.outerjoin(S, S.id == A.server_id)
    return stmt.where(and_(True, *where)).group_by(A.status)


_WIDTH = len(ACTION_COLUMNS)
# to_view builds views positionally (a third faster than by name, which shows on every
# 1,000-row refresh), so the view's leading fields must be the table's columns, in order,
# and ROW_QUERY's must be all of them.
if ActionView._fields[:_WIDTH] != tuple(c.name for c in ACTION_COLUMNS):
    raise RuntimeError("ActionView's fields must start with remediation_actions' columns")
if tuple(c.name for c in ROW_QUERY.selected_columns) != ActionView._fields:
    raise RuntimeError("ROW_QUERY's columns must be ActionView's fields, in order")
_FULL = len(ActionView._fields)
_new_tuple = tuple.__new__


def to_view(row: Sequence[Any]) -> ActionView:
    """A view from a row of ACTION_COLUMNS, optionally followed by server_label and
    server_paused (ROW_QUERY; SQLAlchemy's Boolean already gives a bool or None)."""
    if len(row) == _FULL:
        # What ActionView._make does, minus its Python frame: the tuple is built in C.
        return _new_tuple(ActionView, row)
    return ActionView(*row)
