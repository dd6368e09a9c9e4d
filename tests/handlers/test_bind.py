"""Binding a chat account with an invite: the happy path and every way it can be refused."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.core.clock import FrozenClock
from storage.engine import Database
from storage.models import ChatAccount, Invite
from tests.factories import World
from tests.helpers import Chat


def accounts(database: Database) -> list[ChatAccount]:
    with database.session() as session:
        return list(session.exec(select(ChatAccount)).all())


def test_bind_with_invite_stores_account_and_uses_invite(
    chat: Chat, world: World, database: Database
) -> None:
    reply = chat.say(f"绑定 {world.invites['m1']}")
    assert "m1" in reply and "第1支部" in reply
    [account] = accounts(database)
    assert account.member_id == world.members["m1"] and account.external_id == "u-console"
    with database.session() as session:
        invite = session.exec(select(Invite).where(Invite.code == world.invites["m1"])).one()
    assert invite.used_at is not None and invite.used_by == account.id


def test_start_deep_link_binds_and_lowercase_code_works(
    chat: Chat, world: World, database: Database
) -> None:
    chat.say(f"/start {world.invites['m2'].lower()}")
    assert [a.member_id for a in accounts(database)] == [world.members["m2"]]


def test_invite_is_single_use(chat: Chat, world: World, database: Database) -> None:
    chat.say(f"绑定 {world.invites['m1']}")
    other = chat.as_("u-other")
    other.say("/lang en")
    reply = other.say(f"/bind {world.invites['m1']}")
    assert "already been used" in reply or "已" in reply
    assert len(accounts(database)) == 1


def test_expired_invite_is_refused(
    chat: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=8))
    before = len(accounts(database))
    reply = chat.say(f"绑定 {world.invites['m1']}")
    assert "expired" in reply or "过期" in reply
    assert len(accounts(database)) == before
    with database.session() as session:
        invite = session.exec(select(Invite).where(Invite.code == world.invites["m1"])).one()
    assert invite.used_at is None


def test_unknown_and_malformed_codes(chat: Chat, world: World, database: Database) -> None:
    for text in ("绑定 NOPE2345", "绑定 <script>", "绑定 " + "A" * 40, "绑定"):
        reply = chat.say(text)
        assert reply
    assert accounts(database) == []


def test_second_bind_on_same_account_is_refused_and_keeps_invite(
    chat: Chat, world: World, database: Database
) -> None:
    chat.say(f"绑定 {world.invites['m1']}")
    reply = chat.say(f"绑定 {world.invites['m2']}")
    assert "m1" in reply
    with database.session() as session:
        invite = session.exec(select(Invite).where(Invite.code == world.invites["m2"])).one()
    assert invite.used_at is None, "a refused bind must not burn the invite"


def test_unbound_user_gets_how_to_bind(chat: Chat, world: World) -> None:
    for text in ("签到", "/report", "谁主持", "随便说点什么"):
        reply = chat.say(text)
        assert "绑定" in reply
