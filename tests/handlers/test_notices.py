"""Nobody is left out of a change: leave reaches the secretary, changes reach the members."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlmodel import col, select

from bot.channels.console_sender import ConsoleSender
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import AttendanceStatus
from scheduler.delivery import Delivery
from scheduler.service import plan_tick
from storage.engine import Database
from storage.models import Attendance, AuditEntry
from storage.reminders import OutboxMessage, OutboxStatus
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.helpers import Chat
from tests.scheduler.test_rules import HOLIDAYS, give_accounts


def bound(chat: Chat, world: World, name: str, *, english: bool = True) -> Chat:
    """Binds a console user `u-NAME` as the named member."""
    member = chat.as_(f"u-{name}").bound(world.invites[name])
    if english:
        member.say("/lang en")
    return member


def notices(database: Database) -> list[OutboxMessage]:
    """Lists the queued notices by id."""
    with database.session() as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.rule == "notice")
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def pending_to(database: Database, world: World) -> dict[str, list[str]]:
    """Maps member names to the texts of their pending notices."""
    names = {member_id: name for name, member_id in world.members.items()}
    found: dict[str, list[str]] = {}
    for row in notices(database):
        if row.status is OutboxStatus.PENDING:
            found.setdefault(names[row.member_id], []).append(row.text)
    return found


def test_leave_notifies_the_secretaries_in_their_language(
    chat: Chat, world: World, database: Database
) -> None:
    bound(chat, world, "sec")
    bound(chat, world, "deputy", english=False)
    member = bound(chat, world, "m1")
    member.say("请假 出差在外地")
    told = pending_to(database, world)
    assert set(told) == {"sec", "deputy"}
    [english] = told["sec"]
    assert "m1 asked leave for:" in english and "Reason: 出差在外地" in english
    [chinese] = told["deputy"]
    assert "m1请假" in chinese and "事由：出差在外地" in chinese
    # A new reason replaces the notice not sent yet.
    member.say("请假 改为参加培训")
    told = pending_to(database, world)
    assert [len(texts) for texts in told.values()] == [1, 1]
    assert all("改为参加培训" in texts[0] for texts in told.values())


def test_cancelling_leave_withdraws_it_or_tells_the_secretary(
    chat: Chat, world: World, database: Database
) -> None:
    bound(chat, world, "sec")
    bound(chat, world, "deputy", english=False)
    member = bound(chat, world, "m1")
    assert "You have not asked leave" in member.say("销假")
    member.say("请假 出差在外地")
    assert "You asked leave for this meeting" in member.say("日程")
    reply = member.say("销假")
    assert "Your leave is withdrawn" in reply and "December 1, 2026" in reply
    with database.session() as session:
        assert session.exec(select(Attendance)).all() == []
    # The secretaries had not been told yet: the notice is simply withdrawn.
    assert pending_to(database, world) == {}
    assert "You asked leave" not in member.say("日程")
    # Once the leave notice went out, withdrawing the leave is news for them.
    member.say("请假 出差在外地")
    with database.session() as session:
        for row in session.exec(select(OutboxMessage)).all():
            row.status = OutboxStatus.SENT
            session.add(row)
    member.say("销假")
    told = pending_to(database, world)
    assert set(told) == {"sec", "deputy"}
    assert "m1 cancelled their leave" in told["sec"][0] and "m1已销假" in told["deputy"][0]


def test_moved_meeting_reaches_members_through_the_outbox_after_quiet_hours(
    chat: Chat, world: World, clock: FrozenClock, database: Database, settings: Settings
) -> None:
    sec = bound(chat, world, "sec")
    bound(chat, world, "m1")
    bound(chat, world, "m2", english=False)
    give_accounts(database, world, ("deputy", "liaison"))
    clock.set(datetime(2026, 11, 3, 23, 0, tzinfo=SHANGHAI))
    sec.say("调整会议 12月3日 14:00")
    told = pending_to(database, world)
    assert set(told) == {"deputy", "liaison", "m1", "m2"}
    assert "A meeting has been changed" in told["m1"][0] and "December 3, 2026" in told["m1"][0]
    assert "会议安排有变动" in told["m2"][0]
    # Planning reminders does not retire notices it did not plan.
    plan_tick(database, now=clock.now(), holidays=HOLIDAYS, settings=settings)
    assert len(pending_to(database, world)) == 4
    console = ConsoleSender()
    quiet = (settings.quiet_hours_start, settings.quiet_hours_end)
    senders = [console]
    sender = Delivery(database=database, clock=clock, senders=senders, quiet_hours=quiet)  # type: ignore[arg-type]
    asyncio.run(sender.drain())
    assert console.to("u-m1") == []
    clock.set(datetime(2026, 11, 4, 8, 0, tzinfo=SHANGHAI))
    asyncio.run(sender.drain())
    assert any("A meeting has been changed" in text for text in console.to("u-m1"))
    assert any("会议安排有变动" in text for text in console.to("u-m2"))


def test_secretary_sends_a_notice_to_the_whole_branch(
    chat: Chat, world: World, database: Database
) -> None:
    member = bound(chat, world, "m1")
    assert "Only the branch secretary" in member.say("通知 明天下午开会")
    sec = bound(chat, world, "sec")
    assert "Usage: 通知 TEXT" in sec.say("通知")
    assert "goes to 1 member with" in sec.say("通知 明天下午三点在礼堂开会")
    # Members without a chat account cannot get it, and are not counted.
    give_accounts(database, world, ("deputy", "liaison", "m2"))
    assert "goes to 4 members" in sec.say("通知 明天下午三点在礼堂开会，请准时参加")
    told = pending_to(database, world)
    assert set(told) == {"deputy", "liaison", "m1", "m2"}
    assert told["m1"][0] == "Notice from 第1支部 (sec):\n明天下午三点在礼堂开会"
    assert told["m2"][0] == "第1支部通知（sec）：\n明天下午三点在礼堂开会，请准时参加"
    # 会议通知 alone announces the next meeting.
    assert "goes to 4 members" in sec.say("会议通知")
    assert any(
        "Organization-life day: December 1, 2026" in t for t in pending_to(database, world)["m1"]
    )
    with database.session() as session:
        actions = [row.action for row in session.exec(select(AuditEntry)).all()]
    assert actions.count("notice.send") == 3


def test_leave_skips_a_cancelled_meeting(chat: Chat, world: World, database: Database) -> None:
    sec = bound(chat, world, "sec")
    member = bound(chat, world, "m1")
    assert "Cancelled:" in sec.say("取消会议")
    # December's org-life day is off: the next meeting to ask leave for is January's.
    assert "January 5, 2027" in member.say("请假 出差")
    with database.session() as session:
        rows = session.exec(select(Attendance)).all()
    assert [row.status for row in rows] == [AttendanceStatus.LEAVE]
