"""The reason modal: stays open until the service has accepted the rejection, so any
error (a reason the service refuses, a busy database) is shown right where it was typed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from homelab_approvals.domain.errors import ApprovalsError, StorageError, ValidationError
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.validation import REASON_MAX
from homelab_approvals.tui.inputs import OneLineInput

REASON_REQUIRED = "A reason is required"
PLACEHOLDER = f"Why? A reason is required (up to {REASON_MAX} characters)"


class RejectScreen(ModalScreen[str | None]):
    """Returns the reason once the action is rejected, or None if nothing was decided.

    `reject` runs in a thread worker and raises what the service raises. A conflict or a
    refusal closes the modal through `on_refused` (the caller shows the toast); a
    validation or storage error stays inline so the operator can fix it or retry."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="reject.cancel", tooltip="Decide nothing")
    ]

    def __init__(
        self,
        title: str,
        reject: Callable[[str], object],
        on_refused: Callable[[ApprovalsError], None],
        *,
        command: str = "",
        lines: Sequence[str] = (),
    ) -> None:
        """`command` is the action's command; `lines` instead list several actions (one
        per line), when many are rejected at once."""
        super().__init__()
        self.title_text = visible(title)
        self.command = "\n".join(visible(line) for line in lines) or visible(command)
        self._reject = reject
        self._on_refused = on_refused
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="reject-dialog"):
            yield Static(f"Reject {self.title_text}", id="reject-title", markup=False)
            if self.command:
                yield Static(self.command, id="reject-command", markup=False)
            yield OneLineInput(placeholder=PLACEHOLDER, max_length=REASON_MAX, id="reason")
            yield Static("", id="reject-error", markup=False)
            yield Static("enter rejects · escape cancels", id="reject-hint", markup=False)
        yield Footer(compact=True)

    @property
    def error_text(self) -> str:
        return str(self.query_one("#reject-error", Static).content)

    def show_error(self, message: str) -> None:
        self.busy = False
        error = self.query_one("#reject-error", Static)
        error.update(visible(message))
        error.display = bool(message)
        reason = self.query_one("#reason", Input)
        reason.disabled = False
        reason.focus()

    def on_mount(self) -> None:
        self.query_one("#reject-error", Static).display = False

    @on(Input.Submitted, "#reason")
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        if self.busy:
            return
        if not event.value.strip():
            self.show_error(REASON_REQUIRED)
            return
        self.busy = True
        self.query_one("#reason", Input).disabled = True
        self._decide(event.value)

    @on(Input.Changed, "#reason")
    def _clear_error(self) -> None:
        if not self.busy and self.error_text:
            self.show_error("")

    @on(OneLineInput.Cut, "#reason")
    def _paste_cut(self, event: OneLineInput.Cut) -> None:
        # After the paste's own Input.Changed (which clears any error), so it stays.
        self.show_error(f"{event.dropped:,} pasted characters left out: {REASON_MAX} at most")

    @work(thread=True, exclusive=True, group="reject", exit_on_error=False)
    def _decide(self, reason: str) -> None:
        error: ApprovalsError | None = None
        try:
            self._reject(reason)
        except ApprovalsError as refused:
            error = refused
        # Posted, not called: the worker never waits on a screen that is going away.
        self.post_message(self.Answered(reason, error))

    class Answered(Message):
        def __init__(self, reason: str, error: ApprovalsError | None) -> None:
            super().__init__()
            self.reason = reason
            self.error = error

    @on(Answered)
    def _answered(self, message: Answered) -> None:
        error = message.error
        if error is None:
            self.dismiss(message.reason)
        elif isinstance(error, ValidationError | StorageError):
            self.show_error(error.message)  # fix the reason, or try again
        else:  # conflict, not found, not allowed: nothing left to do here
            self._on_refused(error)
            self.dismiss(None)

    def action_cancel(self) -> None:
        if not self.busy:  # once the service has it, wait for its answer
            self.dismiss(None)
