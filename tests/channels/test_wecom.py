"""The WeCom app channel: encrypted callbacks, the 5-second rule, events, limited pushes."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.channels.ratelimit import RateLimiter
from bot.channels.registry import build_channels
from bot.channels.wecom import WeComChannel, WeComSender, member_limiter
from bot.channels.wecom.sender import _WouldWaitError
from bot.config import ConfigError, load_settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, Location
from bot.core.ports import DeliveryStatus
from bot.core.reply import Button, Reply
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Attendance
from tests.factories import World
from tests.fakes.wechat_api import (
    AGENT_ID,
    Callback,
    FakeWeChatAPI,
    Follower,
    RecordingCore,
    WeComServer,
    footprint,
    serving,
    wecom_settings,
)

SEND = "/cgi-bin/message/send"
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<xml><ToUserName>ww</ToUserName><FromUserName>u1</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol2;</Content><MsgId>1</MsgId><AgentID>1000002</AgentID></xml>"
)


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """The WeCom app wired to the assistant through the shared HTTP app."""

    def __init__(
        self,
        *,
        channel: WeComChannel,
        core: RecordingCore,
        server: WeComServer,
        http: httpx.AsyncClient,
        api: FakeWeChatAPI,
        monotonic: FakeMonotonic,
    ) -> None:
        self.channel = channel
        self.core = core
        self.server = server
        self.http = http
        self.api = api
        self.monotonic = monotonic

    def member(self, user: str) -> Follower:
        """Returns a WeCom member writing to the app."""
        return Follower(self.http, self.server, user, "/wecom")

    async def post(self, callback: Callback, **changes: str) -> httpx.Response:
        """POSTs a callback, with some query parameters changed."""
        return await self.http.post(
            "/wecom", params={**callback.query, **changes}, content=callback.body.encode()
        )


@pytest.fixture
async def api() -> AsyncIterator[FakeWeChatAPI]:
    """The fake WeCom API on 127.0.0.1."""
    async with FakeWeChatAPI() as fake:
        yield fake


def make_channel(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
    *,
    deadline: float = 4.0,
) -> tuple[WeComChannel, RecordingCore, FakeMonotonic]:
    """Builds the channel with a sender whose rate limiter runs on a hand-moved clock."""
    core = RecordingCore(assistant)
    settings = wecom_settings(database_url, api.base_url)
    monotonic = FakeMonotonic()
    sender = WeComSender(
        settings, database=database, clock=clock, limiter=member_limiter(monotonic)
    )
    channel = WeComChannel(
        settings, core, database=database, clock=clock, sender=sender, reply_deadline=deadline
    )
    return channel, core, monotonic


@pytest.fixture
async def wc(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> AsyncIterator[Harness]:
    """The WeCom app under test."""
    channel, core, monotonic = make_channel(assistant, database, database_url, clock, api)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_http_app(core, channel.routes)),
        base_url="http://gongjian.test",
    ) as http:
        server = WeComServer(lambda: int(clock.now().timestamp()))
        yield Harness(
            channel=channel, core=core, server=server, http=http, api=api, monotonic=monotonic
        )
    await channel.stop()


async def bind(member: Follower, world: World, who: str) -> None:
    """Binds a WeCom member to the world's member `who`."""
    assert who in await member.say(f"绑定 {world.invites[who]}")


# --- URL verification and hostile requests -------------------------------------------------


async def test_the_url_check_answers_the_decrypted_echostr(wc: Harness, clock: FrozenClock) -> None:
    query = wc.server.verification("echo-8417")
    response = await wc.http.get("/wecom", params=query)
    assert (response.status_code, response.text) == (200, "echo-8417")
    forged = await wc.http.get("/wecom", params={**query, "msg_signature": "1" * 40})
    assert forged.status_code == 403
    wc.server.corp_id = "ww-another-corp"
    other_corp = await wc.http.get("/wecom", params=wc.server.verification("echo"))
    assert other_corp.status_code == 403
    clock.advance(timedelta(minutes=6))
    assert (await wc.http.get("/wecom", params=query)).status_code == 403


async def test_a_forged_or_replayed_message_gets_403_and_touches_nothing(
    wc: Harness, world: World, database: Database
) -> None:
    callback = wc.server.text("u-m1", f"绑定 {world.invites['m1']}")
    forged = await wc.post(callback, msg_signature="0" * 40)
    assert forged.status_code == 403
    assert footprint(database) == (0, 0, 0)
    assert "m1" in await wc.member("u-m1").send(callback)
    before = footprint(database)
    replay = await wc.member("u-m1").deliver(callback)
    assert replay.status_code == 403
    assert footprint(database) == before
    assert len(wc.core.inbounds) == 1


