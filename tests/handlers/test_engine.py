"""The conversation engine: routing, unknown input, refusals, errors and state."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.core.inbound import Channel, ChatKind, Inbound
from bot.engine.assistant import Assistant
from handlers.base import Context, Router
from storage.engine import Database, make_engine
from storage.models import Conversation, ProcessedInbound
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
    boom = Router("boom", title="boom")

    @boom.command("boom", description="crash", needs_member=False)
    def crash(ctx: Context, args: str) -> list:  # type: ignore[type-arg]
        raise RuntimeError("kaput")

    assistant.commands["boom"] = boom.commands[0]
    reply = chat.say("/boom")
    assert "Sorry" in reply or "抱歉" in reply
    assert "m1" in chat.say(f"绑定 {world.invites['m1']}")


def wechat(text: str, user: str = "o-1") -> Inbound:
    """A text message from a WeChat follower."""
    return Inbound(Channel.WECHAT, chat_id=user, user_id=user, text=text)


def test_a_delivery_key_is_answered_once_per_channel(assistant: Assistant) -> None:
    first = assistant.answer(wechat("/help"), once=("42",))
    assert first.repeat is None and first.replies
    again = assistant.answer(wechat("/help"), once=("42",))
    # The retry is not handled again, but gets the answer stored with its key.
    assert again.repeat == "42" and again.replies == first.replies
    telegram = Inbound(Channel.TELEGRAM, chat_id="7", user_id="7", text="/help")
    assert assistant.answer(telegram, once=("42",)).repeat is None


def test_a_repeated_delivery_changes_nothing(
    assistant: Assistant, world: World, database: Database
) -> None:
    bind = wechat(f"绑定 {world.invites['m1']}")
    assert assistant.answer(bind, once=("msg:1",)).repeat is None
    # The first key is new, the second was seen: the whole delivery is undone, the new key too.
    assert assistant.answer(wechat("请假"), once=("nonce:9", "msg:1")).repeat == "msg:1"
    with database.session() as session:
        assert session.exec(select(Conversation)).all() == []
        keys = session.exec(select(ProcessedInbound.key)).all()
    assert sorted(keys) == ["msg:1"]


def test_a_failed_delivery_leaves_its_key_for_the_retry(
    assistant: Assistant, world: World, database: Database, tmp_path: Path
) -> None:
    database.engine.dispose()
    broken = assistant.database
    # A directory cannot be opened as a database, by root either, and nothing is written.
    (tmp_path / "a-directory").mkdir()
    assistant.database = Database(make_engine(f"sqlite:///{tmp_path}/a-directory"))
    try:
        failed = assistant.answer(wechat("/help"), once=("msg:5",))
    finally:
        assistant.database = broken
    assert "Sorry" in failed.replies[0].text or "抱歉" in failed.replies[0].text
    retried = assistant.answer(wechat("/help"), once=("msg:5",))
    assert retried.repeat is None and retried.replies


def test_a_refused_message_still_counts_as_delivered(assistant: Assistant, world: World) -> None:
    assistant.answer(wechat(f"绑定 {world.invites['m1']}"))
    refused = assistant.answer(wechat("/opencheckin"), once=("msg:7",))
    assert refused.repeat is None and refused.replies
    assert assistant.answer(wechat("/opencheckin"), once=("msg:7",)).repeat == "msg:7"


def test_numbered_options_pick_what_was_offered_last(assistant: Assistant, world: World) -> None:
    assistant.answer(wechat(f"绑定 {world.invites['m1']}"), numbered=True)
    offered = assistant.answer(wechat("语言"), numbered=True)
    labels = [button.label for reply in offered.replies for button in reply.flat_buttons]
    chosen = assistant.answer(wechat(str(labels.index("English") + 1)), numbered=True)
    assert chosen.locale == "en"
    assert "English" in chosen.replies[0].text
    # Nothing is on offer now: a number is just text again.
    assert "You can send" in assistant.answer(wechat("1"), numbered=True).replies[0].text


def test_command_menu_is_translated(assistant: Assistant) -> None:
    english = dict(assistant.command_menu("en"))
    assert english["checkin"] == "Sign in to today's meeting"
    assert set(assistant.command_menu("zh_CN")[i][0] for i in range(3)) <= set(english)
