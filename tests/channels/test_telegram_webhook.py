"""The Telegram channel in webhook mode, on the shared HTTP app, against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.channels.http import build_http_app
from bot.channels.telegram import (
    WEBHOOK_HEADER,
    WEBHOOK_PATH,
    TelegramChannel,
    telegram_rate_limiter,
)
from bot.config import Settings
from bot.engine.assistant import UNSUPPORTED
from bot.runner import serve
from bot.texts.translation import translator
from tests.fakes import ManualTime, ScriptedCore
from tests.fakes.telegram_api import BOT_ID, TOKEN, FakeTelegramAPI, TgGroup, TgUser

SECRET = "s3cret-Token_for-tests"
PUBLIC_URL = "https://gongjian.example.org/telegram/webhook"
WANG = TgUser(3001, "王芳", language_code="zh-CN")
GROUP = TgGroup(-100777, "第二支部")


@pytest.fixture
def ticks() -> ManualTime:
    """The clock the rate limiter and the fake's flood control share."""
    return ManualTime()


@pytest.fixture
async def api(ticks: ManualTime) -> AsyncIterator[FakeTelegramAPI]:
    """The fake Bot API, listening on 127.0.0.1."""
    async with FakeTelegramAPI(clock=ticks.monotonic) as fake:
        yield fake


@pytest.fixture
def core() -> ScriptedCore:
    """A core that echoes."""
    return ScriptedCore()


def webhook_settings(api: FakeTelegramAPI, **overrides: Any) -> Settings:
    """Settings for webhook mode against the fake."""
    return Settings(
        _env_file=None,
        telegram_token=SecretStr(TOKEN),
        telegram_base_url=api.base_url,
        telegram_webhook_url=PUBLIC_URL,
        telegram_webhook_secret=SecretStr(SECRET),
        **overrides,
    )


@pytest.fixture
async def channel(
    api: FakeTelegramAPI, core: ScriptedCore, ticks: ManualTime
) -> AsyncIterator[TelegramChannel]:
    """The channel, started in webhook mode."""
    limiter = telegram_rate_limiter(monotonic=ticks.monotonic, sleep=ticks.sleep)
    channel = TelegramChannel(webhook_settings(api), core, limiter=limiter)
    await channel.start()
    yield channel
    await channel.stop()


@pytest.fixture
async def client(core: ScriptedCore, channel: TelegramChannel) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the shared app with the webhook mounted."""
    app = build_http_app(core, channel.routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gongjian") as http:
        yield http


def numbered(api: FakeTelegramAPI, update: dict[str, Any], update_id: int) -> dict[str, Any]:
    """Gives an update its id, as Telegram's webhook body carries it."""
    return {"update_id": update_id, **update}


