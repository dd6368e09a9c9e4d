"""Member points: sign-ins, reports and theme days taken part in or organized, weighted, per year, ranked."""

from __future__ import annotations

from datetime import date, datetime

from bot.core.clock import FrozenClock
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    RoleKind,
)
from bot.services.members import grant_role
from bot.services.points import PointsTable, PointWeights, points_table
from storage.engine import Database
from storage.models import Activity, Attendance, Meeting, Member, Role, RoleTerm
from tests.conftest import SHANGHAI
from tests.factories import World

WEIGHTS = PointWeights(checkin=2, report=3, theme_day=5)


def add_meeting(
    session: object,
    world: World,
    day: date,
    *,
    org: str = "B1",
    kind: MeetingKind = MeetingKind.BRANCH_ASSEMBLY,
    status: MeetingStatus = MeetingStatus.HELD,
    alliance: bool = False,
) -> int:
    row = Meeting(
        organization_id=world.orgs[org],
        kind=kind,
        period=f"{day:%Y-%m-%d}",
        held_on=day,
        starts_at=datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI),
        checkin_code="000000",
        status=status,
        alliance_id=world.alliance_id if alliance else None,
    )
    session.add(row)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    assert row.id is not None
    return row.id


def sign_in(session: object, meeting_id: int, member_id: int, status: AttendanceStatus) -> None:
    session.add(  # type: ignore[attr-defined]
        Attendance(
            meeting_id=meeting_id,
            member_id=member_id,
            status=status,
            at=datetime(2026, 1, 1, tzinfo=SHANGHAI),
        )
    )


def report(session: object, world: World, member: str, day: date) -> None:
    session.add(  # type: ignore[attr-defined]
        Activity(
            organization_id=world.orgs["B1"],
            kind=ActivityKind.STUDY,
            held_on=day,
            title="学习",
            participants=5,
            summary="学习",
            reporter_id=world.members[member],
            created_at=datetime(2026, 1, 1, tzinfo=SHANGHAI),
        )
    )


def table(
    database: Database, world: World, clock: FrozenClock, *, org: str = "B1", year: int = 2026
) -> PointsTable:
    with database.session() as session:
        return points_table(
            session,
            org_id=world.orgs[org],
            year=year,
            weights=WEIGHTS,
            now=clock.now(),
            today=clock.now().date(),
        )


def seed(database: Database, world: World) -> None:
    with database.session() as session:
        march = add_meeting(session, world, date(2026, 3, 3))
        april = add_meeting(session, world, date(2026, 4, 7))
        last_year = add_meeting(session, world, date(2025, 12, 2))
        for member in ("m1", "m2", "sec"):
            sign_in(session, march, world.members[member], AttendanceStatus.PRESENT)
        sign_in(session, april, world.members["m1"], AttendanceStatus.PRESENT)
        sign_in(session, april, world.members["m2"], AttendanceStatus.LEAVE)
        sign_in(session, last_year, world.members["m2"], AttendanceStatus.PRESENT)
        report(session, world, "m1", date(2026, 5, 1))
        report(session, world, "m2", date(2026, 6, 1))
        report(session, world, "m2", date(2025, 6, 1))
        # Monthly theme duty from 2026-01 over B1..B4: January and May 2026 are B1's.
        add_meeting(
            session, world, date(2026, 1, 20), org="B2", kind=MeetingKind.THEME_DAY, alliance=True
        )
        add_meeting(
            session, world, date(2026, 5, 19), org="B1", kind=MeetingKind.THEME_DAY, alliance=True
        )
        # February is B2's, cancelled days and days still ahead do not count.
        add_meeting(
            session, world, date(2026, 2, 17), org="B1", kind=MeetingKind.THEME_DAY, alliance=True
        )
        add_meeting(
            session,
            world,
            date(2026, 9, 15),
            org="B1",
            kind=MeetingKind.THEME_DAY,
            alliance=True,
            status=MeetingStatus.CANCELLED,
        )
        add_meeting(
            session,
            world,
            date(2026, 12, 15),
            org="B1",
            kind=MeetingKind.THEME_DAY,
            alliance=True,
            status=MeetingStatus.PLANNED,
        )


