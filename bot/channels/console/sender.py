"""Pushes to console accounts: printed for `gongjian chat`, and kept for tests to read."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from bot.channels.console.render import render
from bot.core.inbound import Channel
from bot.core.ports import DeliveryStatus, SendResult
from bot.core.reply import Reply


class ConsoleSender:
    """A `Sender` for the console channel: no limits, every push succeeds."""

    channel: ClassVar[Channel] = Channel.CONSOLE

    def __init__(self, write: Callable[[str], object] | None = None) -> None:
        self.write = write
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Records the push and prints it when a writer is set."""
        self.sent.append((recipient, reply))
        if self.write is not None:
            self.write(f"[push to {recipient}]\n{render(reply)}\n")
        return SendResult(DeliveryStatus.SENT)

    def to(self, recipient: str) -> list[str]:
        """Returns the texts pushed to one console account, oldest first."""
        return [reply.text for who, reply in self.sent if who == recipient]
