"""The real assistant behind the real python-telegram-bot, talking to the fake Bot API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import select

from bot.channels.telegram import TelegramChannel, deep_link, telegram_rate_limiter
from bot.config import Settings
from bot.engine.assistant import UNSUPPORTED, Assistant
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import Activity, Attendance, ChatAccount
from tests.factories import World
from tests.fakes import ManualTime
from tests.fakes.telegram_api import (
    ANONYMOUS_ADMIN_BOT_ID,
    BOT_USERNAME,
    TOKEN,
    ApiCall,
    FakeTelegramAPI,
    TgGroup,
    TgUser,
)
from tests.survival.conftest import differences, snapshot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ALICE = TgUser(4001, "Alice", language_code="en-GB")
WANG = TgUser(4002, "王", last_name="芳", language_code="zh-hans")
SECRETARY = TgUser(4003, "Sec", language_code="en")
BRANCH_GROUP = TgGroup(-1004000, "第1支部 党员群")


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
def telegram_settings(settings: Settings, api: FakeTelegramAPI) -> Settings:
    """The test settings with Telegram pointed at the fake."""
    return settings.model_copy(
        update={"telegram_token": SecretStr(TOKEN), "telegram_base_url": api.base_url}
    )


@pytest.fixture
async def channel(
    telegram_settings: Settings, assistant: Assistant, world: World, ticks: ManualTime
) -> AsyncIterator[TelegramChannel]:
    """The Telegram channel in front of the real assistant, long polling the fake."""
    limiter = telegram_rate_limiter(monotonic=ticks.monotonic, sleep=ticks.sleep)
    channel = TelegramChannel(telegram_settings, assistant, limiter=limiter, poll_timeout=10)
    await channel.start()
    yield channel
    await channel.stop()


async def say(api: FakeTelegramAPI, update: dict[str, Any], replies: int = 1) -> str:
    """Pushes an update, waits for `replies` messages and returns their texts joined."""
    before = len(api.sent())
    api.push(update)
    await api.wait_for("sendMessage", before + replies)
    return "\n".join(api.texts()[before:])


def keyboard_message(api: FakeTelegramAPI, chat_id: int, wanted: str) -> tuple[ApiCall, str]:
    """Finds the newest message offering a button with label or data `wanted`; returns its data."""
    for call in reversed(api.sent(chat_id)):
        for row in call.params.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if wanted in button["text"] or wanted == button.get("callback_data"):
                    return call, button["callback_data"]
    raise AssertionError(f"no button {wanted!r} in chat {chat_id}")


async def press(api: FakeTelegramAPI, user: TgUser, wanted: str) -> str:
    """Presses the newest button in the user's private chat labelled (or carrying) `wanted`."""
    message, data = keyboard_message(api, user.id, wanted)
    return await say(api, api.press(message, data, user=user))


async def bind(api: FakeTelegramAPI, user: TgUser, code: str) -> str:
    """Opens the invite deep link: Telegram sends /start with the code."""
    return await say(api, api.message(f"/start {code}", user=user))


async def test_bind_by_deep_link(
    api: FakeTelegramAPI,
    telegram_settings: Settings,
    world: World,
    database: Database,
    channel: TelegramChannel,
) -> None:
    link = await deep_link(telegram_settings, world.invites["m1"])
    assert link == f"https://t.me/{BOT_USERNAME}?start={world.invites['m1']}"
    reply = await bind(api, WANG, link.split("start=", 1)[1])
    assert "m1" in reply and "第1支部" in reply
    with database.session() as session:
        [account] = session.exec(select(ChatAccount)).all()
    assert (account.channel, account.external_id) == ("telegram", str(WANG.id))
    assert account.member_id == world.members["m1"]
    # The invite is single use: another Telegram account cannot take it.
    await bind(api, ALICE, world.invites["m1"])
    with database.session() as session:
        assert len(session.exec(select(ChatAccount)).all()) == 1


async def test_menus_are_registered_in_both_languages(
    api: FakeTelegramAPI, assistant: Assistant, channel: TelegramChannel
) -> None:
    for language, locale in (("zh", "zh_CN"), ("en", "en"), ("", "zh_CN")):
        registered = [(item["command"], item["description"]) for item in api.commands[language]]
        assert registered == assistant.command_menu(locale)
    english = dict(assistant.command_menu("en"))
    assert {"checkin", "report", "lang", "start"} <= set(english)
    assert english["checkin"] == "Sign in to today's meeting"


async def test_full_activity_report_with_buttons(
    api: FakeTelegramAPI, world: World, database: Database, channel: TelegramChannel
) -> None:
    await bind(api, ALICE, world.invites["m1"])
    assert "Which kind of activity" in await say(api, api.message("/report", user=ALICE))
    assert "On which day" in await press(api, ALICE, "Joint study")
    assert "Date: November 2, 2026 (Monday)" in await press(api, ALICE, "Yesterday")
    assert "Selected: 第2支部" in await press(api, ALICE, "第2支部")
    assert "How many people" in await press(api, ALICE, "Done")
    assert "short summary" in await say(api, api.message("25", user=ALICE))
    summary = "Joint study of the party constitution with our partner branch."
    assert "Please check the report:" in await say(api, api.message(summary, user=ALICE))
    stored = await press(api, ALICE, "Confirm")
    assert "Stored as ledger entry No." in stored
    # Each pressed keyboard was replaced by the choice, and every press was answered.
    presses = api.calls_of("answerCallbackQuery")
    assert len(presses) == 5
    assert api.calls_of("editMessageText")[-1].params["text"].endswith("✓ Confirm")
    with database.session() as session:
        [activity] = session.exec(select(Activity)).all()
    assert activity.participants == 25 and activity.summary == summary


