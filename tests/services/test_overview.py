"""The overview checks a whole scope at once, and says exactly what each branch's own report says."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlmodel import Session, col, delete, select, update

from bench.cityscale import TINY_CITY, build_city
from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import (
    AttendanceStatus,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    RoleKind,
)
from bot.demo import COMMITTEE, build_demo
from bot.services.compliance import State, compliance_report
from bot.services.errors import ServiceError
from bot.services.overview import BRANCH_KINDS, Overview, district_overview
from bot.services.stats import attendance_and_org_life, attendance_reports
from bot.services.tallies import scope_tallies
from storage.engine import Database
from storage.models import Attendance, Meeting, Member, Organization, Role
from tests.conftest import DEFAULT_NOW, SHANGHAI

HOLIDAYS = HolidayCalendar.load()
CITY_NOW = datetime(2026, 11, 3, 9, 5, tzinfo=SHANGHAI)


def overview_of(
    session: Session, quarter: Quarter, now: datetime, org_ids: frozenset[int] | None = None
) -> Overview:
    """The overview of every organization (or those given) for a quarter."""
    scope = org_ids if org_ids is not None else frozenset(all_orgs(session))
    return district_overview(
        session, org_ids=scope, quarter=quarter, now=now, holidays=HOLIDAYS, tz=SHANGHAI
    )


def all_orgs(session: Session) -> list[int]:
    """Lists every organization's id."""
    return [org_id for org_id in session.exec(select(Organization.id)).all() if org_id]


def assert_as_each_report(
    session: Session, quarter: Quarter, now: datetime, org_ids: frozenset[int] | None = None
) -> Overview:
    """Checks the overview line by line against each branch's own compliance report."""
    overview = overview_of(session, quarter, now, org_ids)
    scope = org_ids if org_ids is not None else frozenset(all_orgs(session))
    branches = session.exec(
        select(Organization.id).where(
            col(Organization.id).in_(scope), col(Organization.kind).in_(BRANCH_KINDS)
        )
    ).all()
    assert sorted(s.org.id for s in overview.standings) == sorted(b for b in branches if b)
    for standing in overview.standings:
        report = compliance_report(
            session,
            org_id=standing.org.id,
            quarter=quarter,
            now=now,
            holidays=HOLIDAYS,
            tz=SHANGHAI,
        )
        assert standing.sections == report.sections, standing.org.code
        assert standing.missing_liaisons == report.missing_liaisons, standing.org.code
        assert standing.lines == report.lines
        for state in State:
            assert standing.count(state) == report.count(state)
    keys = [(-s.count(State.MISSED), -s.count(State.OWED), s.org.code) for s in overview.standings]
    assert keys == sorted(keys)
    return overview


def expected_attendance(
    session: Session, overview: Overview, quarter: Quarter, now: datetime
) -> tuple[tuple[int, float], ...]:
    """The attendance by month as the per-organization reports count it."""
    reports = attendance_reports(
        session,
        org_ids=[s.org.id for s in overview.standings],
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        now=now,
        tz=SHANGHAI,
    )
    present: Counter[int] = Counter()
    expected: Counter[int] = Counter()
    for report in reports.values():
        for meeting in report.taken:
            present[meeting.held_on.month] += meeting.present
            expected[meeting.held_on.month] += meeting.present + meeting.absent
    months = range(quarter.first_day.month, quarter.last_day.month + 1)
    return tuple((m, present[m] / expected[m] if expected[m] else 0.0) for m in months)


def assert_tallies_as_stats(session: Session, quarter: Quarter, now: datetime) -> None:
    """Checks the scope's tallies against each organization's attendance report."""
    orgs = all_orgs(session)
    tallies = scope_tallies(session, org_ids=orgs, quarter=quarter, now=now, tz=SHANGHAI)
    for org_id in orgs:
        report, stored = attendance_and_org_life(
            session, org_id=org_id, quarter=quarter, now=now, tz=SHANGHAI
        )
        assert tallies.meetings.get(org_id, ()) == report.meetings, org_id
        assert tallies.stored.get(org_id, {}) == stored, org_id


# -- the demo district, with the awkward cases added ----------------------------------------


