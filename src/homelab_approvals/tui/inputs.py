"""One-line text fields that take a paste whole.

Textual's Input keeps only the first line of a paste, and refuses (with a bell) a paste
that would go past `max_length`: a reason copied from a ticket or a chat lost all but
its first line, or nothing at all went in, with no word why. Here a paste becomes one
line (its lines joined by spaces, tabs made spaces) and what fits goes in; the field
then says how much was cut off."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input


def one_line(text: str) -> str:
    """Pasted text as one line: its non-blank lines, stripped, joined by single spaces."""
    lines = (line.replace("\t", " ").strip() for line in text.splitlines())
    return " ".join(line for line in lines if line)


class OneLineInput(Input):
    class Cut(Message):
        """A paste did not fit: `dropped` characters of it were left out."""

        def __init__(self, field: OneLineInput, dropped: int) -> None:
            super().__init__()
            self.field = field
            self.dropped = dropped

        @property
        def control(self) -> OneLineInput:
            return self.field

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        # Input's own paste handler (a base class's, called after this one) would paste
        # the first line again.
        event.prevent_default()
        text = one_line(event.text)
        if not text:
            return
        start, end = sorted(self.selection)
        dropped = 0
        if self.max_length:
            room = max(0, self.max_length - (len(self.value) - (end - start)))
            dropped = max(0, len(text) - room)
            text = text[:room]
        if text:
            self.replace(text, start, end)
        if dropped:
            self.post_message(self.Cut(self, dropped))
