"""The seams between the core and the channels: what each side may ask of the other."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.core.i18n import Translator
from bot.core.inbound import Channel, Inbound
from bot.core.reply import Reply


@dataclass(frozen=True, slots=True)
class Answer:
    """What the core made of one delivery: replies in the member's language, or a repeat."""

    replies: list[Reply] = field(default_factory=list)
    locale: str = "zh_CN"
    # The first of the delivery's keys that was already recorded; nothing was handled then, and
    # `replies` are the ones stored with that key for the same sender (a retry's replay).
    repeat: str | None = None


class Core(Protocol):
    """What a channel may ask of the assistant; every call is blocking (run it in a thread)."""

    def handle(self, inbound: Inbound) -> list[Reply]:
        """Answers one inbound message; never raises (failures become an apology reply)."""
        ...

    def answer(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Answer:
        """Answers one delivery in one transaction that records its `once` keys; never raises."""
        # A key recorded before (a platform's retry, a replayed nonce) undoes the delivery and
        # is named in `repeat`, with the answer stored for that key when the sender is the same. With `numbered` (text-only channels), a typed number picks an
        # option offered last, and these replies' options are remembered for the next message.
        ...

    def translator_for(
        self, *, channel: Channel, user_id: str, hint: str | None = None
    ) -> Translator:
        """Returns the translator in the language of the member behind a chat account."""
        ...

    def command_menu(self, locale: str) -> list[tuple[str, str]]:
        """Lists (command, translated description) for a channel's command menu."""
        ...

    def bound(self, *, channel: Channel, user_id: str) -> bool:
        """Tells whether a chat account belongs to a current member (before fetching its files)."""
        ...

    def healthy(self) -> bool:
        """Tells whether the database answers."""
        ...


@runtime_checkable
class GroupCore(Core, Protocol):
    """A core that commits the deliveries of a burst together (group commit)."""

    def submit(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Future[Answer]:
        """Queues one delivery (as `answer`); the future holds its answer once committed."""
        ...


class DeliveryStatus(StrEnum):
    """How an attempt to push a message ended."""

    SENT = "sent"
    RETRY = "retry"
    UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one push; `retry_after` is seconds to wait before trying again."""

    status: DeliveryStatus
    detail: str = ""
    retry_after: float | None = None


class Sender(Protocol):
    """Pushes a reply to one chat account of one channel, within that channel's limits."""

    channel: Channel

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Sends `reply` to the chat account `recipient` (the platform's user or chat id)."""
        ...
