"""The Telegram channel, long polling a fake Bot API over real HTTP, with a scripted core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import pytest
from pydantic import SecretStr

from bot.channels.telegram import TelegramChannel, deep_link, telegram_rate_limiter
from bot.config import Settings
from bot.core.inbound import ChatKind, Inbound
from bot.core.ports import DeliveryStatus
from bot.core.reply import Button, Reply
from tests.fakes import ManualTime, ScriptedCore
from tests.fakes.telegram_api import (
    ANONYMOUS_ADMIN_BOT_ID,
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    FakeTelegramAPI,
    TgGroup,
    TgUser,
)

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ALICE = TgUser(2001, "Alice", language_code="en-US")
WANG = TgUser(2002, "王芳", language_code="zh-hans")
GROUP = TgGroup(-100555, "第一支部")


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
def core() -> ScriptedCore:
    """A core that echoes unless a test scripts it."""
    return ScriptedCore()


def telegram_settings(api: FakeTelegramAPI, **overrides: Any) -> Settings:
    """Settings pointing the real python-telegram-bot at the fake."""
    return Settings(
        _env_file=None,
        telegram_token=SecretStr(TOKEN),
        telegram_base_url=api.base_url,
        **overrides,
    )


@pytest.fixture
async def channel(
    api: FakeTelegramAPI, core: ScriptedCore, ticks: ManualTime
) -> AsyncIterator[TelegramChannel]:
    """The channel, started in long-polling mode."""
    limiter = telegram_rate_limiter(monotonic=ticks.monotonic, sleep=ticks.sleep)
    channel = TelegramChannel(telegram_settings(api), core, limiter=limiter, poll_timeout=10)
    await channel.start()
    yield channel
    await channel.stop()


async def exchange(api: FakeTelegramAPI, update: dict[str, Any], replies: int = 1) -> list[str]:
    """Pushes an update and waits until `replies` more messages were sent; returns their texts."""
    before = len(api.sent())
    api.push(update)
    await api.wait_for("sendMessage", before + replies)
    return api.texts()[before:]


async def test_start_checks_the_token_and_registers_menus(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    assert api.calls[0].method == "getMe"
    assert api.calls_of("deleteWebhook")  # polling clears any webhook first
    assert api.commands[""] == [
        {"command": "checkin", "description": "会议签到"},
        {"command": "language", "description": "切换语言"},
    ]
    assert api.commands["zh"] == api.commands[""]
    assert api.commands["en"][0] == {"command": "checkin", "description": "Check in to a meeting"}
    assert channel.deep_link("INVX") == f"https://t.me/{BOT_USERNAME}?start=INVX"


async def test_bind_by_deep_link(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    link = await deep_link(telegram_settings(api), "INVM1X")
    assert link == f"https://t.me/{BOT_USERNAME}?start=INVM1X"
    core.script = lambda inbound: [Reply("绑定成功，欢迎！")]
    texts = await exchange(api, api.message("/start INVM1X", user=WANG))
    assert texts == ["绑定成功，欢迎！"]
    assert core.inbounds[0].text == "/start INVM1X"
    assert api.sent()[0].params["chat_id"] == WANG.id


async def test_activity_report_with_buttons(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    def report(inbound: Inbound) -> list[Reply]:
        if inbound.button == "report:submit":
            return [Reply("已提交活动报告")]
        return [
            Reply(
                "活动报告草稿：主题党日",
                buttons=((Button("提交", "report:submit"), Button("修改", "report:edit")),),
            )
        ]

    core.script = report
    await exchange(api, api.message("/report", user=WANG))
    draft = api.sent()[-1]
    keyboard = draft.params["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in keyboard] == [
        ["report:submit", "report:edit"]
    ]

    texts = await exchange(api, api.press(draft, "report:submit", user=WANG))
    assert texts == ["已提交活动报告"]
    assert core.inbounds[-1].button == "report:submit"
    assert len(api.calls_of("answerCallbackQuery")) == 1
    edited = api.calls_of("editMessageText")[-1].params
    assert edited["text"] == "活动报告草稿：主题党日\n\n✓ 提交"
    assert "reply_markup" not in edited


async def test_button_data_over_64_bytes_round_trips(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    data = "pair:" + "结对共建" * 10
    core.script = lambda inbound: (
        [Reply("chosen")] if inbound.button else [Reply("pick", buttons=((Button("A", data),),))]
    )
    await exchange(api, api.message("/pair", user=WANG))
    sent = api.sent()[-1]
    raw = sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(raw.encode()) <= 64
    await exchange(api, api.press(sent, raw, user=WANG))
    assert core.inbounds[-1].button == data


async def test_expired_button_is_answered_with_an_alert(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    await exchange(api, api.message("/report", user=ALICE))
    api.push(api.press(api.sent()[-1], "~forgotten", user=ALICE))
    answer = (await api.wait_for("answerCallbackQuery"))[-1].params
    assert answer["show_alert"] is True
    assert answer["text"] == "[en] This button has expired. Please start again."
    assert [inbound.button for inbound in core.inbounds] == [None]


async def test_check_in_with_code_in_a_group(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    core.script = lambda inbound: [Reply("签到成功")]
    update = api.message(f"/checkin@{BOT_USERNAME} 123456", user=WANG, chat=GROUP)
    assert await exchange(api, update) == ["签到成功"]
    inbound = core.inbounds[-1]
    assert (inbound.text, inbound.chat_kind, inbound.chat_id) == (
        "/checkin 123456",
        ChatKind.GROUP,
        str(GROUP.id),
    )
    sent = api.sent()[-1].params
    assert sent["chat_id"] == GROUP.id
    assert sent["reply_parameters"]["message_id"] == update["message"]["message_id"]


async def test_roster_question_in_a_group_ignores_chatter(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    core.script = lambda inbound: [Reply("本季度由第一支部主持")]
    api.push(api.message("大家早上好", user=ALICE, chat=GROUP))
    texts = await exchange(api, api.message(f"@{BOT_USERNAME} 本季度谁主持", user=WANG, chat=GROUP))
    assert texts == ["本季度由第一支部主持"]
    assert [inbound.text for inbound in core.inbounds] == ["本季度谁主持"]


async def test_language_comes_from_telegram_until_chosen(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    core.script = lambda inbound: [
        Reply("Language: English", buttons=((Button("中文", "lang:zh_CN"),),))
    ]
    await exchange(api, api.message("/language", user=ALICE))
    assert core.inbounds[-1].locale_hint == "en-US"
    await exchange(api, api.press(api.sent()[-1], "lang:zh_CN", user=ALICE))
    assert core.inbounds[-1].button == "lang:zh_CN"


async def test_private_steps_from_a_group_go_to_the_private_chat(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    core.script = lambda inbound: [
        Reply("请在私聊中继续"),
        Reply("请输入活动主题", private=True),
    ]
    await exchange(api, api.message("/report", user=WANG, chat=GROUP), replies=2)
    assert api.texts(GROUP.id) == ["请在私聊中继续"]
    assert api.texts(WANG.id) == ["请输入活动主题"]


async def test_member_who_never_opened_a_private_chat_is_told_how(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    api.block(ALICE)
    core.script = lambda inbound: [Reply("step 1", private=True), Reply("step 2", private=True)]
    texts = await exchange(api, api.message("/report", user=ALICE, chat=GROUP))
    assert texts == [
        "[en] I can't message you privately yet. Open a private chat with me, press Start,"
        " then try again."
    ]
    button = api.sent()[-1].params["reply_markup"]["inline_keyboard"][0][0]
    assert button == {"text": "[en] Open private chat", "url": f"https://t.me/{BOT_USERNAME}"}


async def test_anonymous_admin_is_passed_on_flagged(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    core.script = lambda inbound: [Reply("请以个人身份操作")]
    admin = TgUser(ANONYMOUS_ADMIN_BOT_ID, "Group")
    update = api.message("/approve", user=admin, chat=GROUP, sender_chat=GROUP.to_dict())
    assert await exchange(api, update) == ["请以个人身份操作"]
    assert core.inbounds[-1].anonymous_admin


async def test_duplicate_update_is_processed_once(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    update = {"update_id": 777, **api.message("/roster", user=WANG)}
    api.push(update)
    api.push(update)
    api.push({"update_id": 778, **api.message("/help", user=WANG)})
    await api.wait_for("sendMessage", 2)  # one member's updates are handled in order
    assert api.texts() == ["echo: /roster", "echo: /help"]
    assert [inbound.text for inbound in core.inbounds] == ["/roster", "/help"]
    assert core.keys.count(f"{BOT_ID}:777") == 2


async def test_flood_answer_is_retried_not_dropped(
    api: FakeTelegramAPI, core: ScriptedCore, ticks: ManualTime, channel: TelegramChannel
) -> None:
    api.force_429("sendMessage", retry_after=7)
    assert await exchange(api, api.message("hi", user=WANG)) == ["echo: hi"]
    statuses = [call.status for call in api.calls if call.method == "sendMessage"]
    assert statuses == [429, 200]
    assert 7 in ticks.sleeps


async def test_replies_are_paced_within_telegram_limits(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    core.script = lambda inbound: [Reply(f"part {i}") for i in range(3)]
    await exchange(api, api.message("/rota", user=WANG), replies=3)
    sends = [call for call in api.calls if call.method == "sendMessage"]
    assert [call.status for call in sends] == [200, 200, 200]  # the fake never had to refuse
    assert [round(b.at - a.at, 6) for a, b in pairwise(sends)] == [1.02, 1.02]


async def test_message_over_4096_characters_is_split(
    api: FakeTelegramAPI, core: ScriptedCore, channel: TelegramChannel
) -> None:
    lines = [f"{i:04d} 党员学习记录 " + "学" * 40 for i in range(200)]
    core.script = lambda inbound: [Reply("\n".join(lines), buttons=((Button("更多", "more"),),))]
    api.push(api.message("/ledger", user=WANG))
    await api.wait_until(lambda: any("0199" in text for text in api.texts()))
    sent = api.sent()
    assert len(sent) == 3
    assert all(len(call.params["text"]) <= 4096 for call in sent)
    assert "\n".join(call.params["text"] for call in sent).split("\n") == lines
    assert [("reply_markup" in call.params) for call in sent] == [False, False, True]


async def test_a_failing_update_gets_an_apology_and_polling_goes_on(
    api: FakeTelegramAPI,
    core: ScriptedCore,
    channel: TelegramChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(inbound: Inbound) -> list[Reply]:
        if inbound.text == "/boom":
            raise RuntimeError("core exploded")
        return [Reply("still here")]

    core.script = explode
    texts = await exchange(api, api.message("/boom", user=ALICE))
    assert texts == ["[en] Sorry, something went wrong. Please try again."]
    assert "core exploded" in caplog.text
    assert await exchange(api, api.message("/ping", user=ALICE)) == ["still here"]
    assert TOKEN not in caplog.text


async def test_push_through_the_sender_port(api: FakeTelegramAPI, channel: TelegramChannel) -> None:
    result = await channel.send(recipient=str(WANG.id), reply=Reply("明天上午九点主题党日"))
    assert result.status is DeliveryStatus.SENT
    assert api.texts(WANG.id) == ["明天上午九点主题党日"]

    api.block(ALICE)
    result = await channel.send(recipient=str(ALICE.id), reply=Reply("提醒"))
    assert result.status is DeliveryStatus.UNDELIVERABLE

    old_group = TgGroup(-4001, "旧群", type="group")
    api.migrate(old_group, to=-1004001)
    result = await channel.send(recipient=str(old_group.id), reply=Reply("提醒"))
    assert result.status is DeliveryStatus.SENT
    assert result.detail == "chat migrated to -1004001"
    assert api.texts(-1004001) == ["提醒"]

    api.force_429("sendMessage", retry_after=30, times=10)
    result = await channel.send(recipient=str(WANG.id), reply=Reply("提醒"))
    assert result.status is DeliveryStatus.RETRY
    assert result.retry_after == 30