@pytest.mark.parametrize("kind", ["voice", "video", "unsubscribe"])
async def test_a_replayed_unsupported_message_gets_403_and_records_only_its_keys(
    wc: Harness, world: World, database: Database, kind: str
) -> None:
    member = wc.member("u-m1")
    assert "m1" in await member.say(f"绑定 {world.invites['m1']}")
    before = footprint(database)
    if kind == "unsubscribe":
        callback = wc.server.event("u-m1", "unsubscribe")
    else:
        fields = {"MsgType": kind, "MediaId": "m", "MsgId": str(wc.server.next_id())}
        callback = wc.server.message("u-m1", fields)
    note = await member.send(callback)
    assert ("帮助" in note) is (kind != "unsubscribe")
    recorded = footprint(database)
    assert recorded == (before[0] + 2, *before[1:])
    handled = len(wc.core.inbounds)
    assert wc.core.inbounds[-1].unsupported
    replay = await member.deliver(callback)
    assert replay.status_code == 403
    assert footprint(database) == recorded
    assert len(wc.core.inbounds) == handled


async def test_dtds_outside_or_inside_the_encryption_are_refused(
    wc: Harness, database: Database
) -> None:
    inner = await wc.member("u1").deliver(wc.server.sign(BOMB))
    assert inner.status_code == 400
    outer_body = (
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
    )
    outer = await wc.post(Callback(wc.server.text("u1", "x").query, outer_body))
    assert outer.status_code == 400
    assert footprint(database) == (0, 0, 0)
    assert wc.core.inbounds == []


async def test_oversized_bodies_get_413(wc: Harness, database: Database) -> None:
    response = await wc.member("u1").deliver(wc.server.text("u1", "长" * 30_000))
    assert response.status_code == 413
    assert footprint(database) == (0, 0, 0)


async def test_messages_for_another_app_are_refused(wc: Harness, database: Database) -> None:
    fields = {"MsgType": "<![CDATA[text]]>", "Content": "<![CDATA[帮助]]>", "MsgId": "77"}
    response = await wc.member("u1").deliver(wc.server.message("u1", fields, agent_id=AGENT_ID + 1))
    assert response.status_code == 400
    assert wc.core.inbounds == []


# --- the 5-second rule ---------------------------------------------------------------------


async def test_the_same_msgid_three_times_has_one_effect(
    wc: Harness, world: World, database: Database
) -> None:
    secretary = wc.member("u-sec")
    await bind(secretary, world, "sec")
    opened = await secretary.say("开启签到")
    code = next(word for word in opened.split() if word.isdigit() and len(word) == 6)
    member = wc.member("u-m1")
    await bind(member, world, "m1")
    msg_id = wc.server.next_id()
    answers = [
        await member.send(wc.server.text("u-m1", f"签到 {code}", msg_id=msg_id)) for _ in range(3)
    ]
    assert "09:30" in answers[0]
    assert answers[1:] == [answers[0], answers[0]]
    with database.session() as session:
        count = session.exec(
            select(func.count())
            .select_from(Attendance)
            .where(Attendance.member_id == world.members["m1"])
        ).one()
    assert count == 1


