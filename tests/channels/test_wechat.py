"""The official account channel: security before parsing, the 5-second rule, events, pushes."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from bot.channels.http import build_http_app
from bot.channels.registry import build_channels
from bot.channels.wechat import WeChatChannel, seconds_to_midnight
from bot.config import ConfigError, load_settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, Location
from bot.core.ports import DeliveryStatus
from bot.core.reply import Button, Reply
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Attendance, ChatAccount
from tests.factories import World
from tests.fakes.wechat_api import (
    TEMPLATE_ID,
    Callback,
    FakeWeChatAPI,
    Follower,
    RecordingCore,
    WeChatServer,
    footprint,
    option_number,
    serving,
    wechat_settings,
)

CUSTOM = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]><xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"
)


class Harness:
    """The official account wired to the assistant through the shared HTTP app."""

    def __init__(
        self,
        *,
        channel: WeChatChannel,
        core: RecordingCore,
        server: WeChatServer,
        http: httpx.AsyncClient,
        api: FakeWeChatAPI,
    ) -> None:
        self.channel = channel
        self.core = core
        self.server = server
        self.http = http
        self.api = api

    def follower(self, user: str) -> Follower:
        """Returns a follower of the account."""
        return Follower(self.http, self.server, user, "/wechat")

    async def post(self, callback: Callback, **changes: str) -> httpx.Response:
        """POSTs a callback, with some query parameters changed."""
        return await self.http.post(
            "/wechat", params={**callback.query, **changes}, content=callback.body.encode()
        )


@pytest.fixture
async def api() -> AsyncIterator[FakeWeChatAPI]:
    """The fake WeChat API on 127.0.0.1."""
    async with FakeWeChatAPI() as fake:
        yield fake


@pytest.fixture
def tracked_memory() -> Iterator[None]:
    """Traces allocations for the test."""
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


async def make_harness(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
    *,
    safe: bool,
    template: bool = False,
    deadline: float = 4.0,
) -> Harness:
    """Builds the channel (safe mode has the AES key) and an HTTP client for its app."""
    core = RecordingCore(assistant)
    settings = wechat_settings(database_url, api.base_url, aes=safe, template=template)
    channel = WeChatChannel(settings, core, database=database, clock=clock, reply_deadline=deadline)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_http_app(core, channel.routes)),
        base_url="http://gongjian.test",
    )
    server = WeChatServer(lambda: int(clock.now().timestamp()), safe=safe)
    return Harness(channel=channel, core=core, server=server, http=http, api=api)


@pytest.fixture(params=["plain", "safe"])
async def wx(
    request: pytest.FixtureRequest,
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> AsyncIterator[Harness]:
    """The account in plain or safe mode."""
    harness = await make_harness(
        assistant, database, database_url, clock, api, safe=request.param == "safe"
    )
    yield harness
    await harness.http.aclose()
    await harness.channel.stop()


async def bind(follower: Follower, world: World, who: str) -> None:
    """Binds a follower to the world's member `who`."""
    assert who in await follower.say(f"绑定 {world.invites[who]}")


# --- URL verification ----------------------------------------------------------------------


async def test_the_url_check_echoes_only_with_a_good_signature(
    wx: Harness, clock: FrozenClock
) -> None:
    query = wx.server.verification("5837397520911249111")
    response = await wx.http.get("/wechat", params=query)
    assert (response.status_code, response.text) == (200, "5837397520911249111")
    forged = await wx.http.get("/wechat", params={**query, "signature": "0" * 40})
    assert forged.status_code == 403
    clock.advance(timedelta(minutes=10))
    assert (await wx.http.get("/wechat", params=query)).status_code == 403
    bad_echo = wx.server.verification("<script>")
    assert (await wx.http.get("/wechat", params=bad_echo)).status_code == 400


# --- forged, replayed and hostile requests -------------------------------------------------


async def test_a_forged_signature_gets_403_and_touches_nothing(
    wx: Harness, world: World, database: Database
) -> None:
    callback = wx.server.text("o-m1", f"绑定 {world.invites['m1']}")
    response = await wx.post(callback, signature="0" * 40)
    assert response.status_code == 403
    assert response.text == ""
    assert footprint(database) == (0, 0, 0)
    assert wx.core.inbounds == []


