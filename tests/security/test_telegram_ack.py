"""The Telegram webhook is answered once the update is committed, not when the limiter allows."""

from __future__ import annotations

import asyncio

import httpx

from bot.channels.http import build_http_app
from bot.channels.telegram import (
    WEBHOOK_HEADER,
    WEBHOOK_PATH,
    TelegramChannel,
    telegram_rate_limiter,
)
from tests.channels.test_telegram_webhook import GROUP, SECRET, WANG, webhook_settings
from tests.fakes import ManualTime, ScriptedCore
from tests.fakes.telegram_api import FakeTelegramAPI, TgUser


class HeldTime(ManualTime):
    """Limiter time that stands still until released: every wait for the limiter blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.released = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Waits for the release, then moves time forward."""
        await self.released.wait()
        await super().sleep(seconds)


async def test_webhook_requests_do_not_wait_for_the_send_limiter() -> None:
    held = HeldTime()
    async with FakeTelegramAPI(clock=held.monotonic) as tg_api:
        await webhook_burst(tg_api, held)


async def webhook_burst(tg_api: FakeTelegramAPI, held: HeldTime) -> None:
    """Posts a private chat's and a group's bursts, then lets the replies go."""
    core = ScriptedCore()
    limiter = telegram_rate_limiter(monotonic=held.monotonic, sleep=held.sleep)
    channel = TelegramChannel(webhook_settings(tg_api), core, limiter=limiter)
    await channel.start()
    app = build_http_app(core, channel.routes)
    headers = {WEBHOOK_HEADER: SECRET}
    others = [TgUser(6100 + n, f"M{n}", language_code="zh-CN") for n in range(5)]
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gongjian"
        ) as http:
            # Ten messages in one private chat (1 a second), and commands in a group (20 a
            # minute): before, every request after the first waited for its reply to be sent.
            bodies = [
                {"update_id": 7000 + n, **tg_api.message(f"/m{n}", user=WANG)} for n in range(10)
            ]
            bodies += [
                {"update_id": 7100 + n, **tg_api.message(f"/g{n}", user=others[n % 5], chat=GROUP)}
                for n in range(25)
            ]
            for body in bodies:
                response = await asyncio.wait_for(
                    http.post(WEBHOOK_PATH, json=body, headers=headers), timeout=5
                )
                assert response.status_code == 200
            assert len(core.inbounds) == 35
            held.released.set()
            await channel.flush()
        # The replies keep each chat's order.
        assert tg_api.texts(WANG.id) == [f"echo: /m{n}" for n in range(10)]
        assert tg_api.texts(GROUP.id) == [f"echo: /g{n}" for n in range(25)]
    finally:
        held.released.set()
        await channel.stop()
