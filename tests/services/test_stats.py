"""Attendance statistics: per meeting, per member and per organization, and how quarters are read."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.calendar.quarters import Quarter
from bot.core.domain import ActivityKind, AttendanceStatus, MeetingKind, MeetingStatus, MemberStatus
from bot.services.stats import attendance_report, attendance_reports, parse_quarter
from storage.engine import Database
from storage.models import Activity, ActivityPartner, Attendance, Meeting, Member
from tests.factories import World

SH = ZoneInfo("Asia/Shanghai")


# -- builders shared by the secretary-tools tests -------------------------------------------


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """Returns a Shanghai wall-clock moment."""
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def joined(database: Database, day: date, *names_and_world: object) -> None:
    """Backdates when every member (or only the named ones) joined, to `day`."""
    with database.session() as session:
        statement = update(Member).values(created_at=datetime.combine(day, time(8), tzinfo=SH))
        if names_and_world:
            *names, world = names_and_world
            assert isinstance(world, World)
            ids = [world.members[str(name)] for name in names]
            statement = statement.where(col(Member.id).in_(ids))
        session.execute(statement)


def add_meeting(
    database: Database,
    *,
    org: int,
    day: date,
    kind: MeetingKind = MeetingKind.ORG_LIFE,
    alliance_id: int | None = None,
    pairing_id: int | None = None,
    status: MeetingStatus = MeetingStatus.PLANNED,
    title: str = "",
    hour: int = 9,
) -> int:
    """Stores a meeting (org-life days keyed by month, others by day) and returns its id."""
    period = f"{day.year:04d}-{day.month:02d}" if kind is MeetingKind.ORG_LIFE else day.isoformat()
    with database.session() as session:
        meeting = Meeting(
            organization_id=org,
            kind=kind,
            period=period,
            held_on=day,
            starts_at=datetime.combine(day, time(hour), tzinfo=SH),
            venue="会议室",
            title=title,
            alliance_id=alliance_id,
            pairing_id=pairing_id,
            checkin_code="123456",
            status=status,
        )
        session.add(meeting)
        session.flush()
        assert meeting.id is not None
        return meeting.id


def answer(
    database: Database,
    meeting_id: int,
    world: World,
    *,
    present: tuple[str, ...] = (),
    leave: tuple[str, ...] = (),
    absent: tuple[str, ...] = (),
) -> None:
    """Records members' answers to a meeting."""
    with database.session() as session:
        for names, status in (
            (present, AttendanceStatus.PRESENT),
            (leave, AttendanceStatus.LEAVE),
            (absent, AttendanceStatus.ABSENT),
        ):
            for name in names:
                session.add(
                    Attendance(
                        meeting_id=meeting_id,
                        member_id=world.members[name],
                        status=status,
                        at=at(2026, 1, 1),
                        reason="出差" if status is AttendanceStatus.LEAVE else "",
                    )
                )


def add_activity(
    database: Database,
    *,
    org: int,
    day: date,
    kind: ActivityKind = ActivityKind.STUDY,
    partners: tuple[int, ...] = (),
    pairing_id: int | None = None,
    alliance_id: int | None = None,
    participants: int = 5,
    title: str = "联学活动",
    summary: str = "联学活动纪要",
    reporter: int | None = None,
) -> int:
    """Stores a ledger entry with its partners and returns its id."""
    with database.session() as session:
        activity = Activity(
            organization_id=org,
            kind=kind,
            held_on=day,
            title=title,
            participants=participants,
            summary=summary,
            reporter_id=reporter,
            pairing_id=pairing_id,
            alliance_id=alliance_id,
            created_at=at(2026, 1, 1),
        )
        session.add(activity)
        session.flush()
        assert activity.id is not None
        for partner in partners:
            session.add(ActivityPartner(activity_id=activity.id, organization_id=partner))
        return activity.id


# -- reading a quarter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Quarter(2026, 4)),
        ("本季度", Quarter(2026, 4)),
        ("  this quarter ", Quarter(2026, 4)),
        ("上季度", Quarter(2026, 3)),
        ("last", Quarter(2026, 3)),
        ("2026Q2", Quarter(2026, 2)),
        ("2025 q4", Quarter(2025, 4)),
        ("2026-Q1", Quarter(2026, 1)),
        ("2026年第三季度", Quarter(2026, 3)),
        ("2026年4季度", Quarter(2026, 4)),
        ("2026Q5", None),
        ("Q4", None),
        ("下季度 2026", None),
        ("abc", None),
        ("20264", None),
    ],
)
def test_parse_quarter(text: str, expected: Quarter | None) -> None:
    assert parse_quarter(text, date(2026, 11, 3)) == expected


def test_last_quarter_crosses_the_year() -> None:
    assert parse_quarter("上季度", date(2027, 2, 1)) == Quarter(2026, 4)


# -- tallies ----------------------------------------------------------------------------------


