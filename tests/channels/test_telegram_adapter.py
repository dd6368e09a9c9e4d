"""The Telegram adapter on python-telegram-bot's offline objects: no network at all."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from pydantic import SecretStr
from telegram import Bot, Update
from telegram.error import RetryAfter

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram.channel import _file_url
from bot.channels.telegram.inbound import InOrderPerMember, deep_link_for, inbound_from_update
from bot.channels.telegram.limits import retry_after_of
from bot.channels.telegram.logs import quiet_library_logs, redact_in_logs
from bot.channels.telegram.outbound import MAX_CALLBACK_DATA, CallbackData, keyboard_for
from bot.channels.telegram.outbound import split_message as split_text
from bot.config import ConfigError, Settings
from bot.core.inbound import Channel, ChatKind, Location
from bot.core.ports import Sender
from bot.core.reply import Button, Reply
from bot.runner import Service
from tests.fakes import ScriptedCore
from tests.fakes.telegram_api import (
    ANONYMOUS_ADMIN_BOT_ID,
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    FakeTelegramAPI,
    TgGroup,
    TgUser,
)

ALICE = TgUser(1001, "Alice", language_code="en")
WANG = TgUser(1002, "王", language_code="zh-hans", last_name="芳")
GROUP = TgGroup(-1001234, "一支部")


@pytest.fixture
def offline() -> FakeTelegramAPI:
    """The fake only as an update factory; its server is never started."""
    return FakeTelegramAPI()


def update(data: dict[str, Any], update_id: int = 1) -> Update:
    """Parses an update the way python-telegram-bot does, with an offline bot."""
    parsed = Update.de_json({"update_id": update_id, **data}, Bot(TOKEN))
    assert parsed is not None
    return parsed


def inbound(data: dict[str, Any]) -> Any:
    """Adapts an update dict for the test bot."""
    return inbound_from_update(update(data), bot_id=BOT_ID, bot_username=BOT_USERNAME)


# --- updates to inbounds ------------------------------------------------------------------


def test_private_text(offline: FakeTelegramAPI) -> None:
    result = inbound(offline.message("Hello", user=WANG))
    assert result.channel is Channel.TELEGRAM
    assert result.chat_id == result.user_id == "1002"
    assert result.text == "Hello"
    assert result.chat_kind is ChatKind.PRIVATE
    assert result.locale_hint == "zh-hans"
    assert result.display_name == "王 芳"
    assert not result.anonymous_admin
    assert result.extra["message_id"].isdigit()


def test_start_with_invite_code_reaches_the_core_as_is(offline: FakeTelegramAPI) -> None:
    assert inbound(offline.message("/start INVABC123", user=ALICE)).text == "/start INVABC123"


def test_command_addressed_to_the_bot_in_a_group(offline: FakeTelegramAPI) -> None:
    result = inbound(
        offline.message(f"/checkin@{BOT_USERNAME.upper()} 123456", user=ALICE, chat=GROUP)
    )
    assert result.text == "/checkin 123456"
    assert result.chat_kind is ChatKind.GROUP
    assert result.chat_id == str(GROUP.id)
    assert result.user_id == str(ALICE.id)


def test_command_for_another_bot_is_ignored(offline: FakeTelegramAPI) -> None:
    assert inbound(offline.message("/checkin@other_bot", user=ALICE, chat=GROUP)) is None
    assert inbound(offline.message("/checkin@other_bot", user=ALICE)) is None


def test_group_chatter_is_not_for_the_assistant(offline: FakeTelegramAPI) -> None:
    assert inbound(offline.message("good morning all", user=ALICE, chat=GROUP)) is None


def test_mention_in_a_group_is_addressed_and_stripped(offline: FakeTelegramAPI) -> None:
    text = f"@{BOT_USERNAME} 本季度谁主持"
    assert inbound(offline.message(text, user=WANG, chat=GROUP)).text == "本季度谁主持"


def test_reply_to_the_bot_in_a_group_is_addressed(offline: FakeTelegramAPI) -> None:
    result = inbound(offline.message("123456", user=ALICE, chat=GROUP, reply_to_bot=True))
    assert result.text == "123456"


def test_anonymous_admin_is_flagged(offline: FakeTelegramAPI) -> None:
    admin = TgUser(ANONYMOUS_ADMIN_BOT_ID, "Group", language_code=None)
    data = offline.message("/roster", user=admin, chat=GROUP, sender_chat=GROUP.to_dict())
    result = inbound(data)
    assert result.anonymous_admin
    assert result.user_id == str(GROUP.id)
    assert result.display_name == GROUP.title


def test_shared_location(offline: FakeTelegramAPI) -> None:
    result = inbound(offline.message("", user=ALICE, location=(31.23, 121.47)))
    assert result.location == Location(31.23, 121.47)
    assert result.text == ""


def test_caption_counts_as_text(offline: FakeTelegramAPI) -> None:
    data = offline.message("", user=ALICE)
    data["message"]["caption"] = "活动照片"
    data["message"]["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    assert inbound(data).text == "活动照片"


STICKER = {
    "file_id": "f",
    "file_unique_id": "u",
    "width": 1,
    "height": 1,
    "is_animated": False,
    "is_video": False,
    "type": "regular",
}


def test_unreadable_content_in_private_is_flagged_for_a_note(offline: FakeTelegramAPI) -> None:
    data = offline.message("", user=ALICE)
    data["message"]["sticker"] = STICKER
    found = inbound(data)
    assert found is not None and found.unsupported and found.text == ""
    assert not inbound(offline.message("hi", user=ALICE)).unsupported  # type: ignore[union-attr]


def test_a_text_of_blanks_is_a_text_not_unreadable_content(offline: FakeTelegramAPI) -> None:
    found = inbound(offline.message("\u3000", user=ALICE))
    assert found is not None and not found.unsupported and found.text == ""


def test_unreadable_content_in_a_group_and_service_messages_are_skipped(
    offline: FakeTelegramAPI,
) -> None:
    data = offline.message("", user=ALICE, chat=GROUP, reply_to_bot=True)
    data["message"]["sticker"] = STICKER
    assert inbound(data) is None
    pinned = offline.message("", user=ALICE)
    pinned["message"]["pinned_message"] = offline.message("old", user=ALICE)["message"]
    assert inbound(pinned) is None


def test_edits_and_channel_posts_are_ignored(offline: FakeTelegramAPI) -> None:
    message = offline.message("hi", user=ALICE)["message"]
    assert inbound({"edited_message": {**message, "edit_date": message["date"]}}) is None
    post = {**message, "chat": {"id": -100777, "type": "channel", "title": "News"}}
    post.pop("from")
    assert inbound({"channel_post": post}) is None


def test_button_press(offline: FakeTelegramAPI) -> None:
    sent = {
        "message_id": 55,
        "date": 0,
        "chat": GROUP.to_dict(),
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Gongjian"},
        "text": "Choose",
    }
    data = {
        "callback_query": {
            "id": "9",
            "from": WANG.to_dict(),
            "chat_instance": "1",
            "message": sent,
            "data": "report:confirm",
        }
    }
    result = inbound(data)
    assert result.button == "report:confirm"
    assert result.text == ""
    assert result.chat_kind is ChatKind.GROUP
    assert result.chat_id == str(GROUP.id)
    assert result.user_id == str(WANG.id)
    assert result.locale_hint == "zh-hans"
    assert result.extra == {"message_id": "55"}


def test_topic_messages_keep_their_thread(offline: FakeTelegramAPI) -> None:
    data = offline.message("/roster", user=ALICE, chat=GROUP)
    data["message"]["is_topic_message"] = True
    data["message"]["message_thread_id"] = 77
    assert inbound(data).extra["thread_id"] == "77"


# --- replies to messages ------------------------------------------------------------------


def test_short_text_is_one_message() -> None:
    assert split_text("你好") == ["你好"]
    assert split_text("x" * 4096) == ["x" * 4096]


def test_long_text_splits_at_paragraphs_under_the_limit() -> None:
    paragraphs = [f"{i:03d} " + "活动" * 900 for i in range(5)]
    chunks = split_text("\n\n".join(paragraphs))
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert [c for chunk in chunks for c in chunk.split("\n\n")] == paragraphs


def test_text_without_breaks_is_cut_hard() -> None:
    chunks = split_text("a" * 9000)
    assert [len(chunk) for chunk in chunks] == [4096, 4096, 808]


def test_astral_characters_count_twice() -> None:
    chunks = split_text("🎉" * 3000)
    assert all(len(chunk.encode("utf-16-le")) // 2 <= 4096 for chunk in chunks)
    assert "".join(chunks) == "🎉" * 3000


def test_blank_text_has_nothing_to_send() -> None:
    assert split_text("  \n ") == []


def test_buttons_become_an_inline_keyboard() -> None:
    reply = Reply(
        "Report",
        buttons=(
            (Button("确认", "report:ok"), Button("修改", "report:edit")),
            (Button("取消", "x"),),
        ),
    )
    markup = keyboard_for(reply, CallbackData())
    assert markup is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [[("确认", "report:ok"), ("修改", "report:edit")], [("取消", "x")]]
    assert keyboard_for(Reply("no buttons"), CallbackData()) is None


def test_long_button_data_fits_64_bytes_and_comes_back() -> None:
    store = CallbackData()
    data = "partner:" + "共建" * 40
    token = store.encode(data)
    assert len(token.encode()) <= MAX_CALLBACK_DATA
    assert store.decode(token) == data
    assert store.decode("~unknown") is None
    assert store.decode("plain") == "plain"
    assert store.decode(store.encode("~short")) == "~short"


def test_remembered_button_data_is_bounded() -> None:
    store = CallbackData(capacity=2)
    tokens = [store.encode(f"{i}" + "x" * 80) for i in range(3)]
    assert store.decode(tokens[0]) is None
    assert store.decode(tokens[2]) is not None


def test_deep_link() -> None:
    assert deep_link_for("gongjian_bot", "INV-abc_1") == "https://t.me/gongjian_bot?start=INV-abc_1"
    for bad in ("", "has space", "x" * 65, "中文"):
        with pytest.raises(ValueError):
            deep_link_for("gongjian_bot", bad)


def test_file_url_follows_the_api_url() -> None:
    assert _file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert _file_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_retry_after_is_read_from_flood_errors() -> None:
    assert retry_after_of(RetryAfter(7)) == 7.0
    assert retry_after_of(ValueError()) is None


# --- logs -----------------------------------------------------------------------------------


def test_token_never_reaches_a_log_handler(caplog: pytest.LogCaptureFixture) -> None:
    redact_in_logs(TOKEN)
    log = logging.getLogger("tests.telegram")
    with caplog.at_level(logging.INFO):
        log.info("calling https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"failed: https://api.telegram.org/bot{TOKEN}/sendMessage")
        except RuntimeError:
            log.exception("boom")
    assert TOKEN not in caplog.text
    assert "bot***/getMe" in caplog.text
    assert "bot***/sendMessage" in caplog.text


def test_http_client_request_logs_are_silenced() -> None:
    quiet_library_logs()
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert not logging.getLogger("telegram.ext.Application").isEnabledFor(logging.DEBUG)


# --- construction ---------------------------------------------------------------------------


def test_channel_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="GONGJIAN_TELEGRAM_TOKEN"):
        TelegramChannel(Settings(_env_file=None), ScriptedCore())


def test_webhook_secret_must_be_what_telegram_accepts() -> None:
    settings = Settings(
        _env_file=None,
        telegram_token=SecretStr(TOKEN),
        telegram_webhook_url="https://example.org/telegram/webhook",
        telegram_webhook_secret=SecretStr("not allowed!"),
    )
    with pytest.raises(ConfigError, match="GONGJIAN_TELEGRAM_WEBHOOK_SECRET"):
        TelegramChannel(settings, ScriptedCore())


def test_polling_mode_has_no_routes_and_the_channel_fits_its_ports() -> None:
    settings = Settings(_env_file=None, telegram_token=SecretStr(TOKEN))
    channel = TelegramChannel(settings, ScriptedCore())
    assert not channel.webhook_mode
    assert channel.routes == []
    sender: Sender = channel  # the outbox pushes through it
    service: Service = channel  # `serve` runs it
    assert sender.channel is Channel.TELEGRAM
    assert service.name == "telegram"


# --- update ordering ------------------------------------------------------------------------


async def test_updates_of_one_member_run_in_order_others_concurrently(
    offline: FakeTelegramAPI,
) -> None:
    processor = InOrderPerMember(8)
    log: list[str] = []
    release = asyncio.Event()

    async def work(name: str, wait: bool) -> None:
        log.append(f"start {name}")
        if wait:
            await release.wait()
        log.append(f"end {name}")

    first = update(offline.message("1", user=ALICE), 1)
    second = update(offline.message("2", user=ALICE), 2)
    other = update(offline.message("3", user=WANG), 3)
    tasks = [
        asyncio.create_task(processor.process_update(first, work("a1", wait=True))),
        asyncio.create_task(processor.process_update(second, work("a2", wait=False))),
        asyncio.create_task(processor.process_update(other, work("w", wait=False))),
    ]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert log == ["start a1", "start w", "end w"]
    release.set()
    await asyncio.gather(*tasks)
    assert log[3:] == ["end a1", "start a2", "end a2"]
    assert processor._locks == {}
