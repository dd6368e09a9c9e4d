"""Images sent on WeChat and WeCom: downloaded by MediaId from the fake media API, then kept.

Each test runs on the official account in plain mode, in safe mode, and on the WeCom app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel, WeChatSender
from bot.channels.wecom import WeComChannel, WeComSender
from bot.channels.weixin.callback import CallbackChannel
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import MemberStatus
from bot.core.inbound import Channel, Inbound
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Activity, Member, Photo
from tests.factories import World
from tests.fakes.wechat_api import (
    FakeWeChatAPI,
    Follower,
    WeChatServer,
    WeComServer,
    serving,
    wechat_settings,
    wecom_settings,
)
from tests.services.test_photos import JPEG, png
from tests.services.test_stats import add_activity

MEDIA = "/cgi-bin/media/get"
CUSTOM = "/cgi-bin/message/custom/send"
MB = 1024 * 1024
NOT_FETCHED = "I could not fetch that photo from the chat platform. Please send it again."
NOT_BOUND_ZH = "您尚未绑定党员身份。请发送“绑定”加邀请码（或 /start 邀请码）。"


class CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting the bytes of media the client read."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.media_read = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Sends the request; a media answer's body is counted as the client reads it."""
        response = await self._inner.handle_async_request(request)
        if request.url.path != MEDIA:
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Counted(self, response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Counted(httpx.AsyncByteStream):
    """A response body that adds what is read of it to its transport's count."""

    def __init__(self, transport: CountingTransport, stream: Any) -> None:
        self._transport = transport
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._transport.media_read += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


@dataclass
class Platform:
    """One platform's callback URL served by the shared app, and the platform's servers."""

    channel: CallbackChannel
    server: WeChatServer | WeComServer
    http: httpx.AsyncClient
    transport: CountingTransport

    def follower(self, user: str) -> Follower:
        """Returns a user of this platform."""
        return Follower(self.http, self.server, user, self.channel.path)


@pytest.fixture
async def api() -> AsyncIterator[FakeWeChatAPI]:
    """The fake WeChat / WeCom API on 127.0.0.1."""
    async with FakeWeChatAPI() as fake:
        yield fake


@pytest.fixture(params=["wechat-plain", "wechat-safe", "wecom"])
async def platform(
    request: pytest.FixtureRequest,
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> AsyncIterator[Platform]:
    """The official account (plain or safe mode) or the WeCom app, wired to the assistant."""
    now = lambda: int(clock.now().timestamp())  # noqa: E731
    channel: CallbackChannel
    server: WeChatServer | WeComServer
    transport = CountingTransport()
    if request.param == "wecom":
        settings = wecom_settings(database_url, api.base_url)
        sender = WeComSender(settings, database=database, clock=clock, transport=transport)
        channel = WeComChannel(settings, assistant, database=database, clock=clock, sender=sender)
        server = WeComServer(now)
    else:
        safe = request.param == "wechat-safe"
        settings = wechat_settings(database_url, api.base_url, aes=safe)
        wechat = WeChatSender(settings, database=database, clock=clock, transport=transport)
        channel = WeChatChannel(settings, assistant, database=database, clock=clock, sender=wechat)
        server = WeChatServer(now, safe=safe)
    app = build_http_app(assistant, channel.routes)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gongjian.test"
    ) as http:
        yield Platform(channel, server, http, transport)
    await channel.stop()


async def member(platform: Platform, world: World, who: str = "m1") -> Follower:
    """Binds a new account of the platform to the world's member `who`, in English."""
    follower = platform.follower(f"user-{who}")
    assert who in await follower.say(f"绑定 {world.invites[who]}")
    await follower.say("/lang en")
    return follower


async def image(platform: Platform, follower: Follower, media_id: str) -> str:
    """Sends an image message and returns the passive reply."""
    return await follower.send(platform.server.image(follower.user, media_id))


def stored(database: Database) -> list[Photo]:
    """Lists the stored photo rows."""
    with database.session() as session:
        return list(session.exec(select(Photo).order_by(Photo.id)).all())  # type: ignore[arg-type]


def files_under(root: Path) -> list[Path]:
    """Lists the files kept under the photo folder."""
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


async def test_an_image_during_a_report_is_downloaded_by_media_id_and_attached(
    platform: Platform, world: World, database: Database, settings: Settings, api: FakeWeChatAPI
) -> None:
    follower = await member(platform, world)
    assert "Which kind of activity" in await follower.say("汇报")
    api.media["pic-1"] = png(5)
    answer = await image(platform, follower, "pic-1")
    assert "1 photo will be attached to this report. Carry on where you were." in answer
    assert "Which kind of activity" in answer
    [call] = api.calls_to(MEDIA, ok=True)
    assert call.query["media_id"] == "pic-1"
    [photo] = stored(database)
    # The platform said image/jpeg; the bytes say PNG, and they decide.
    assert photo.mime_type == "image/png"
    assert (settings.photo_root / photo.path).read_bytes() == png(5)

    await follower.choose("Joint study")
    await follower.choose("Today")
    await follower.choose("Done")
    await follower.say("12")
    assert "Photos: 1" in await follower.say("联合学习，交流心得。")
    assert "Stored as ledger entry" in await follower.choose("Confirm")
    with database.session() as session:
        entry = session.exec(select(Activity)).one()
    assert [photo.activity_id for photo in stored(database)] == [entry.id]


async def test_an_image_outside_a_flow_is_offered_to_the_latest_report(
    platform: Platform, world: World, database: Database, api: FakeWeChatAPI
) -> None:
    follower = await member(platform, world)
    entry = add_activity(
        database,
        org=world.orgs["B1"],
        day=date(2026, 10, 12),
        reporter=world.members["m1"],
        title="走访二支部",
    )
    api.media["pic-2"] = JPEG
    offer = await image(platform, follower, "pic-2")
    assert f"Attach 1 photo to your latest report, No. {entry}" in offer
    assert "走访二支部" in offer
    assert await follower.choose("Attach") == f"Attached 1 photo to ledger entry No. {entry}."
    assert [photo.activity_id for photo in stored(database)] == [entry]


@pytest.mark.parametrize("chunked", [False, True], ids=["with-length", "chunked"])
async def test_oversized_and_non_image_media_are_refused_and_nothing_is_kept(
    platform: Platform,
    world: World,
    database: Database,
    settings: Settings,
    api: FakeWeChatAPI,
    chunked: bool,
) -> None:
    follower = await member(platform, world)
    add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members["m1"]
    )
    api.media_chunked = chunked
    api.media["big"] = JPEG + b"\x00" * (11 * MB)
    refused = await image(platform, follower, "big")
    # Without a stated length the download stops past the limit: the size is not known.
    size = "over 10.0" if chunked else "11.0"
    assert refused == f"That photo is {size} MB; photos may be at most 10.0 MB. Send a smaller one."
    api.media["pdf"] = b"%PDF-1.7 the minutes"
    refused = await image(platform, follower, "pdf")
    assert refused == "Only JPEG, PNG and WebP photos can be kept as evidence."
    assert stored(database) == [] and files_under(settings.photo_root) == []