def test_quarter_tallies_per_meeting_and_member(database: Database, world: World) -> None:
    joined(database, date(2026, 1, 1))
    b1 = world.orgs["B1"]
    october = add_meeting(database, org=b1, day=date(2026, 10, 6))
    answer(database, october, world, present=("sec", "deputy", "m2"), leave=("m1",))
    # liaison did not answer: absent. The meeting today has started at 09:00 (now 09:30).
    november = add_meeting(database, org=b1, day=date(2026, 11, 3))
    answer(database, november, world, present=("sec", "m1"), absent=("m2",))
    lecture = add_meeting(database, org=b1, day=date(2026, 10, 20), kind=MeetingKind.LECTURE)
    answer(database, lecture, world, leave=("m2",))
    # Not counted: a cancelled meeting, a meeting later today, one next month, another branch's.
    cancelled = add_meeting(
        database,
        org=b1,
        day=date(2026, 10, 27),
        kind=MeetingKind.COMMITTEE,
        status=MeetingStatus.CANCELLED,
    )
    answer(database, cancelled, world, present=("sec",))
    add_meeting(database, org=b1, day=date(2026, 11, 3), kind=MeetingKind.GROUP, hour=15)
    add_meeting(database, org=b1, day=date(2026, 12, 1))
    other = add_meeting(database, org=world.orgs["B2"], day=date(2026, 10, 6))
    answer(database, other, world, present=("sec2",))

    with database.session() as session:
        report = attendance_report(
            session, org_id=b1, quarter=Quarter(2026, 4), now=at(2026, 11, 3, 9, 30), tz=SH
        )

    assert [(m.held_on, m.kind) for m in report.meetings] == [
        (date(2026, 10, 6), MeetingKind.ORG_LIFE),
        (date(2026, 10, 20), MeetingKind.LECTURE),
        (date(2026, 11, 3), MeetingKind.ORG_LIFE),
    ]
    first, lecture_tally, today = report.meetings
    assert (first.present, first.leave, first.absent, first.expected) == (3, 1, 1, 5)
    # 应到 counts everyone, those on leave included; the rate is 实到 / 应到.
    assert first.rate == pytest.approx(0.6)
    # Nobody signed in to the lecture: it is listed but counts against no one.
    assert not lecture_tally.taken
    assert (lecture_tally.present, lecture_tally.absent) == (0, 0)
    assert (today.present, today.leave, today.absent) == (2, 0, 3)
    assert [m.meeting_id for m in report.taken] == [october, november]
    assert (report.present, report.leave, report.absent) == (5, 1, 4)
    assert report.rate == pytest.approx(5 / 10)

    by_name = {m.name: m for m in report.members}
    assert set(by_name) == {"sec", "deputy", "liaison", "m1", "m2"}
    assert by_name["sec"].marks == (AttendanceStatus.PRESENT, None, AttendanceStatus.PRESENT)
    assert (by_name["m1"].present, by_name["m1"].leave, by_name["m1"].absent) == (1, 1, 0)
    assert by_name["m1"].rate == 0.5
    assert (by_name["liaison"].present, by_name["liaison"].absent) == (0, 2)
    assert by_name["liaison"].rate == 0.0
    assert report.member(world.members["m2"]) == by_name["m2"]
    assert report.member(world.members["sec2"]) is None


def test_members_count_only_while_they_belong(database: Database, world: World) -> None:
    joined(database, date(2026, 1, 1))
    joined(database, date(2026, 11, 1), "m1", world)
    b1 = world.orgs["B1"]
    with database.session() as session:
        session.execute(
            update(Member)
            .where(col(Member.id) == world.members["m2"])
            .values(status=MemberStatus.DEPARTED, departed_at=at(2026, 10, 20))
        )
    october = add_meeting(database, org=b1, day=date(2026, 10, 6))
    answer(database, october, world, present=("sec",))
    november = add_meeting(database, org=b1, day=date(2026, 11, 3))
    answer(database, november, world, present=("sec", "m1"))

    with database.session() as session:
        report = attendance_report(
            session, org_id=b1, quarter=Quarter(2026, 4), now=at(2026, 11, 3, 12), tz=SH
        )

    by_name = {m.name: m for m in report.members}
    # m1 joined on November 1: not expected in October. m2 left on October 20: expected only then.
    assert by_name["m1"].marks == (None, AttendanceStatus.PRESENT)
    assert by_name["m2"].marks == (AttendanceStatus.ABSENT, None)
    assert [m.expected for m in report.meetings] == [4, 4]


def test_an_empty_quarter(database: Database, world: World) -> None:
    with database.session() as session:
        report = attendance_report(
            session,
            org_id=world.orgs["B3"],
            quarter=Quarter(2026, 4),
            now=at(2026, 11, 3, 12),
            tz=SH,
        )
    assert report.meetings == () and report.members == ()
    assert (report.expected, report.rate) == (0, 0.0)


def test_many_organizations_in_one_go(database: Database, world: World) -> None:
    joined(database, date(2026, 1, 1))
    b1, b2 = world.orgs["B1"], world.orgs["B2"]
    answer(database, add_meeting(database, org=b1, day=date(2026, 3, 3)), world, present=("sec",))
    answer(database, add_meeting(database, org=b2, day=date(2026, 3, 3)), world, present=("m3",))
    with database.session() as session:
        reports = attendance_reports(
            session,
            org_ids=[b1, b2, world.orgs["B3"]],
            first_day=date(2026, 1, 1),
            last_day=date(2026, 12, 31),
            now=at(2026, 12, 31) + timedelta(hours=12),
            tz=SH,
        )
    assert set(reports) == {b1, b2, world.orgs["B3"]}
    assert (reports[b1].present, reports[b1].expected) == (1, 5)
    assert (reports[b2].present, reports[b2].expected) == (1, 2)
    assert {m.name for m in reports[b2].members} == {"sec2", "m3"}
    assert reports[world.orgs["B3"]].meetings == ()