def demo_with_edges(database: Database) -> None:
    """Builds the demo, then adds what the demo lacks: a lone branch, comings and goings."""
    with database.session() as session:
        build_demo(
            session,
            now=DEFAULT_NOW,
            tz=SHANGHAI,
            holidays=HOLIDAYS,
            invite_ttl=timedelta(hours=144),
        )
    with database.session() as session:
        ids = {org.code: org.id for org in session.exec(select(Organization)).all()}
        committee = ids[COMMITTEE]
        branches = sorted(
            code
            for code, org_id in ids.items()
            if session.get_one(Organization, org_id).kind in BRANCH_KINDS
        )
        first, second = ids[branches[0]], ids[branches[1]]
        # A branch in no alliance and no pairing, with one member who joined mid-quarter.
        lone = Organization(
            code="HW-LONE",
            name="孤岛党支部",
            kind=OrgKind.BRANCH,
            parent_id=committee,
            created_at=datetime(2024, 1, 1, tzinfo=SHANGHAI),
        )
        session.add(lone)
        session.flush()
        assert lone.id is not None
        session.add(
            Member(
                name="新来的",
                organization_id=lone.id,
                status=MemberStatus.FULL,
                created_at=datetime(2026, 10, 20, 10, tzinfo=SHANGHAI),
            )
        )
        members = session.exec(
            select(Member).where(Member.organization_id == first).order_by(col(Member.id))
        ).all()
        # One member left mid-quarter, one joined mid-quarter.
        leaving, coming = members[0], members[1]
        leaving.status = MemberStatus.DEPARTED
        leaving.departed_at = datetime(2026, 10, 20, 18, tzinfo=SHANGHAI)
        coming.created_at = datetime(2026, 10, 1, 8, tzinfo=SHANGHAI)
        # A member of another branch signs in at the first branch's October meeting.
        october = session.exec(
            select(Meeting).where(
                Meeting.organization_id == first,
                Meeting.kind == MeetingKind.ORG_LIFE,
                Meeting.period == "2026-10",
            )
        ).first()
        guest = session.exec(select(Member).where(Member.organization_id == second)).first()
        assert october is not None and october.id is not None and guest is not None
        session.execute(
            delete(Attendance).where(
                col(Attendance.meeting_id) == october.id, col(Attendance.member_id) == guest.id
            )
        )
        session.add(
            Attendance(
                meeting_id=october.id,
                member_id=guest.id or 0,
                status=AttendanceStatus.PRESENT,
                at=october.starts_at,
            )
        )
        # The second branch's September meeting was cancelled; it names no liaison.
        session.execute(
            update(Meeting)
            .where(
                col(Meeting.organization_id) == second,
                col(Meeting.kind) == MeetingKind.ORG_LIFE,
                col(Meeting.period) == "2026-09",
            )
            .values(status=MeetingStatus.CANCELLED)
        )
        session.execute(
            delete(Role).where(
                col(Role.organization_id) == second, col(Role.role) == RoleKind.LIAISON
            )
        )


@pytest.mark.parametrize(
    "quarter", [Quarter(2026, 4), Quarter(2026, 3), Quarter(2026, 1), Quarter(2025, 4)]
)
def test_the_demo_overview_says_what_each_branch_report_says(
    database: Database, quarter: Quarter
) -> None:
    demo_with_edges(database)
    with database.session() as session:
        overview = assert_as_each_report(session, quarter, DEFAULT_NOW)
        assert overview.attendance_by_month == expected_attendance(
            session, overview, quarter, DEFAULT_NOW
        )
        assert_tallies_as_stats(session, quarter, DEFAULT_NOW)
        lone = next(s for s in overview.standings if s.org.code == "HW-LONE")
        assert len(lone.sections) == 1


def test_a_part_of_the_district_reads_its_partners_outside_the_scope(database: Database) -> None:
    demo_with_edges(database)
    with database.session() as session:
        ids = {org.code: org.id or 0 for org in session.exec(select(Organization)).all()}
        # Two branches only: their alliance's and pairings' other organizations are outside.
        scope = frozenset(sorted(ids.values())[1:3])
        overview = assert_as_each_report(session, Quarter(2026, 4), DEFAULT_NOW, scope)
        assert len(overview.standings) == 2


def test_an_empty_scope_and_a_quarter_ahead(database: Database) -> None:
    demo_with_edges(database)
    with database.session() as session:
        empty = overview_of(session, Quarter(2026, 4), DEFAULT_NOW, frozenset())
        assert empty.standings == () and empty.activities_by_kind == ()
        assert [rate for _, rate in empty.attendance_by_month] == [0.0, 0.0, 0.0]
        with pytest.raises(ServiceError):
            overview_of(session, Quarter(2027, 1), DEFAULT_NOW)


# -- a generated city --------------------------------------------------------------------------


@pytest.fixture
def city(database_url: str, database: Database) -> Database:
    """A tiny generated city in the test database."""
    build_city(database_url, TINY_CITY, holidays=HOLIDAYS)
    with database.session() as session:
        # A member leaves and another joins during the fourth quarter.
        members = session.exec(select(Member).order_by(col(Member.id)).limit(2)).all()
        members[0].status = MemberStatus.DEPARTED
        members[0].departed_at = datetime.combine(date(2026, 10, 15), time(12), SHANGHAI)
        members[1].created_at = datetime.combine(date(2026, 10, 2), time(12), SHANGHAI)
    return database


@pytest.mark.parametrize("quarter", [Quarter(2026, 4), Quarter(2026, 2), Quarter(2025, 4)])
def test_a_generated_city_overview_says_what_each_branch_report_says(
    city: Database, quarter: Quarter
) -> None:
    with city.session() as session:
        overview = assert_as_each_report(session, quarter, CITY_NOW)
        assert overview.attendance_by_month == expected_attendance(
            session, overview, quarter, CITY_NOW
        )
        assert_tallies_as_stats(session, quarter, CITY_NOW)
        assert overview.standings and overview.requirements
