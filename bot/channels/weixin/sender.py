"""Pushes through the platforms' message API: numbered options rendered, then remembered."""

from __future__ import annotations

import asyncio
import itertools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.channels.weixin.api import ApiClient
from bot.channels.weixin.render import render_numbered
from bot.core.clock import Clock
from bot.core.inbound import Channel
from bot.core.ports import DeliveryStatus, SendResult
from bot.core.reply import Reply
from bot.texts.translation import translator
from storage.channels import SWEEP_EVERY, last_contact, remember_offered
from storage.engine import Database


class PushSender(ABC):
    """A `Sender` for one platform: renders a reply in the member's language, sends, remembers."""

    channel: Channel
    api: ApiClient

    def __init__(
        self, *, database: Database, clock: Clock, default_locale: str, options_ttl: timedelta
    ) -> None:
        self._database = database
        self._clock = clock
        self._default_locale = default_locale
        self._options_ttl = options_ttl
        self._writes = itertools.count(1)

    async def aclose(self) -> None:
        """Closes the HTTP client."""
        await self.api.aclose()

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Pushes `reply` to the chat account `recipient`, its buttons as numbered options."""
        last_seen, locale = await asyncio.to_thread(
            last_contact, self._database, channel=self.channel, external_id=recipient
        )
        rendered = render_numbered([reply], translator(locale or self._default_locale))
        if not rendered.texts:
            return SendResult(DeliveryStatus.UNDELIVERABLE, "empty reply")
        result = await self._push(recipient, rendered.texts, last_seen=last_seen)
        if result.status is DeliveryStatus.SENT:
            # A "1" typed in answer means what this push offered, on any replica.
            now = self._clock.now()
            await asyncio.to_thread(
                remember_offered,
                self._database,
                channel=self.channel,
                user_id=recipient,
                options=list(rendered.options),
                now=now,
                expires_at=now + self._options_ttl,
                sweep=next(self._writes) % SWEEP_EVERY == 0,
            )
        return result

    @abstractmethod
    async def send_texts(self, recipient: str, texts: Sequence[str]) -> SendResult:
        """Sends texts to an account that just wrote to us (a late answer)."""

    @abstractmethod
    async def _push(
        self, recipient: str, texts: Sequence[str], *, last_seen: datetime | None
    ) -> SendResult:
        """Sends a push's texts by the platform's rules (`last_seen`: its last message to us)."""