async def test_a_slow_answer_is_success_now_and_an_app_message_later(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    channel, core, _ = make_channel(assistant, database, database_url, clock, api, deadline=0.05)
    core.gate = threading.Event()
    server = WeComServer(lambda: int(clock.now().timestamp()))
    app = build_http_app(core, channel.routes)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        member = Follower(http, server, "u-slow", "/wecom")
        started = time.perf_counter()
        response = await member.deliver(server.text("u-slow", "帮助"))
        assert (response.status_code, response.text) == (200, "success")
        assert time.perf_counter() - started < 3
        assert api.calls_to(SEND) == []
        core.gate.set()
        [pushed] = await api.wait_for(SEND)
    await channel.stop()
    assert pushed.body["touser"] == "u-slow"
    assert pushed.body["agentid"] == AGENT_ID
    assert "绑定" in pushed.body["text"]["content"]


# --- what members send ---------------------------------------------------------------------


async def test_following_the_app_greets_and_menu_clicks_run_commands(
    wc: Harness, world: World
) -> None:
    member = wc.member("u-m1")
    assert "绑定" in await member.send(wc.server.event("u-m1", "subscribe"))
    await bind(member, world, "m1")
    assert "第2支部" in await member.send(wc.server.event("u-m1", "click", "谁主持"))
    assert await member.send(wc.server.event("u-m1", "enter_agent")) == ""
    assert await member.send(wc.server.event("u-m1", "LOCATION")) == ""
    assert [i.text for i in wc.core.inbounds if not i.unsupported] == [
        "/start",
        "绑定 INVM1X",
        "谁主持",
    ]


async def test_locations_reach_the_core_as_locations(wc: Harness) -> None:
    assert await wc.member("u1").send(wc.server.location("u1", 39.9042, 116.4074, "北京市"))
    assert wc.core.inbounds[-1].location == Location(39.9042, 116.4074, "北京市")


# --- pushes --------------------------------------------------------------------------------


async def test_pushes_are_app_messages_and_their_options_answer_by_number(
    wc: Harness, world: World
) -> None:
    member = wc.member("u-m1")
    await bind(member, world, "m1")
    reply = Reply("本季度联席会议尚未召开。", ((Button("谁主持", "/roster"),),))
    result = await wc.channel.sender.send(recipient="u-m1", reply=reply)
    assert result.status is DeliveryStatus.SENT
    [sent] = wc.api.calls_to(SEND, ok=True)
    assert sent.body == {
        "touser": "u-m1",
        "msgtype": "text",
        "agentid": AGENT_ID,
        "text": {"content": "本季度联席会议尚未召开。\n回复 1：谁主持"},
    }
    # "1" picks the pushed 谁主持 option: the roster answer names the host.
    assert "第2支部" in await member.say("1")


async def test_at_most_30_messages_a_minute_per_member(wc: Harness) -> None:
    sender = wc.channel.sender
    for number in range(30):
        result = await sender.send(recipient="u-busy", reply=Reply(f"第{number}条"))
        assert result.status is DeliveryStatus.SENT
    held = await sender.send(recipient="u-busy", reply=Reply("第31条"))
    assert held.status is DeliveryStatus.RETRY
    assert held.retry_after == pytest.approx(60.0)
    assert len(wc.api.calls_to(SEND)) == 30
    other = await sender.send(recipient="u-quiet", reply=Reply("别人不受影响"))
    assert other.status is DeliveryStatus.SENT
    wc.monotonic.now += 60
    assert (
        await sender.send(recipient="u-busy", reply=Reply("一分钟后"))
    ).status is DeliveryStatus.SENT
    assert wc.api.token_fetches == 1


async def test_at_most_1000_messages_an_hour_per_member() -> None:
    monotonic = FakeMonotonic()
    limiter: RateLimiter = member_limiter(monotonic)
    for sent in range(1000):
        if sent and sent % 30 == 0:
            monotonic.now += 60
        await limiter.acquire("u-busy")
    monotonic.now += 60
    with pytest.raises(_WouldWaitError) as held:
        await limiter.acquire("u-busy")
    assert 0 < held.value.seconds <= 3600
    monotonic.now += held.value.seconds
    await limiter.acquire("u-busy")


async def test_an_expired_token_is_refreshed_once(wc: Harness, clock: FrozenClock) -> None:
    sender = wc.channel.sender
    assert (await sender.send(recipient="u1", reply=Reply("一"))).status is DeliveryStatus.SENT
    clock.advance(timedelta(minutes=30))
    wc.api.expire_tokens()
    assert (await sender.send(recipient="u1", reply=Reply("二"))).status is DeliveryStatus.SENT
    assert [call.errcode for call in wc.api.calls_to(SEND)] == [0, 42001, 0]
    assert wc.api.token_fetches == 2


@pytest.mark.parametrize(
    ("errcode", "status", "retry_after"),
    [
        (45009, DeliveryStatus.RETRY, 60.0),
        (45033, DeliveryStatus.RETRY, 5.0),
        (60020, DeliveryStatus.RETRY, 3600.0),
        (81013, DeliveryStatus.UNDELIVERABLE, None),
        (60111, DeliveryStatus.UNDELIVERABLE, None),
    ],
)
async def test_error_codes_are_handled_by_name(
    wc: Harness, errcode: int, status: DeliveryStatus, retry_after: float | None
) -> None:
    wc.api.fail_next(SEND, errcode)
    result = await wc.channel.sender.send(recipient="u1", reply=Reply("提醒"))
    assert (result.status, result.retry_after) == (status, retry_after)
    assert str(errcode) in result.detail
    assert len(wc.api.calls_to(SEND)) == 1


async def test_a_member_outside_the_apps_range_is_undeliverable(wc: Harness) -> None:
    wc.api.invalid_users.add("u-gone")
    result = await wc.channel.sender.send(recipient="u-gone", reply=Reply("提醒"))
    assert result.status is DeliveryStatus.UNDELIVERABLE


# --- wiring --------------------------------------------------------------------------------


async def test_the_registry_builds_the_channel_with_its_route_and_sender(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    settings = wecom_settings(database_url, api.base_url)
    [channel] = build_channels(settings, assistant, database=database, clock=clock)
    assert channel.name == "wecom" and channel.channel == Channel.WECOM
    assert [getattr(route, "path", None) for route in channel.routes] == ["/wecom"]
    assert channel.sender.channel == Channel.WECOM
    assert channel.capabilities.numbered_options and not channel.capabilities.files
    await channel.start(receive=False)
    await channel.stop()


def test_the_channel_refuses_to_start_unconfigured(
    assistant: Assistant, database: Database, database_url: str, clock: FrozenClock
) -> None:
    bare = load_settings(database_url=database_url, _env_file=None)
    with pytest.raises(ConfigError):
        WeComChannel(bare, assistant, database=database, clock=clock)
    with pytest.raises(ConfigError):
        WeComSender(bare, database=database, clock=clock)


async def test_a_full_width_space_is_a_text_and_gets_an_answer(wc: Harness) -> None:
    member = wc.member("u-1")
    reply = await member.send(wc.server.text("u-1", "\u3000"))
    assert "空的" in reply
    assert not wc.core.inbounds[-1].unsupported
