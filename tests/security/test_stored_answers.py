"""An answer lost with its connection: the platform's retry of the same delivery gets it again."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot.channels.telegram import TelegramChannel
from bot.core.inbound import Channel, Inbound
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Attendance
from tests.channels.test_telegram_e2e import bind as tg_bind
from tests.channels.test_telegram_e2e import say as tg_say
from tests.channels.test_wechat import Harness, bind
from tests.factories import World
from tests.fakes.telegram_api import BOT_ID, FakeTelegramAPI, TgUser

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ALICE = TgUser(4101, "Alice", language_code="en-GB")
SECRETARY = TgUser(4103, "Sec", language_code="en")


def attendance(database: Database) -> int:
    """Counts the sign-ins recorded."""
    with database.session() as session:
        return len(session.exec(select(Attendance)).all())


async def open_code(wx: Harness, world: World) -> str:
    """Binds the secretary and opens today's check-in; returns the code."""
    secretary = wx.follower("o-sec")
    await bind(secretary, world, "sec")
    opened = await secretary.say("开启签到")
    return next(word for word in opened.split() if word.isdigit() and len(word) == 6)


async def test_a_wechat_retry_after_a_lost_answer_gets_the_confirmation(
    wx: Harness, world: World, database: Database, assistant: Assistant
) -> None:
    code = await open_code(wx, world)
    member = wx.follower("o-m1")
    await bind(member, world, "m1")
    msg_id = wx.server.next_id()
    # The process committed the check-in and died before writing the passive reply.
    lost = assistant.answer(
        Inbound(Channel.WECHAT, chat_id="o-m1", user_id="o-m1", text=f"签到 {code}"),
        once=("nonce:1:lost", f"msg:{msg_id}"),
        numbered=True,
    )
    assert lost.repeat is None and attendance(database) == 1
    retried = await member.send(wx.server.text("o-m1", f"签到 {code}", msg_id=msg_id))
    assert "09:30" in retried
    assert attendance(database) == 1


async def test_a_stored_answer_goes_only_to_its_sender(
    wx: Harness, world: World, database: Database
) -> None:
    code = await open_code(wx, world)
    member = wx.follower("o-m1")
    await bind(member, world, "m1")
    msg_id = wx.server.next_id()
    assert "09:30" in await member.send(wx.server.text("o-m1", f"签到 {code}", msg_id=msg_id))
    stranger = wx.follower("o-stranger")
    assert await stranger.send(wx.server.text("o-stranger", "帮助", msg_id=msg_id)) == ""


async def test_a_telegram_update_redelivered_after_a_crash_gets_its_answer(
    tg_api: FakeTelegramAPI,
    telegram: TelegramChannel,
    assistant: Assistant,
    world: World,
    database: Database,
) -> None:
    await tg_bind(tg_api, SECRETARY, world.invites["sec"])
    opened = await tg_say(tg_api, tg_api.message("/opencheckin", user=SECRETARY))
    found = re.search(r"\b(\d{6})\b", opened)
    assert found, opened
    await tg_bind(tg_api, ALICE, world.invites["m1"])
    update_id = 900
    # Handled and committed by a process that died before sending the reply.
    lost = assistant.answer(
        Inbound(
            Channel.TELEGRAM,
            chat_id=str(ALICE.id),
            user_id=str(ALICE.id),
            text=f"/checkin {found.group(1)}",
        ),
        once=(f"{BOT_ID}:{update_id}",),
    )
    assert lost.repeat is None and attendance(database) == 1
    before = len(tg_api.sent())
    tg_api.push(
        {"update_id": update_id, **tg_api.message(f"/checkin {found.group(1)}", user=ALICE)}
    )
    await tg_api.wait_for("sendMessage", before + 1)
    assert "09:30" in tg_api.texts()[-1]
    assert attendance(database) == 1
