"""The base of the console's parts: decisions.py, detail_sync.py and opening.py each
hold one part of ConsoleScreen (console.py), which mixes them together.

Each part is a Screen subclass rather than a plain mixin class: Textual collects `@on`
handlers in its message-pump metaclass (`_MessagePumpMeta` in textual/message_pump.py),
per class and only for MessagePump subclasses, so a plain mixin's handlers never run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    import threading

    from textual.widgets import Static

    from homelab_approvals.domain.views import ActionPage, ActionView
    from homelab_approvals.service import ApprovalService
    from homelab_approvals.service.listing import ActionQuery
    from homelab_approvals.service.policy import Policy
    from homelab_approvals.tui.detail import ActionDetail, DetailExtras
    from homelab_approvals.tui.keymap import KeysInForce
    from homelab_approvals.tui.live import ActionsFetched, LiveFeed
    from homelab_approvals.tui.startup import DeferredStart
    from homelab_approvals.tui.table import ActionTable


class ConsolePart(Screen[None]):
    """What the parts use of one another and of the console, declared once for the type
    checker; each is defined by the console or by one of the parts."""

    if TYPE_CHECKING:
        actor: str
        keys: KeysInForce
        clock: Callable[[], datetime]
        feed: LiveFeed
        page: ActionPage | None
        now: datetime
        read_only_reason: str | None
        service: ApprovalService | None
        deferred: DeferredStart | None
        _open_error: str | None
        executor_check_lock: threading.Lock

        @property
        def policy(self) -> Policy: ...
        def _rule_refusal(self, verb: str, view: ActionView) -> str | None: ...
        def _detail_extras(self, view: ActionView) -> DetailExtras | None: ...

        @property
        def table(self) -> ActionTable: ...
        @property
        def detail(self) -> ActionDetail: ...
        @property
        def view_query(self) -> ActionQuery: ...
        @property
        def view_changing(self) -> bool: ...
        def _update_keys(self) -> None: ...
        def _sync_detail(self) -> None: ...
        def _opened_service(self) -> ApprovalService: ...
        def _read_only_banner(self) -> Static: ...
        def _apply(self, message: ActionsFetched) -> None: ...
        def _watch_database(self) -> object: ...  # a @work method: returns its Worker
        def _watch_executors(self) -> object: ...  # likewise
        def _show_refresh_error(self, text: str) -> None: ...
        def _show_audit_repairs(self, repairs: list[str]) -> None: ...
        def _file_replaced(self, message: str) -> None: ...
