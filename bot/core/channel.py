"""The channel interface: what every chat platform offers `gongjian run` and the scheduler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.core.inbound import TEXT_ONLY, Capabilities, Channel
from bot.core.ports import Sender

__all__ = ["TEXT_ONLY", "Capabilities", "ChatChannel"]


class ChatChannel(Protocol):
    """One chat platform as a running service: routes in, pushes out, started and stopped.

    `start(receive=False)` opens only what pushes need (the scheduler alone, `gongjian
    scheduler`): no polling, no webhook registration. `stop` closes whatever `start` opened.
    """

    @property
    def name(self) -> str:
        """A short name for logs ("telegram")."""
        ...

    @property
    def channel(self) -> Channel:
        """The platform's name, as accounts and deliveries record it."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the platform's chats can show."""
        ...

    @property
    def routes(self) -> Sequence[Any]:
        """HTTP routes (Starlette routes) to mount on the shared server; empty when none."""
        ...

    @property
    def sender(self) -> Sender:
        """Pushes the outbox's messages to this platform's chat accounts."""
        ...

    async def start(self, *, receive: bool = True) -> None:
        """Starts receiving (unless `receive` is False) and sending; returns once running."""
        ...

    async def stop(self) -> None:
        """Stops the channel and releases what it holds."""
        ...