async def test_check_in_with_code_in_the_branch_group(
    api: FakeTelegramAPI, world: World, database: Database, channel: TelegramChannel
) -> None:
    await bind(api, SECRETARY, world.invites["sec"])
    opened = await say(api, api.message("/opencheckin", user=SECRETARY))
    code = re.search(r"\b(\d{6})\b", opened)
    assert code, opened
    await bind(api, ALICE, world.invites["m1"])
    command = f"/checkin@{BOT_USERNAME} {code.group(1)}"
    reply = await say(api, api.message(command, user=ALICE, chat=BRANCH_GROUP))
    assert "Signed in" in reply
    assert api.sent()[-1].params["chat_id"] == BRANCH_GROUP.id
    with database.session() as session:
        [row] = session.exec(select(Attendance)).all()
    assert row.member_id == world.members["m1"]


async def test_roster_question_in_the_group(
    api: FakeTelegramAPI, world: World, channel: TelegramChannel
) -> None:
    await bind(api, ALICE, world.invites["m1"])
    api.push(api.message("大家好", user=WANG, chat=BRANCH_GROUP))  # chatter: not for the bot
    update = api.message(f"@{BOT_USERNAME} 本季度谁主持", user=ALICE, chat=BRANCH_GROUP)
    reply = await say(api, update)
    assert "Q4 2026" in reply and "Host of Q4 2026: 第2支部" in reply
    assert api.texts(BRANCH_GROUP.id) == [reply]


async def test_switching_language_with_buttons(
    api: FakeTelegramAPI, world: World, channel: TelegramChannel
) -> None:
    await bind(api, WANG, world.invites["m2"])

    async def reported_date() -> str:
        """Starts a report, picks a kind and yesterday, cancels; returns the date line."""
        await say(api, api.message("汇报", user=WANG))
        await press(api, WANG, "study")
        reply = await press(api, WANG, "yesterday")
        await say(api, api.message("取消", user=WANG))
        return reply

    # Nothing chosen yet: Telegram's zh-hans picks Chinese, dates included.
    assert "2026年11月2日" in await reported_date()
    await say(api, api.message("/lang", user=WANG))
    assert "Replies will now be in English." in await press(api, WANG, "en")
    # The member's choice now beats Telegram's language_code.
    assert "November 2, 2026 (Monday)" in await reported_date()


async def test_group_private_step_secretary_action_and_anonymous_admin(
    api: FakeTelegramAPI, world: World, database: Database, channel: TelegramChannel
) -> None:
    await bind(api, ALICE, world.invites["m1"])
    started = await say(
        api, api.message(f"/leave@{BOT_USERNAME}", user=ALICE, chat=BRANCH_GROUP), 2
    )
    assert "continue in a private chat" in api.texts(BRANCH_GROUP.id)[-1]
    assert "reason for your leave" in api.texts(ALICE.id)[-1]
    assert "reason for your leave" in started
    recorded = await say(api, api.message("Family matters at home", user=ALICE))
    assert "Leave recorded for:" in recorded

    refused = await say(api, api.message("/attendance", user=ALICE, chat=BRANCH_GROUP))
    assert "Only the branch secretary" in refused

    admin = TgUser(ANONYMOUS_ADMIN_BOT_ID, "Group")
    update = api.message(
        "/attendance", user=admin, chat=BRANCH_GROUP, sender_chat=BRANCH_GROUP.to_dict()
    )
    # No member and no language behind an anonymous admin: the default locale answers.
    refusal = translator("zh_CN")(
        "Anonymous admins cannot use the assistant. Please write as yourself."
    )
    assert await say(api, update) == refusal


async def test_private_step_for_a_member_who_never_started_the_bot(
    api: FakeTelegramAPI, world: World, channel: TelegramChannel
) -> None:
    await bind(api, ALICE, world.invites["m1"])
    api.block(ALICE)
    await say(api, api.message(f"/leave@{BOT_USERNAME}", user=ALICE, chat=BRANCH_GROUP), 2)
    notice = api.sent(BRANCH_GROUP.id)[-1]
    assert "Open a private chat with me" in notice.params["text"]
    assert notice.params["reply_markup"]["inline_keyboard"][0][0]["url"] == (
        f"https://t.me/{BOT_USERNAME}"
    )


async def test_a_sticker_gets_a_note_in_the_members_language(
    api: FakeTelegramAPI, world: World, database: Database, channel: TelegramChannel
) -> None:
    await bind(api, SECRETARY, world.invites["sec"])
    await say(api, api.message("/lang zh_CN", user=SECRETARY))
    before = snapshot(database)
    update = api.message("", user=SECRETARY)
    update["message"]["sticker"] = {
        "file_id": "s",
        "file_unique_id": "u",
        "width": 9,
        "height": 9,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    note = await say(api, update)
    assert note == translator("zh_CN")(UNSUPPORTED)
    # Only the update's key is new: no flow was started, nothing else was written.
    assert set(differences(before, snapshot(database))) <= {"processed_inbound", "chataccount"}