async def test_start_registers_the_webhook_with_its_secret(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    webhook = api.webhook
    assert webhook is not None
    assert webhook["url"] == PUBLIC_URL
    assert webhook["secret_token"] == SECRET
    assert webhook["allowed_updates"] == ["message", "callback_query"]
    assert not [call for call in api.calls if call.method == "getUpdates"]
    assert [route.path for route in channel.routes] == [WEBHOOK_PATH]  # type: ignore[attr-defined]


async def test_update_with_the_right_secret_is_answered(
    api: FakeTelegramAPI, core: ScriptedCore, client: httpx.AsyncClient, channel: TelegramChannel
) -> None:
    body = numbered(api, api.message("/roster", user=WANG), 5001)
    response = await client.post(WEBHOOK_PATH, json=body, headers={WEBHOOK_HEADER: SECRET})
    assert response.status_code == 200
    assert [inbound.text for inbound in core.inbounds] == ["/roster"]  # handled before the 200
    await channel.flush()
    assert api.texts(WANG.id) == ["echo: /roster"]
    assert core.inbounds[0].locale_hint == "zh-CN"


@pytest.mark.parametrize("headers", [{}, {WEBHOOK_HEADER: "wrong"}, {WEBHOOK_HEADER: SECRET + "x"}])
async def test_update_without_the_right_secret_is_refused(
    api: FakeTelegramAPI, core: ScriptedCore, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = numbered(api, api.message("/roster", user=WANG), 5002)
    response = await client.post(WEBHOOK_PATH, json=body, headers=headers)
    assert response.status_code == 403
    assert core.inbounds == []
    assert core.keys == []
    assert api.sent() == []


async def test_retried_update_is_processed_once(
    api: FakeTelegramAPI, core: ScriptedCore, client: httpx.AsyncClient, channel: TelegramChannel
) -> None:
    body = numbered(api, api.message("/checkin 123456", user=WANG, chat=GROUP), 5003)
    for _ in range(3):
        response = await client.post(WEBHOOK_PATH, json=body, headers={WEBHOOK_HEADER: SECRET})
        assert response.status_code == 200
    await channel.flush()
    assert [inbound.text for inbound in core.inbounds] == ["/checkin 123456"]
    assert api.texts(GROUP.id) == ["echo: /checkin 123456"]


async def test_body_that_is_not_an_update_is_a_bad_request(
    core: ScriptedCore, client: httpx.AsyncClient
) -> None:
    headers = {WEBHOOK_HEADER: SECRET}
    assert (await client.post(WEBHOOK_PATH, content=b"{", headers=headers)).status_code == 400
    assert (await client.post(WEBHOOK_PATH, json=[1], headers=headers)).status_code == 400
    assert core.inbounds == []


async def test_failing_update_still_answers_200_so_telegram_does_not_retry_forever(
    api: FakeTelegramAPI, core: ScriptedCore, client: httpx.AsyncClient
) -> None:
    def explode(inbound: object) -> list[Any]:
        raise RuntimeError("core exploded")

    core.script = explode
    body = numbered(api, api.message("/boom", user=WANG), 5004)
    response = await client.post(WEBHOOK_PATH, json=body, headers={WEBHOOK_HEADER: SECRET})
    assert response.status_code == 200
    assert api.texts(WANG.id) == ["[zh_CN] Sorry, something went wrong. Please try again."]


async def test_webhook_before_start_asks_telegram_to_retry(
    api: FakeTelegramAPI, core: ScriptedCore
) -> None:
    channel = TelegramChannel(webhook_settings(api), core)
    app = build_http_app(core, channel.routes)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        body = numbered(api, api.message("/roster", user=WANG), 5005)
        response = await c.post(WEBHOOK_PATH, json=body, headers={WEBHOOK_HEADER: SECRET})
    assert response.status_code == 503


async def test_gongjian_run_serves_the_webhook_and_healthz(
    api: FakeTelegramAPI, core: ScriptedCore, ticks: ManualTime
) -> None:
    settings = webhook_settings(api, http_host="127.0.0.1", http_port=0)
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, core, stop=stop, ready=port.set_result))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{await port}") as http:
        assert (await http.get("/healthz")).status_code == 200
        body = numbered(api, api.message("/help", user=WANG), 5006)
        response = await http.post(WEBHOOK_PATH, json=body, headers={WEBHOOK_HEADER: SECRET})
        assert response.status_code == 200
        assert (await http.post(WEBHOOK_PATH, json=body)).status_code == 403
    assert api.texts(WANG.id) == ["echo: /help"]
    assert api.webhook is not None
    stop.set()
    await task


async def test_unreadable_content_gets_a_note_once(
    api: FakeTelegramAPI, core: ScriptedCore, client: httpx.AsyncClient, channel: TelegramChannel
) -> None:
    update = api.message("", user=WANG)
    update["message"]["voice"] = {"file_id": "v", "file_unique_id": "u", "duration": 3}
    body = numbered(api, update, 5010)
    for _ in range(2):
        response = await client.post(WEBHOOK_PATH, json=body, headers={WEBHOOK_HEADER: SECRET})
        assert response.status_code == 200
    await channel.flush()
    assert api.texts(WANG.id) == [translator("zh_CN")(UNSUPPORTED)]
    assert core.keys == [f"{BOT_ID}:5010", f"{BOT_ID}:5010"]
    assert [inbound.unsupported for inbound in core.inbounds] == [True]
