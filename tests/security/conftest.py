"""Fixtures of the attack suite: the real assistant behind the real client libraries and fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.channels.telegram import TelegramChannel, telegram_rate_limiter
from bot.config import Settings
from bot.engine.assistant import Assistant

# The channel harnesses the attack suite drives (fixtures, registered by being imported here).
from tests.channels.test_wechat import api, wx  # noqa: F401
from tests.channels.test_wecom import wc  # noqa: F401
from tests.factories import World
from tests.fakes import ManualTime
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI


@pytest.fixture
def ticks() -> ManualTime:
    """The clock the rate limiter and the fake's flood control share."""
    return ManualTime()


@pytest.fixture
async def tg_api(ticks: ManualTime) -> AsyncIterator[FakeTelegramAPI]:
    """The fake Bot API, listening on 127.0.0.1."""
    async with FakeTelegramAPI(clock=ticks.monotonic) as fake:
        yield fake


@pytest.fixture
async def telegram(
    tg_api: FakeTelegramAPI,
    settings: Settings,
    assistant: Assistant,
    world: World,
    ticks: ManualTime,
) -> AsyncIterator[TelegramChannel]:
    """The Telegram channel in front of the real assistant, long polling the fake."""
    configured = settings.model_copy(
        update={"telegram_token": SecretStr(TOKEN), "telegram_base_url": tg_api.base_url}
    )
    limiter = telegram_rate_limiter(monotonic=ticks.monotonic, sleep=ticks.sleep)
    channel = TelegramChannel(configured, assistant, limiter=limiter, poll_timeout=10)
    await channel.start()
    yield channel
    await channel.stop()