async def test_a_signature_made_with_another_token_gets_403(
    wx: Harness, world: World, database: Database
) -> None:
    wx.server.token = "someone-elses-token"
    response = await wx.follower("o-m1").deliver(wx.server.text("o-m1", "帮助"))
    assert response.status_code == 403
    assert footprint(database) == (0, 0, 0)


async def test_a_replayed_request_gets_403_and_has_one_effect(
    wx: Harness, world: World, database: Database
) -> None:
    follower = wx.follower("o-m1")
    callback = wx.server.text("o-m1", f"绑定 {world.invites['m1']}")
    assert "m1" in await follower.send(callback)
    before = footprint(database)
    replay = await follower.deliver(callback)
    assert replay.status_code == 403
    assert footprint(database) == before
    assert len(wx.core.inbounds) == 1


async def test_stale_and_future_timestamps_get_403(
    wx: Harness, database: Database, clock: FrozenClock
) -> None:
    follower = wx.follower("o-1")
    real_now = wx.server.now
    wx.server.now = lambda: real_now() - 301
    assert (await follower.deliver(wx.server.text("o-1", "帮助"))).status_code == 403
    wx.server.now = lambda: real_now() + 301
    assert (await follower.deliver(wx.server.text("o-1", "帮助"))).status_code == 403
    assert footprint(database) == (0, 0, 0)


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "xxe"])
async def test_dtds_are_refused_quickly_without_parsing(
    wx: Harness, database: Database, payload: str, tracked_memory: None
) -> None:
    started = time.perf_counter()
    tracemalloc.reset_peak()
    response = await wx.follower("o1").deliver(wx.server.sign(payload))
    _, peak = tracemalloc.get_traced_memory()
    assert response.status_code == 400
    assert time.perf_counter() - started < 1.0
    assert peak < 4 * 1024 * 1024
    assert footprint(database) == (0, 0, 0)
    assert wx.core.inbounds == []


