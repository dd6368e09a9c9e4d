"""The conversation engine: routing, unknown input, refusals, errors and state."""

from __future__ import annotations

from sqlmodel import select

from bot.assistant import Assistant
from bot.core.inbound import Channel, ChatKind, Inbound
from handlers.base import Context, Router
from storage.engine import Database
from storage.models import Conversation
from tests.factories import World
from tests.helpers import Chat


def test_free_text_gets_help_not_silence(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "You can send" in member.say("今天天气不错")
    reply = member.say("/nosuchcommand arg")
    assert "Unknown command /nosuchcommand" in reply and "You can send" in reply


def test_keywords_with_full_width_separator(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "6 digits" in member.say("签到：12ab")


def test_overlong_message_is_refused(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "too long" in member.say("签到 " + "1" * 5000)


def test_anonymous_group_admin_is_refused(assistant: Assistant, world: World) -> None:
    replies = assistant.handle(
        Inbound(
            Channel.TELEGRAM,
            chat_id="-100",
            user_id="1087968824",
            text="/opencheckin",
            chat_kind=ChatKind.GROUP,
            anonymous_admin=True,
            locale_hint="en",
        )
    )
    assert "Anonymous admins" in replies[0].text


def test_locale_hint_chooses_language_for_unbound_users(assistant: Assistant, world: World) -> None:
    english = assistant.handle(
        Inbound(Channel.TELEGRAM, "1", "1", text="/help", locale_hint="en-US")
    )
    assert english[0].text.startswith("Welcome to Gongjian")


def test_cancel_outside_a_flow(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "nothing to cancel" in member.say("取消")


def test_language_flow_with_buttons_and_bad_choice(
    chat: Chat, world: World, database: Database
) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("语言")
    assert "中文" in member.say("klingon")
    assert "English" in member.press("English")
    with database.session() as session:
        assert session.exec(select(Conversation)).all() == []


def test_handler_crash_becomes_apology_and_keeps_data(
    assistant: Assistant, world: World, chat: Chat
) -> None:
    boom = Router("boom")

    @boom.command("boom", description="crash", needs_member=False)
    def crash(ctx: Context, args: str) -> list:  # type: ignore[type-arg]
        raise RuntimeError("kaput")

    assistant.commands["boom"] = boom.commands[0]
    reply = chat.say("/boom")
    assert "Sorry" in reply or "抱歉" in reply
    assert "m1" in chat.say(f"绑定 {world.invites['m1']}")


def test_first_time_records_each_key_once(assistant: Assistant) -> None:
    assert assistant.first_time(channel=Channel.TELEGRAM, key="42")
    assert not assistant.first_time(channel=Channel.TELEGRAM, key="42")
    assert assistant.first_time(channel=Channel.WECHAT, key="42")


def test_command_menu_is_translated(assistant: Assistant) -> None:
    english = dict(assistant.command_menu("en"))
    assert english["checkin"] == "Sign in to today's meeting"
    assert set(assistant.command_menu("zh_CN")[i][0] for i in range(3)) <= set(english)
