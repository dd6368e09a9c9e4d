"""日历 / /calendar: a private link shown once, renewed, revoked; refused when not configured."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, ChatKind, Inbound
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from bot.services.calendar_feed import CalendarFeeds
from storage.engine import Database
from storage.models import AuditEntry, CalendarFeed
from tests.factories import World
from tests.helpers import Chat

BASE = "https://gj.example.org"
LINK = re.compile(re.escape(BASE) + r"/calendar/([A-Za-z0-9_-]+)\.ics")


def configured_assistant(
    database_url: str, database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> Assistant:
    """The assistant with a public base URL, its services taking their settings from it."""
    settings = load_settings(database_url=database_url, public_base_url=BASE, _env_file=None)
    return build_assistant(settings, clock=clock, database=database)


@pytest.fixture
def member(
    database_url: str,
    database: Database,
    clock: FrozenClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> Chat:
    """Member m1, bound and speaking English, on an assistant with a public URL."""
    assistant = configured_assistant(database_url, database, clock, monkeypatch)
    chat = Chat(assistant, user_id="u-m1").bound(world.invites["m1"])
    chat.say("/lang en")
    return chat


def token_in(reply: str) -> str:
    match = LINK.search(reply)
    assert match, reply
    return match.group(1)


def live_member(database: Database, clock: FrozenClock, token: str) -> int | None:
    with database.session() as session:
        return CalendarFeeds(session, clock.now()).member_for(token)


def test_calendar_gives_a_private_link_once(
    member: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    reply = member.say("日历")
    token = token_in(reply)
    assert "Keep it to yourself" in reply
    assert live_member(database, clock, token) == world.members["m1"]
    again = member.say("/calendar")
    assert LINK.search(again) is None
    assert "already have a calendar link" in again and "November 3, 2026" in again
    with Session(database.engine) as session:
        assert len(session.exec(select(CalendarFeed)).all()) == 1
        actions = session.exec(select(AuditEntry.action)).all()
        assert actions.count("calendar.issue") == 1


def test_new_link_replaces_the_old_one(
    member: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    old = token_in(member.say("日历"))
    member.say("日历")
    new = token_in(member.press("New link"))
    assert new != old
    assert live_member(database, clock, old) is None
    assert live_member(database, clock, new) == world.members["m1"]
    newer = token_in(member.say("日历 新"))
    assert live_member(database, clock, new) is None
    assert live_member(database, clock, newer) == world.members["m1"]


def test_revoke_then_a_new_one(
    member: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    token = token_in(member.say("日历"))
    assert "revoked" in member.say("日历 撤销")
    assert live_member(database, clock, token) is None
    assert "no calendar link to revoke" in member.say("/calendar revoke")
    fresh = token_in(member.say("日历"))
    assert live_member(database, clock, fresh) == world.members["m1"]
    member.say("日历")
    assert "revoked" in member.press("Revoke")
    assert live_member(database, clock, fresh) is None
    with Session(database.engine) as session:
        actions = session.exec(select(AuditEntry.action)).all()
        assert actions.count("calendar.revoke") == 2


def test_unknown_word_shows_usage(member: Chat, database: Database) -> None:
    reply = member.say("日历 明天")
    assert "/calendar revoke" in reply and LINK.search(reply) is None
    with Session(database.engine) as session:
        assert session.exec(select(CalendarFeed)).all() == []


def test_in_a_group_the_link_goes_private(
    member: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    replies = member.assistant.handle(
        Inbound(
            Channel.CONSOLE, chat_id="g-1", user_id="u-m1", text="日历", chat_kind=ChatKind.GROUP
        )
    )
    assert not replies[0].private and LINK.search(replies[0].text) is None
    assert replies[1].private
    assert live_member(database, clock, token_in(replies[1].text)) == world.members["m1"]


def test_without_a_public_url_the_operator_is_named(
    chat: Chat, world: World, database: Database
) -> None:
    member = chat.bound(world.invites["m2"])
    member.say("/lang en")
    assert "GONGJIAN_PUBLIC_BASE_URL" in member.say("日历")
    with Session(database.engine) as session:
        assert session.exec(select(CalendarFeed)).all() == []


def test_unbound_users_must_bind_first(chat: Chat, database: Database) -> None:
    assert "绑定" in chat.say("日历")
    with Session(database.engine) as session:
        assert session.exec(select(CalendarFeed)).all() == []