async def test_an_image_from_an_unbound_or_departed_sender_is_not_downloaded(
    platform: Platform, world: World, database: Database, api: FakeWeChatAPI
) -> None:
    api.media["pic"] = JPEG
    stranger = platform.follower("user-stranger")
    # The default language's "not bound" answer, as for any other command of a stranger.
    assert await image(platform, stranger, "pic") == NOT_BOUND_ZH
    departed = await member(platform, world, "m2")
    with database.session() as session:
        row = session.get_one(Member, world.members["m2"])
        row.status = MemberStatus.DEPARTED
        session.add(row)
    assert await image(platform, departed, "pic") == NOT_BOUND_ZH
    assert api.calls_to(MEDIA) == [] and stored(database) == []
    # A bound member's image is fetched as before.
    add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members["m1"]
    )
    assert "Attach 1 photo" in await image(platform, await member(platform, world), "pic")
    assert len(api.calls_to(MEDIA)) == 1


async def test_a_download_without_a_length_stops_as_soon_as_it_passes_the_limit(
    platform: Platform, world: World, database: Database, settings: Settings, api: FakeWeChatAPI
) -> None:
    follower = await member(platform, world)
    limit = settings.photo_max_bytes
    api.streamed_media["huge"] = 8 * limit
    answer = await image(platform, follower, "huge")
    assert (
        answer == "That photo is over 10.0 MB; photos may be at most 10.0 MB. Send a smaller one."
    )
    # The first chunk past the limit is the last one read.
    assert limit < platform.transport.media_read <= limit + 256 * 1024
    assert stored(database) == [] and files_under(settings.photo_root) == []


