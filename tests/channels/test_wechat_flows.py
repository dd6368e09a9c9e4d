"""Members doing real work by WeChat and WeCom messages, through the shared HTTP app.

Each test runs on the official account in plain mode, in safe mode, and on the WeCom app,
against the real assistant, with callbacks built and encrypted like the platforms build them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel
from bot.channels.wecom import WeComChannel
from bot.channels.weixin.callback import CallbackChannel
from bot.core.clock import FrozenClock
from bot.core.domain import ActivityKind, AttendanceStatus
from bot.core.inbound import Channel
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Activity, ActivityPartner, Attendance, ChatAccount
from tests.factories import World
from tests.fakes.wechat_api import (
    FakeWeChatAPI,
    Follower,
    WeChatServer,
    WeComServer,
    wechat_settings,
    wecom_settings,
)


@dataclass
class Platform:
    """One platform's callback URL served by the shared app, and the platform's servers."""

    channel: CallbackChannel
    server: WeChatServer | WeComServer
    http: httpx.AsyncClient

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
    if request.param == "wecom":
        settings = wecom_settings(database_url, api.base_url)
        channel = WeComChannel(settings, assistant, database=database, clock=clock)
        server = WeComServer(now)
    else:
        safe = request.param == "wechat-safe"
        settings = wechat_settings(database_url, api.base_url, aes=safe)
        channel = WeChatChannel(settings, assistant, database=database, clock=clock)
        server = WeChatServer(now, safe=safe)
    app = build_http_app(assistant, channel.routes)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gongjian.test"
    ) as http:
        yield Platform(channel, server, http)
    await channel.stop()


async def bound(platform: Platform, world: World, who: str) -> Follower:
    """Binds a new account of the platform to the world's member `who`."""
    follower = platform.follower(f"user-{who}")
    reply = await follower.say(f"绑定 {world.invites[who]}")
    assert who in reply
    return follower


def account_of(database: Database, channel: Channel, user: str) -> ChatAccount | None:
    """Returns the chat account of a platform user."""
    with database.session() as session:
        return session.exec(
            select(ChatAccount).where(
                ChatAccount.channel == channel, ChatAccount.external_id == user
            )
        ).first()


async def test_strangers_learn_how_to_bind_and_members_bind_with_their_code(
    platform: Platform, world: World, database: Database
) -> None:
    stranger = platform.follower("user-new")
    assert "绑定" in await stranger.say("你好")
    assert "绑定" in await stranger.say("签到 123456")
    assert account_of(database, platform.channel.channel, "user-new") is None
    await stranger.say("绑定 NOSUCHCODE")
    assert account_of(database, platform.channel.channel, "user-new") is None

    await bound(platform, world, "m1")
    account = account_of(database, platform.channel.channel, "user-m1")
    assert account is not None
    assert account.member_id == world.members["m1"]


async def test_check_in_with_the_code_the_secretary_opened(
    platform: Platform, world: World, database: Database
) -> None:
    secretary = await bound(platform, world, "sec")
    opened = await secretary.say("开启签到")
    code = re.search(r"\b(\d{6})\b", opened)
    assert code is not None, opened

    member = await bound(platform, world, "m1")
    assert "09:30" in await member.say(f"签到 {code[1]}")
    await member.say(f"签到 {code[1]}")
    wrong = await member.say("签到 12")
    assert "6" in wrong
    with database.session() as session:
        rows = session.exec(
            select(Attendance).where(Attendance.member_id == world.members["m1"])
        ).all()
    assert [(row.status, row.channel) for row in rows] == [
        (AttendanceStatus.PRESENT, platform.channel.channel)
    ]


async def test_a_full_activity_report_through_numbered_options(
    platform: Platform, world: World, database: Database, clock: FrozenClock
) -> None:
    member = await bound(platform, world, "m1")
    question = await member.say("语言")
    assert "English" in question
    assert "Replies will now be in English." in await member.choose("English", "zh_CN")

    assert "Which kind of activity" in await member.say("汇报")
    assert "On which day" in await member.choose("Joint study")
    assert "Which partner organizations" in await member.choose("Today")
    selected = await member.choose("(B2)")
    assert "Selected: 第2支部" in selected
    assert "How many people" in await member.choose("Done")
    # No options are on offer here, so a typed number is the answer, not a button.
    assert "summary" in await member.say("12")
    review = await member.say("联合学习二十届四中全会精神，交流心得。")
    assert "Participants: 12" in review
    stored = await member.choose("Confirm")
    assert "Stored as ledger entry" in stored

    with database.session() as session:
        activity = session.exec(select(Activity)).one()
        partners = session.exec(select(ActivityPartner.organization_id)).all()
    assert activity.kind is ActivityKind.STUDY
    assert activity.participants == 12
    assert activity.held_on == clock.now().date()
    assert activity.reporter_id == world.members["m1"]
    assert list(partners) == [world.orgs["B2"]]


async def test_back_and_cancel_by_number_and_stale_numbers_are_text(
    platform: Platform, world: World, database: Database
) -> None:
    member = await bound(platform, world, "m1")
    await member.say("/lang en")
    await member.say("汇报")
    await member.choose("Visit")
    assert "Which kind of activity" in await member.choose("Back")
    assert "Cancelled" in await member.choose("Cancel")
    # The flow is over and no options are offered: "3" is just text now.
    after = await member.say("3")
    assert "You can send" in after
    with database.session() as session:
        assert session.exec(select(Activity)).first() is None


async def test_who_hosts_this_quarter(platform: Platform, world: World) -> None:
    member = await bound(platform, world, "m1")
    roster = await member.say("谁主持")
    assert "第2支部" in roster
    assert "2026" in roster
