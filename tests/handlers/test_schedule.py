"""Upcoming meetings and the secretary's changes to the next one."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.core.domain import MeetingKind
from handlers.schedule import parse_coming_day
from storage.engine import Database
from storage.models import AuditEntry, Meeting, Organization
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.helpers import Chat


def test_parse_coming_day() -> None:
    today = date(2026, 11, 3)
    assert parse_coming_day("12月2日", today=today) == date(2026, 12, 2)
    assert parse_coming_day("1-5", today=today) == date(2027, 1, 5)
    assert parse_coming_day("2027-03-02", today=today) == date(2027, 3, 2)
    assert parse_coming_day("2月30日", today=today) is None
    assert parse_coming_day("党群服务中心", today=today) is None


def test_next_lists_org_life_days_with_holiday_notes(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    reply = member.say("日程")
    assert "November 3, 2026 (Tuesday) 09:00" in reply
    assert "December 1, 2026 (Tuesday)" in reply
    assert "January 5, 2027 (Tuesday)" in reply
    assert "holiday calendar for 2027 is not known yet" in reply


def test_org_life_day_moved_for_national_day(
    chat: Chat, world: World, clock: FrozenClock, database: Database
) -> None:
    with database.session() as session:
        org = session.get_one(Organization, world.orgs["B1"])
        org.holiday_policy = "next_workday"
        session.add(org)
    clock.set(datetime(2025, 9, 20, 10, 0, tzinfo=SHANGHAI))
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    reply = member.say("/next")
    # 7 October 2025 falls in the National Day week; the next working day is 9 October.
    assert "October 9, 2025 (Thursday)" in reply
    assert "Moved from Oct 7, 2025 because of National Day." in reply


def test_setmeeting_changes_next_meeting_only_for_secretaries(
    chat: Chat, world: World, database: Database
) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "Only the branch secretary" in member.say("调整会议 14:30")
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "Usage" in sec.say("调整会议")
    reply = sec.say("调整会议 14:30 党群服务中心")
    assert "December 1, 2026 (Tuesday) 14:30, at 党群服务中心" in reply
    with database.session() as session:
        december = session.exec(
            select(Meeting).where(Meeting.kind == MeetingKind.ORG_LIFE, Meeting.period == "2026-12")
        ).one()
        actions = [row.action for row in session.exec(select(AuditEntry)).all()]
    assert december.starts_at == datetime(2026, 12, 1, 14, 30, tzinfo=SHANGHAI)
    assert december.venue == "党群服务中心"
    assert "meeting.reschedule" in actions


def test_setmeeting_refuses_past_date(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "already passed" in sec.say("调整会议 2026-10-01 10:00")


def test_setmeeting_refuses_an_unreadable_date(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "could not read the date 13月1日" in sec.say("调整会议 13月1日 14:00 礼堂")


def _december(database: Database) -> Meeting:
    """Returns the stored December org-life day of the first branch."""
    with database.session() as session:
        return session.exec(
            select(Meeting).where(Meeting.kind == MeetingKind.ORG_LIFE, Meeting.period == "2026-12")
        ).one()


def test_setmeeting_never_stores_unread_words_as_the_venue(
    chat: Chat, world: World, database: Database
) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    sec.say("日程")
    venue = _december(database).venue
    reply = sec.say("调整会议 25:00")
    assert "could not read the time 25:00" in reply and "e.g. /setmeeting 2026-12-02 14:30" in reply
    assert "could not read the date 下周" in sec.say("调整会议 下周")
    assert "could not read 改天再说 as a date or a time" in sec.say("调整会议 改天再说")
    assert _december(database).venue == venue
    # 明天 is a day like any other: the next meeting moves to it, and the venue stays.
    reply = sec.say("调整会议 明天")
    assert "November 4, 2026 (Wednesday)" in reply
    with database.session() as session:
        moved = session.exec(select(Meeting).where(Meeting.held_on == date(2026, 11, 4))).one()
    assert moved.venue == venue and moved.period == "2026-12"
    # A venue alone is marked as such.
    assert "at 礼堂" in sec.say("调整会议 地点 礼堂")
    assert "at 党员活动室" in sec.say("调整会议 地点：党员活动室")


def test_moving_a_meeting_back_leaves_no_note(chat: Chat, world: World, database: Database) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "Moved by the secretary from Dec 1, 2026" in sec.say("调整会议 12月3日")
    assert "Moved by the secretary from Dec 1, 2026" in sec.say("调整会议 12月4日")
    reply = sec.say("调整会议 12月1日")
    assert "December 1, 2026 (Tuesday)" in reply and "Moved" not in reply
    december = _december(database)
    assert (december.moved_from, december.move_reason) == (None, None)
    zh = chat.as_("u-sec").say("/lang zh")
    assert zh
    assert "调整至本日" not in chat.as_("u-sec").say("日程")


def test_parse_coming_day_reads_words_for_days_ahead() -> None:
    today = date(2026, 11, 3)  # a Tuesday
    assert parse_coming_day("明天", today=today) == date(2026, 11, 4)
    assert parse_coming_day("后天", today=today) == date(2026, 11, 5)
    assert parse_coming_day("周五", today=today) == date(2026, 11, 6)
    assert parse_coming_day("下周二", today=today) == date(2026, 11, 10)
    assert parse_coming_day("friday", today=today) == date(2026, 11, 6)
    assert parse_coming_day("下周", today=today) is None