def test_points_add_up_and_rank(database: Database, world: World, clock: FrozenClock) -> None:
    seed(database, world)
    result = table(database, world, clock)
    rows = {row.name: row for row in result.rows}
    assert (rows["m1"].checkins, rows["m1"].reports, rows["m1"].total) == (2, 1, 7)
    assert (rows["m2"].checkins, rows["m2"].reports, rows["m2"].total) == (1, 1, 5)
    # The secretary of the unit on duty led January's and May's theme days (February was B2's).
    assert (rows["sec"].checkins, rows["sec"].theme_days, rows["sec"].total) == (1, 2, 12)
    assert rows["deputy"].total == 0 and rows["deputy"].theme_days == 0
    assert [row.name for row in result.rows][:3] == ["sec", "m1", "m2"]
    assert [row.rank for row in result.rows] == [1, 2, 3, 4, 4]
    assert result.of(world.members["m1"]) == rows["m1"]
    assert result.of(world.members["m3"]) is None


def test_weights_are_configurable(database: Database, world: World, clock: FrozenClock) -> None:
    seed(database, world)
    with database.session() as session:
        result = points_table(
            session,
            org_id=world.orgs["B1"],
            year=2026,
            weights=PointWeights(checkin=1, report=0, theme_day=10),
            now=clock.now(),
            today=clock.now().date(),
        )
    rows = {row.name: row.total for row in result.rows}
    assert rows == {"sec": 21, "m1": 2, "m2": 1, "deputy": 0, "liaison": 0}


def test_another_year_and_departed_members(
    database: Database, world: World, clock: FrozenClock
) -> None:
    seed(database, world)
    with database.session() as session:
        member = session.get_one(Member, world.members["m1"])
        member.status = MemberStatus.DEPARTED
        session.add(member)
    last = table(database, world, clock, year=2025)
    assert {row.name: row.total for row in last.rows if row.total} == {"m2": 5}
    assert "m1" not in {row.name for row in table(database, world, clock).rows}


def test_ties_share_a_rank_and_the_on_duty_unit_without_secretary_earns_nothing(
    database: Database, world: World, clock: FrozenClock
) -> None:
    with database.session() as session:
        # November 2026 is B3's theme duty; B3 has no secretary at all.
        add_meeting(
            session, world, date(2026, 11, 2), org="B3", kind=MeetingKind.THEME_DAY, alliance=True
        )
    result = table(database, world, clock, org="B3")
    assert result.rows == []
    second = table(database, world, clock, org="B2")
    assert [(row.name, row.rank, row.total) for row in second.rows] == [
        ("m3", 1, 0),
        ("sec2", 1, 0),
    ]
    with database.session() as session:
        session.add(
            Role(
                organization_id=world.orgs["B3"],
                member_id=world.members["m3"],
                role=RoleKind.SECRETARY,
            )
        )
    # A secretary role elsewhere does not make m3 B3's member: B3 still has nobody to rank.
    assert table(database, world, clock, org="B3").rows == []


def test_theme_day_points_go_to_participants_and_the_secretary_of_that_day(
    database: Database, world: World, clock: FrozenClock
) -> None:
    with database.session() as session:
        # sec was secretary from January; deputy took over in May (role history).
        grant_role(
            session,
            org_id=world.orgs["B1"],
            member_id=world.members["deputy"],
            role=RoleKind.SECRETARY,
            on=date(2026, 5, 1),
        )
        session.add(
            RoleTerm(
                organization_id=world.orgs["B1"],
                member_id=world.members["sec"],
                role=RoleKind.SECRETARY,
                started_on=date(2026, 1, 1),
            )
        )
        # Monthly duty over B1..B4 from January: January and May are B1's.
        add_meeting(
            session, world, date(2026, 1, 20), org="B1", kind=MeetingKind.THEME_DAY, alliance=True
        )
        may = add_meeting(
            session, world, date(2026, 5, 19), org="B1", kind=MeetingKind.THEME_DAY, alliance=True
        )
        for member in ("m1", "deputy"):
            sign_in(session, may, world.members[member], AttendanceStatus.PRESENT)
    rows = {row.name: row for row in table(database, world, clock).rows}
    assert rows["sec"].theme_days == 1  # January, as secretary then
    assert rows["deputy"].theme_days == 1  # May: organized and took part, counted once
    assert rows["m1"].theme_days == 1  # took part in May
    assert rows["m2"].theme_days == 0


def test_report_points_go_to_those_who_took_part(
    database: Database, world: World, clock: FrozenClock
) -> None:
    with database.session() as session:
        march = add_meeting(session, world, date(2026, 3, 3))
        for member in ("m1", "sec"):
            sign_in(session, march, world.members[member], AttendanceStatus.PRESENT)
        report(session, world, "m2", date(2026, 3, 3))
    rows = {row.name: row for row in table(database, world, clock).rows}
    assert (rows["m2"].reports, rows["m1"].reports, rows["sec"].reports) == (1, 1, 1)
    assert rows["deputy"].reports == 0
