"""What the core hands back to a channel: text and, optionally, buttons."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Button:
    """A fixed choice: `label` is shown, `data` comes back when it is chosen."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Document:
    """A file to hand over with a reply (a ledger workbook, an export)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to send: its text, optional button rows and an optional file."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default=())
    private: bool = False
    document: Document | None = None

    @property
    def flat_buttons(self) -> list[Button]:
        """Returns the buttons in reading order."""
        return [button for row in self.buttons for button in row]


def button_rows(buttons: list[Button], per_row: int = 2) -> tuple[tuple[Button, ...], ...]:
    """Splits a list of buttons into rows of at most `per_row`."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def numbered(replies: Sequence[Reply]) -> list[list[tuple[int, Button]]]:
    """Numbers the buttons of replies from 1, across them in reading order, reply by reply.

    The one contract of text-only channels: what a reply shows as option N is what a typed N
    chooses (`offered` lists the data in that order, for the core to remember).
    """
    numbers = itertools.count(1)
    return [[(next(numbers), button) for button in reply.flat_buttons] for reply in replies]


def offered(replies: Sequence[Reply]) -> list[str]:
    """Lists the data of every button in `replies`, in the order `numbered` numbers them."""
    return [button.data for options in numbered(replies) for _, button in options]
