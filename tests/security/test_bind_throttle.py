"""Guessing invite codes: failed binds are counted in the database per account and per source."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, ChatKind, Inbound
from bot.engine.assistant import Assistant
from bot.services.members import BIND_WINDOW, MAX_BIND_FAILURES, MAX_SOURCE_BIND_FAILURES
from storage.engine import Database
from storage.models import BindFailure, ChatAccount
from tests.factories import World
from tests.helpers import Chat

WRONG = "WRONG234"


def test_an_account_is_held_after_too_many_wrong_codes(
    chat: Chat, world: World, clock: FrozenClock, database: Database
) -> None:
    guesser = chat.as_("u-guesser")
    for _ in range(MAX_BIND_FAILURES):
        assert "邀请码不存在" in guesser.say(f"绑定 {WRONG}")
    # Even the right code waits: a guesser cannot tell a hit from the hold.
    held = guesser.say(f"绑定 {world.invites['m1']}")
    assert "邀请码错误次数过多" in held
    with database.session() as session:
        assert session.exec(select(ChatAccount)).all() == []
    clock.advance(BIND_WINDOW + timedelta(seconds=1))
    assert "m1" in guesser.say(f"绑定 {world.invites['m1']}")


def test_other_accounts_are_not_held_by_one_guesser(chat: Chat, world: World) -> None:
    guesser = chat.as_("u-guesser")
    for _ in range(MAX_BIND_FAILURES + 2):
        guesser.say(f"绑定 {WRONG}")
    assert "m1" in chat.as_("u-honest").say(f"绑定 {world.invites['m1']}")


def test_a_group_full_of_guessing_accounts_is_held_as_one_source(
    assistant: Assistant, world: World, database: Database
) -> None:
    def bind_in_group(user: str, code: str) -> str:
        """Sends 绑定 from `user` in one group chat."""
        inbound = Inbound(
            Channel.TELEGRAM,
            chat_id="-100900",
            user_id=user,
            text=f"/bind {code}",
            chat_kind=ChatKind.GROUP,
            locale_hint="en",
        )
        return "\n".join(reply.text for reply in assistant.answer(inbound).replies)

    for index in range(MAX_SOURCE_BIND_FAILURES):
        assert "does not exist" in bind_in_group(f"u-{index}", WRONG)
    assert "Too many wrong invite codes" in bind_in_group("u-new", world.invites["m1"])
    with database.session() as session:
        scopes = {row.scope: row.count for row in session.exec(select(BindFailure)).all()}
    assert scopes["source:telegram:-100900"] == MAX_SOURCE_BIND_FAILURES