async def test_a_dtd_inside_the_encrypted_payload_is_refused_too(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    harness = await make_harness(assistant, database, database_url, clock, api, safe=True)
    async with harness.http:
        response = await harness.follower("o1").deliver(harness.server.sign(BILLION_LAUGHS))
    assert response.status_code == 400
    assert harness.core.inbounds == []


async def test_oversized_bodies_get_413_by_length_or_while_streaming(
    wx: Harness, database: Database
) -> None:
    callback = wx.server.text("o1", "帮助" * 20_000)
    assert (await wx.follower("o1").deliver(callback)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"<xml>" + b"a" * 1000

    streamed = await wx.http.post("/wechat", params=callback.query, content=chunks())
    assert streamed.status_code == 413
    assert footprint(database) == (0, 0, 0)


async def test_a_tampered_encrypted_payload_gets_403(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    harness = await make_harness(assistant, database, database_url, clock, api, safe=True)
    callback = harness.server.text("o1", "帮助")
    forged_body = callback.body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA")
    async with harness.http:
        response = await harness.post(Callback(callback.query, forged_body))
        wrong_key = await harness.post(callback, msg_signature="0" * 40)
    assert (response.status_code, wrong_key.status_code) == (403, 403)
    assert footprint(database) == (0, 0, 0)


async def test_a_payload_for_another_app_or_key_gets_403(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    harness = await make_harness(assistant, database, database_url, clock, api, safe=True)
    harness.server.app_id = "wx-another-app"
    async with harness.http:
        other_app = await harness.follower("o1").deliver(harness.server.text("o1", "帮助"))
        harness.server.app_id = "wx0123456789abcdef"
        harness.server.aes_key = "Z" * 43
        other_key = await harness.follower("o1").deliver(harness.server.text("o1", "帮助"))
    assert (other_app.status_code, other_key.status_code) == (403, 403)
    assert harness.core.inbounds == []


async def test_safe_mode_messages_need_the_aes_key(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    harness = await make_harness(assistant, database, database_url, clock, api, safe=False)
    harness.server.safe = True
    async with harness.http:
        response = await harness.follower("o1").deliver(harness.server.text("o1", "帮助"))
    assert response.status_code == 403


async def test_garbage_that_is_signed_gets_400(wx: Harness, database: Database) -> None:
    for body in ("not xml at all", "<xml><FromUserName>o1</FromUserName>", "<a>1</a>"):
        response = await wx.follower("o1").deliver(wx.server.sign(body))
        assert response.status_code == 400, body
    no_sender = wx.server.sign("<xml><MsgType>text</MsgType><Content>x</Content></xml>")
    assert (await wx.follower("o1").deliver(no_sender)).status_code == 400
    assert wx.core.inbounds == []


# --- the 5-second rule ---------------------------------------------------------------------


async def test_the_same_msgid_three_times_has_one_effect(
    wx: Harness, world: World, database: Database
) -> None:
    secretary = wx.follower("o-sec")
    await bind(secretary, world, "sec")
    opened = await secretary.say("开启签到")
    code = next(word for word in opened.split() if word.isdigit() and len(word) == 6)
    member = wx.follower("o-m1")
    await bind(member, world, "m1")
    msg_id = wx.server.next_id()
    answers = [
        await member.send(wx.server.text("o-m1", f"签到 {code}", msg_id=msg_id)) for _ in range(3)
    ]
    assert "09:30" in answers[0]
    # A retry means the platform never got the answer: it gets the stored one, nothing is redone.
    assert answers[1:] == [answers[0], answers[0]]
    with database.session() as session:
        count = session.exec(
            select(func.count())
            .select_from(Attendance)
            .where(Attendance.member_id == world.members["m1"])
        ).one()
    assert count == 1
    assert sum(1 for inbound in wx.core.inbounds if inbound.text.startswith("签到")) == 1


async def test_the_same_event_delivered_twice_is_handled_once(wx: Harness) -> None:
    follower = wx.follower("o-new")
    fields = {"MsgType": "<![CDATA[event]]>", "Event": "<![CDATA[subscribe]]>"}
    first = await follower.send(wx.server.message("o-new", fields, create_time=1_793_669_000))
    again = await follower.send(wx.server.message("o-new", fields, create_time=1_793_669_000))
    assert "绑定" in first
    assert again == first
    assert len(wx.core.inbounds) == 1


async def test_a_slow_answer_is_success_now_and_a_customer_service_push_later(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    harness = await make_harness(
        assistant, database, database_url, clock, api, safe=True, deadline=0.05
    )
    harness.core.gate = threading.Event()
    app = build_http_app(harness.core, harness.channel.routes)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        follower = Follower(http, harness.server, "o-slow", "/wechat")
        started = time.perf_counter()
        response = await follower.deliver(harness.server.text("o-slow", "帮助"))
        assert (response.status_code, response.text) == (200, "success")
        assert time.perf_counter() - started < 3
        assert api.calls_to(CUSTOM) == []
        harness.core.gate.set()
        pushed = await api.wait_for(CUSTOM)
    await harness.channel.stop()
    assert pushed[0].body["touser"] == "o-slow"
    assert pushed[0].body["msgtype"] == "text"
    assert "绑定" in pushed[0].body["text"]["content"]
    assert api.token_fetches == 1


async def test_a_reply_too_long_for_a_passive_answer_is_pushed_in_parts(wx: Harness) -> None:
    lines = [f"第{number}条：" + "党建共建联建" * 10 for number in range(60)]
    wx.core.canned = [Reply("\n".join(lines), ((Button("好", "ok"),),))]
    assert await wx.follower("o-1").say("台账") == ""
    pushed = wx.api.texts()
    assert len(pushed) >= 2
    assert all(len(text.encode()) <= 2048 for text in pushed)
    assert "\n".join(pushed).splitlines()[: len(lines)] == lines
    assert pushed[-1].endswith("回复 1：好")


# --- what members send ---------------------------------------------------------------------


async def test_following_greets_with_how_to_bind(wx: Harness) -> None:
    greeting = await wx.follower("o-new").send(wx.server.event("o-new", "subscribe"))
    assert "绑定" in greeting
    assert wx.core.inbounds[-1].text == "/start"


async def test_following_through_an_invite_qr_code_binds(
    wx: Harness, world: World, database: Database
) -> None:
    code = world.invites["m2"]
    welcome = await wx.follower("o-qr").send(
        wx.server.event("o-qr", "subscribe", f"qrscene_{code}")
    )
    assert "m2" in welcome
    with database.session() as session:
        account = session.exec(select(ChatAccount).where(ChatAccount.external_id == "o-qr")).one()
    assert account.member_id == world.members["m2"]
    again = await wx.follower("o-qr").send(wx.server.event("o-qr", "SCAN", code))
    assert "m2" in again


async def test_menu_clicks_run_the_command_of_their_key(wx: Harness, world: World) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    roster = await follower.send(wx.server.event("o-m1", "CLICK", "谁主持"))
    assert "第2支部" in roster


async def test_locations_reach_the_core_as_locations(wx: Harness) -> None:
    reply = await wx.follower("o-1").send(
        wx.server.location("o-1", 31.2304, 121.4737, "上海市黄浦区")
    )
    assert reply
    assert wx.core.inbounds[-1].location == Location(31.2304, 121.4737, "上海市黄浦区")


async def test_media_get_a_note_and_platform_events_get_nothing(wx: Harness) -> None:
    follower = wx.follower("o-1")
    assert "帮助" in await follower.send(unsupported(wx.server, "o-1", "voice"))
    assert await follower.send(wx.server.event("o-1", "unsubscribe")) == ""
    assert await follower.send(wx.server.event("o-1", "LOCATION")) == ""
    assert await follower.send(wx.server.event("o-1", "VIEW", "https://example.org")) == ""
    assert [inbound.unsupported for inbound in wx.core.inbounds] == [True] * 4


def unsupported(server: WeChatServer, user: str, kind: str) -> Callback:
    """A file, link or voice message (without recognition), or an unhandled event."""
    if kind == "unsubscribe":
        return server.event(user, "unsubscribe")
    fields = {
        "file": {"Title": "a.pdf", "FileKey": "k", "FileMd5": "0" * 32, "FileTotalLen": "1"},
        "link": {"Title": "t", "Description": "d", "Url": "http://127.0.0.1/"},
        "voice": {"MediaId": "m", "Format": "amr"},
    }[kind]
    return server.message(user, {"MsgType": kind, **fields, "MsgId": str(server.next_id())})


@pytest.mark.parametrize("kind", ["file", "link", "voice", "unsubscribe"])
async def test_a_replayed_unsupported_message_gets_403_like_a_text(
    wx: Harness, world: World, database: Database, kind: str
) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    await follower.say("/lang en")
    before = footprint(database)
    callback = unsupported(wx.server, "o-m1", kind)
    note = await follower.send(callback)
    assert ("text messages" in note) is (kind != "unsubscribe")
    recorded = footprint(database)
    # Its nonce and MsgId (or event key), and nothing else.
    assert recorded == (before[0] + 2, *before[1:])
    handled = len(wx.core.inbounds)
    replay = await follower.deliver(callback)
    assert replay.status_code == 403
    assert footprint(database) == recorded
    assert len(wx.core.inbounds) == handled


def last_seen(database: Database, user: str) -> object:
    """Returns when the follower's account was last seen writing."""
    with database.session() as session:
        account = session.exec(select(ChatAccount).where(ChatAccount.external_id == user)).one()
    return account.last_seen_at


async def test_platform_events_do_not_count_as_the_member_writing(
    wx: Harness, world: World, database: Database, clock: FrozenClock
) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    bound = last_seen(database, "o-m1")
    clock.advance(timedelta(hours=47))
    for event in ("LOCATION", "unsubscribe"):
        await follower.send(wx.server.event("o-m1", event))
    # The 48-hour customer-service window still runs from the member's last message.
    assert last_seen(database, "o-m1") == bound
    await follower.send(unsupported(wx.server, "o-m1", "voice"))
    assert last_seen(database, "o-m1") == clock.now()


async def test_a_retried_unsupported_message_is_answered_once(
    wx: Harness, world: World, database: Database
) -> None:
    follower = wx.follower("o-1")
    fields = {"MsgType": "link", "Title": "t", "Url": "http://127.0.0.1/", "MsgId": "5005"}
    first = await follower.send(wx.server.message("o-1", fields))
    assert "帮助" in first
    recorded = footprint(database)
    # The platform's retry: the same MsgId under a new nonce, answered as before.
    assert await follower.send(wx.server.message("o-1", fields)) == first
    assert footprint(database) == recorded


async def test_unsupported_content_leaves_the_flow_and_its_options_as_they_were(
    wx: Harness, world: World, database: Database
) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    await follower.say("/lang en")
    offered = await follower.say("汇报")
    visit = option_number(offered, "Visit")
    state = footprint(database)
    assert "text messages" in await follower.send(unsupported(wx.server, "o-m1", "voice"))
    assert footprint(database)[1:] == state[1:]
    assert "On which day did it take place?" in await follower.say(str(visit))


async def test_reply_text_is_escaped_inside_the_xml(wx: Harness, world: World) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    await follower.say("/lang en")
    await follower.say("汇报")
    await follower.choose("Visit")
    answer = await follower.say("]]></Content><MsgType>news</MsgType><![CDATA[")
    assert "]]></Content>" in answer


# --- pushes --------------------------------------------------------------------------------


async def test_pushes_within_48_hours_are_customer_service_messages_with_options(
    wx: Harness, world: World
) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    reply = Reply(
        "明天上午九点组织生活日。", ((Button("查看日程", "/next"), Button("请假", "/leave")),)
    )
    result = await wx.channel.sender.send(recipient="o-m1", reply=reply)
    assert result.status is DeliveryStatus.SENT
    [sent] = wx.api.calls_to(CUSTOM, ok=True)
    assert sent.body["touser"] == "o-m1"
    assert "回复 2：请假" in sent.body["text"]["content"]
    # "2" picks the pushed 请假 option: the leave flow asks for a reason.
    assert "请假事由" in await follower.say("2")


async def test_an_expired_token_is_refreshed_once_and_never_fetched_per_message(
    wx: Harness, world: World, clock: FrozenClock
) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    sender = wx.channel.sender
    assert (await sender.send(recipient="o-m1", reply=Reply("一"))).status is DeliveryStatus.SENT
    clock.advance(timedelta(minutes=20))
    wx.api.expire_tokens()
    assert (await sender.send(recipient="o-m1", reply=Reply("二"))).status is DeliveryStatus.SENT
    assert (await sender.send(recipient="o-m1", reply=Reply("三"))).status is DeliveryStatus.SENT
    assert wx.api.token_fetches == 2
    assert [call.errcode for call in wx.api.calls_to(CUSTOM)] == [0, 42001, 0, 0]
    assert wx.api.texts() == ["一", "二", "三"]


async def test_a_token_refused_twice_is_not_retried_again(wx: Harness, world: World) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    wx.api.fail_next(CUSTOM, 40001, times=2)
    result = await wx.channel.sender.send(recipient="o-m1", reply=Reply("一"))
    assert result.status is DeliveryStatus.RETRY
    assert len(wx.api.calls_to(CUSTOM)) == 2


async def set_last_seen(database: Database, user: str, ago: timedelta, clock: FrozenClock) -> None:
    """Moves a chat account's last message into the past."""
    with database.session() as session:
        session.execute(
            update(ChatAccount)
            .where(col(ChatAccount.external_id) == user)
            .values(last_seen_at=clock.now() - ago)
        )


async def test_after_48_hours_without_a_template_the_push_is_undeliverable(
    wx: Harness, world: World, database: Database, clock: FrozenClock
) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    await set_last_seen(database, "o-m1", timedelta(hours=49), clock)
    result = await wx.channel.sender.send(recipient="o-m1", reply=Reply("提醒"))
    assert result.status is DeliveryStatus.UNDELIVERABLE
    assert "48-hour" in result.detail
    assert wx.api.calls == []
    never_wrote = await wx.channel.sender.send(recipient="o-unknown", reply=Reply("提醒"))
    assert never_wrote.status is DeliveryStatus.UNDELIVERABLE


async def test_after_48_hours_a_configured_template_message_is_sent(
    assistant: Assistant,
    world: World,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    harness = await make_harness(
        assistant, database, database_url, clock, api, safe=True, template=True
    )
    async with harness.http:
        follower = harness.follower("o-m1")
        await bind(follower, world, "m1")
        await set_last_seen(database, "o-m1", timedelta(hours=48, minutes=1), clock)
        result = await harness.channel.sender.send(recipient="o-m1", reply=Reply("明天组织生活日"))
        assert result.status is DeliveryStatus.SENT
        [sent] = api.calls_to(TEMPLATE)
        assert sent.body["template_id"] == TEMPLATE_ID
        assert sent.body["data"]["content"]["value"] == "明天组织生活日"
        assert api.calls_to(CUSTOM) == []

        # Inside the window by our records, but WeChat says it closed: fall back to the template.
        await set_last_seen(database, "o-m1", timedelta(hours=1), clock)
        api.window_closed.add("o-m1")
        fallback = await harness.channel.sender.send(recipient="o-m1", reply=Reply("再次提醒"))
        assert fallback.status is DeliveryStatus.SENT
        assert [call.errcode for call in api.calls_to(CUSTOM)] == [45015]
        assert len(api.calls_to(TEMPLATE, ok=True)) == 2
    await harness.channel.stop()


@pytest.mark.parametrize(
    ("errcode", "status"),
    [
        (45009, DeliveryStatus.RETRY),
        (60020, DeliveryStatus.RETRY),
        (40164, DeliveryStatus.RETRY),
        (43004, DeliveryStatus.UNDELIVERABLE),
        (40003, DeliveryStatus.UNDELIVERABLE),
        (-1, DeliveryStatus.RETRY),
    ],
)
async def test_error_codes_are_handled_by_name_and_not_retried_blindly(
    wx: Harness,
    world: World,
    clock: FrozenClock,
    errcode: int,
    status: DeliveryStatus,
    caplog: pytest.LogCaptureFixture,
) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    wx.api.fail_next(CUSTOM, errcode)
    result = await wx.channel.sender.send(recipient="o-m1", reply=Reply("提醒"))
    assert result.status is status
    assert str(errcode) in result.detail
    assert len(wx.api.calls_to(CUSTOM)) == 1
    if errcode == 45009:
        assert result.retry_after == seconds_to_midnight(clock.now())
        assert "quota" in caplog.text
    if errcode in (60020, 40164):
        assert "allowlist" in caplog.text


async def test_a_token_fetch_from_an_untrusted_ip_is_reported(wx: Harness, world: World) -> None:
    follower = wx.follower("o-m1")
    await bind(follower, world, "m1")
    wx.api.fail_next("/cgi-bin/token", 40164)
    result = await wx.channel.sender.send(recipient="o-m1", reply=Reply("提醒"))
    assert result.status is DeliveryStatus.RETRY
    assert "untrusted IP" in result.detail
    assert wx.api.calls_to(CUSTOM) == []


def test_quota_resets_at_local_midnight(clock: FrozenClock) -> None:
    assert seconds_to_midnight(clock.now()) == (24 - 9.5) * 3600


# --- wiring --------------------------------------------------------------------------------


async def test_the_registry_builds_the_channel_with_its_route_and_sender(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    settings = wechat_settings(database_url, api.base_url)
    [channel] = build_channels(settings, assistant, database=database, clock=clock)
    assert channel.name == "wechat" and channel.channel == Channel.WECHAT
    assert [getattr(route, "path", None) for route in channel.routes] == ["/wechat"]
    assert channel.sender.channel == Channel.WECHAT
    assert channel.capabilities.numbered_options and not channel.capabilities.files
    await channel.start(receive=False)
    await channel.stop()


def test_the_channel_refuses_to_start_unconfigured(
    assistant: Assistant, database: Database, database_url: str, clock: FrozenClock
) -> None:
    bare = load_settings(database_url=database_url, _env_file=None)
    with pytest.raises(ConfigError):
        WeChatChannel(bare, assistant, database=database, clock=clock)


async def test_a_full_width_space_is_a_text_and_gets_an_answer(wx: Harness) -> None:
    follower = wx.follower("o-1")
    reply = await follower.send(wx.server.text("o-1", "\u3000"))
    assert "空的" in reply
    assert not wx.core.inbounds[-1].unsupported
