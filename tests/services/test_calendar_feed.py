"""Calendar feed tokens, what a feed holds, and the iCalendar it renders (parsed for real)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar, Event
from sqlmodel import select

from bot.calendar.holidays import HolidayCalendar
from bot.core.clock import FrozenClock
from bot.core.domain import MeetingKind, MeetingStatus, MemberStatus
from bot.services.calendar_feed import (
    CalendarFeeds,
    add_months,
    feed_content,
    feed_url,
    hash_token,
)
from bot.texts.translation import translator
from bot.web.calendar_feed import render_feed, uid_domain
from storage.engine import Database
from storage.models import CalendarFeed, Meeting, Member
from tests.conftest import SHANGHAI
from tests.factories import World


def add_meeting(
    database: Database,
    world: World,
    *,
    org: str = "B1",
    kind: MeetingKind = MeetingKind.BRANCH_ASSEMBLY,
    day: date,
    status: MeetingStatus = MeetingStatus.PLANNED,
    title: str = "",
    venue: str = "",
    alliance: bool = False,
) -> int:
    with database.session() as session:
        meeting = Meeting(
            organization_id=world.orgs[org],
            kind=kind,
            period=f"{day:%Y-%m-%d}",
            held_on=day,
            starts_at=datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)
            + timedelta(hours=14),
            venue=venue,
            title=title,
            alliance_id=world.alliance_id if alliance else None,
            checkin_code="123456",
            status=status,
        )
        session.add(meeting)
        session.flush()
        assert meeting.id is not None
        return meeting.id


def render(database: Database, clock: FrozenClock, member_id: int, locale: str = "en") -> Calendar:
    with database.session() as session:
        content = feed_content(
            session,
            member_id=member_id,
            now=clock.now(),
            tz=clock.tz,
            holidays=HolidayCalendar.load(None),
        )
    raw = render_feed(
        content, t=translator(locale), now=clock.now(), tz=clock.tz, domain="gj.example.org"
    )
    return Calendar.from_ical(raw)


def events(calendar: Calendar) -> dict[str, Event]:
    return {event.uid: event for event in calendar.events}


def test_tokens_are_hashed_resolved_and_revoked(
    database: Database, world: World, clock: FrozenClock
) -> None:
    member = world.members["m1"]
    with database.session() as session:
        token = CalendarFeeds(session, clock.now()).issue(member)
    assert len(token) >= 43
    with database.session() as session:
        [row] = session.exec(select(CalendarFeed)).all()
        assert row.token_hash == hash_token(token) and token not in row.token_hash
        feeds = CalendarFeeds(session, clock.now())
        assert feeds.member_for(token) == member
        assert feeds.member_for(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert feeds.member_for("short") is None
        assert feeds.member_for("../../etc/passwd") is None
        assert feeds.active_since(member) == clock.now()
    with database.session() as session:
        assert CalendarFeeds(session, clock.now()).revoke(member) == 1
    with database.session() as session:
        feeds = CalendarFeeds(session, clock.now())
        assert feeds.member_for(token) is None
        assert feeds.active_since(member) is None
        assert feeds.revoke(member) == 0


def test_a_departed_member_has_no_feed(
    database: Database, world: World, clock: FrozenClock
) -> None:
    with database.session() as session:
        token = CalendarFeeds(session, clock.now()).issue(world.members["m2"])
        member = session.get_one(Member, world.members["m2"])
        member.status = MemberStatus.DEPARTED
        session.add(member)
    with database.session() as session:
        assert CalendarFeeds(session, clock.now()).member_for(token) is None


def test_feed_url_and_uid_domain() -> None:
    assert feed_url("https://gj.example.org/", "abc") == "https://gj.example.org/calendar/abc.ics"
    assert feed_url("https://x.org/base", "t") == "https://x.org/base/calendar/t.ics"
    assert uid_domain("https://gj.example.org:8443/x") == "gj.example.org"
    assert uid_domain(None) == "gongjian.invalid"
    assert add_months(date(2026, 11, 3), -3) == date(2026, 8, 1)
    assert add_months(date(2026, 11, 3), 2) == date(2027, 1, 1)


def test_feed_holds_meetings_and_duties_as_valid_icalendar(
    database: Database, world: World, clock: FrozenClock
) -> None:
    past = add_meeting(database, world, day=date(2026, 9, 15), venue="党员活动室")
    cancelled = add_meeting(
        database,
        world,
        kind=MeetingKind.LECTURE,
        day=date(2026, 12, 8),
        status=MeetingStatus.CANCELLED,
        title="党课",
    )
    too_old = add_meeting(database, world, day=date(2026, 5, 12))
    other_branch = add_meeting(database, world, org="B4", day=date(2026, 11, 20))
    joint = add_meeting(
        database, world, org="B3", kind=MeetingKind.THEME_DAY, day=date(2026, 11, 18), alliance=True
    )
    calendar = render(database, clock, world.members["m1"])

    assert calendar["VERSION"] == "2.0"
    assert "Gongjian" in str(calendar["PRODID"])
    [timezone] = calendar.walk("VTIMEZONE")
    assert timezone["TZID"] == "Asia/Shanghai"
    found = events(calendar)
    uids = set(found)
    assert f"meeting-{past}@gj.example.org" in uids
    assert f"meeting-{cancelled}@gj.example.org" in uids
    assert f"meeting-{joint}@gj.example.org" in uids
    assert f"meeting-{too_old}@gj.example.org" not in uids
    assert f"meeting-{other_branch}@gj.example.org" not in uids

    # The org-life days of this month and the next twelve exist and are in the feed.
    with database.session() as session:
        org_life = session.exec(
            select(Meeting).where(
                Meeting.organization_id == world.orgs["B1"], Meeting.kind == MeetingKind.ORG_LIFE
            )
        ).all()
    assert len(org_life) == 13
    november = next(m for m in org_life if m.period == "2026-11")
    event = found[f"meeting-{november.id}@gj.example.org"]
    start = event.start
    assert isinstance(start, datetime)
    assert start == datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI)
    assert str(start.tzinfo) == "Asia/Shanghai"
    assert event.end - start == timedelta(hours=2)
    assert event.stamp == clock.now().astimezone(UTC)
    assert event.summary == "Organization-life day (第1支部)"
    assert str(event.status) == "CONFIRMED"

    held = found[f"meeting-{past}@gj.example.org"]
    assert held.location == "党员活动室"
    assert str(found[f"meeting-{cancelled}@gj.example.org"].status) == "CANCELLED"
    assert "党课" in str(found[f"meeting-{cancelled}@gj.example.org"].summary)

    # Theme-day duty: monthly from 2026-01 over B1..B4, so November 2026 is B3's (第3支部).
    theme = found[f"duty-{world.alliance_id}-theme_day-2026-11@gj.example.org"]
    assert theme.start == date(2026, 11, 1)
    assert theme.end == date(2026, 12, 1)
    assert "第3支部" in str(theme.summary)
    assert str(theme.transparency) == "TRANSPARENT"
    assert "红湾联盟" in str(theme.description)
    # Conveners rotate over the president units B1..B3 by quarter: 2026Q4 is the fourth, B1.
    convener = found[f"duty-{world.alliance_id}-convener-2026Q4@gj.example.org"]
    assert convener.start == date(2026, 10, 1)
    assert convener.end == date(2027, 1, 1)
    assert "第1支部" in str(convener.summary)
    theme_uids = sorted(uid for uid in uids if "-theme_day-" in uid)
    assert theme_uids[0].endswith("2026-08@gj.example.org")
    assert theme_uids[-1].endswith("2027-11@gj.example.org")
    assert len(theme_uids) == 16


def test_uids_are_stable_and_lines_folded(
    database: Database, world: World, clock: FrozenClock
) -> None:
    add_meeting(
        database, world, day=date(2026, 11, 24), title="长" * 80, venue="会议室; 三楼, 东侧"
    )
    first = render(database, clock, world.members["m1"])
    clock.advance(timedelta(hours=5))
    second = render(database, clock, world.members["m1"])
    assert set(events(first)) == set(events(second))
    with database.session() as session:
        content = feed_content(
            session,
            member_id=world.members["m1"],
            now=clock.now(),
            tz=clock.tz,
            holidays=HolidayCalendar.load(None),
        )
    raw = render_feed(content, t=translator("en"), now=clock.now(), tz=clock.tz, domain="d")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert b"LOCATION:\xe4\xbc\x9a\xe8\xae\xae\xe5\xae\xa4\\; \xe4\xb8\x89\xe6\xa5\xbc\\, " in raw
    parsed = Calendar.from_ical(raw)
    titles = [str(e.summary) for e in parsed.events]
    assert any("长" * 80 in title for title in titles)


@pytest.mark.parametrize(
    ("locale", "word"), [("en", "Organization-life day"), ("zh_CN", "组织生活")]
)
def test_feed_speaks_the_member_language(
    database: Database, world: World, clock: FrozenClock, locale: str, word: str
) -> None:
    calendar = render(database, clock, world.members["m1"], locale)
    assert any(word in str(e.summary) for e in calendar.events)