async def test_a_media_api_error_gets_a_clear_message_and_the_report_goes_on(
    platform: Platform, world: World, database: Database, api: FakeWeChatAPI
) -> None:
    follower = await member(platform, world)
    await follower.say("汇报")
    callback = platform.server.image(follower.user, "expired-media")  # 40007 invalid media_id
    answer = await follower.send(callback)
    assert NOT_FETCHED in answer and "Which kind of activity" in answer
    # A replay of the same request is refused like any other: nothing is fetched again.
    fetches = len(api.calls_to(MEDIA))
    assert (await follower.deliver(callback)).status_code == 403
    assert len(api.calls_to(MEDIA)) == fetches
    api.media["pic"] = JPEG
    api.fail_next(MEDIA, 45009, "reach max api daily quota limit")
    assert NOT_FETCHED in await image(platform, follower, "pic")
    assert stored(database) == []
    assert "On which day" in await follower.choose("Joint study")


async def test_a_refused_token_is_refreshed_once_for_a_download(
    platform: Platform, world: World, database: Database, api: FakeWeChatAPI
) -> None:
    follower = await member(platform, world)
    add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members["m1"]
    )
    api.media["a"], api.media["b"] = png(1), png(2)
    assert "Attach 1 photo" in await image(platform, follower, "a")
    api.expire_tokens()
    assert "Attach 2 photos" in await image(platform, follower, "b")
    assert [call.errcode for call in api.calls_to(MEDIA)] == [0, 42001, 0]
    assert api.token_fetches == 2
    assert len(stored(database)) == 2


async def test_a_slow_download_is_answered_by_push_once_even_when_the_platform_retries(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    world: World,
    api: FakeWeChatAPI,
) -> None:
    settings = wechat_settings(database_url, api.base_url)
    channel = WeChatChannel(
        settings, assistant, database=database, clock=clock, reply_deadline=0.05
    )
    server = WeChatServer(lambda: int(clock.now().timestamp()), safe=True)
    for text in (f"绑定 {world.invites['m1']}", "/lang en"):
        assistant.handle(Inbound(channel=Channel.WECHAT, chat_id="o-s", user_id="o-s", text=text))
    entry = add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members["m1"]
    )
    api.media["slow"] = JPEG
    api.media_gate = asyncio.Event()
    fields = {
        "MsgType": "<![CDATA[image]]>",
        "PicUrl": "<![CDATA[http://127.0.0.1/pic.jpg]]>",
        "MediaId": "<![CDATA[slow]]>",
        "MsgId": "7700000001",
    }
    async with (
        serving(build_http_app(assistant, channel.routes)) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        follower = Follower(http, server, "o-s", "/wechat")
        # The download outlasts the deadline: "success" now, and the platform's retry too.
        assert await follower.send(server.message("o-s", fields)) == ""
        assert await follower.send(server.message("o-s", fields)) == ""
        assert api.calls_to(CUSTOM) == []
        api.media_gate.set()
        await api.wait_for(CUSTOM)
    await channel.stop()
    [pushed] = api.texts()
    assert f"Attach 1 photo to your latest report, No. {entry}" in pushed
    [photo] = stored(database)
    assert photo.activity_id is None
