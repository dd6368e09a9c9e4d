"""The secretaries' answers read in a few statements whatever the groups, and read the same."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import event

from bot.calendar.quarters import Quarter
from bot.config import Settings
from bot.core.domain import ActivityKind, MeetingKind, MeetingStatus, MemberStatus, OrgKind
from bot.core.records import MemberView, OrgView
from bot.services.compliance import compliance_report
from bot.services.obligations.facts import Part, load_facts
from bot.services.reminders import Reminders
from bot.services.stats import attendance_and_org_life, attendance_report, attendance_reports
from bot.services.use_cases import Services
from storage.engine import Database
from storage.models import Meeting, Organization, Pairing, PairingOrg
from tests.factories import World, add_org
from tests.services.test_compliance import HOLIDAYS
from tests.services.test_stats import SH, add_activity, add_meeting, answer, at, joined

NOW = at(2026, 11, 20, 10)
QUARTER = Quarter(2026, 4)


@contextmanager
def counted(database: Database) -> Iterator[list[str]]:
    """Collects the statements run on the database meanwhile."""
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", note)


def add_pairing(database: Database, code: str, lead: int, *others: int) -> int:
    """Pairs organizations (the lead first) and returns the pairing's id."""
    with database.session() as session:
        pairing = Pairing(
            code=code, name=f"{code}结对", lead_org_id=lead, agreement_start=date(2026, 1, 1)
        )
        session.add(pairing)
        session.flush()
        assert pairing.id is not None
        for org in (lead, *others):
            session.add(PairingOrg(pairing_id=pairing.id, organization_id=org))
        return pairing.id


def add_branch(database: Database, world: World, code: str) -> int:
    """Adds a branch in no alliance."""
    with database.session() as session:
        org = add_org(
            session,
            code=code,
            name=f"{code}支部",
            kind=OrgKind.BRANCH,
            parent=world.orgs["C"],
            now=NOW,
        )
    world.orgs[code] = org
    return org


def lead_of(world: World, code: str) -> MemberView:
    """A secretary's view of an organization of the world."""
    org = OrgView(id=world.orgs[code], code=code, name=code, kind=OrgKind.BRANCH)
    return MemberView(
        id=world.members["sec"], name="sec", org=org, status=MemberStatus.FULL, locale=None
    )


def test_roster_of_a_branch_in_a_pairing_only(
    database: Database, world: World, settings: Settings
) -> None:
    b5 = add_branch(database, world, "B5")
    p2 = add_pairing(database, "P2", world.orgs["B3"], b5)
    visit = add_meeting(
        database, org=b5, day=date(2026, 11, 10), kind=MeetingKind.VISIT, pairing_id=p2
    )
    shared = add_meeting(
        database,
        org=world.orgs["B3"],
        day=date(2026, 10, 12),
        kind=MeetingKind.JOINT_MEETING,
        alliance_id=world.alliance_id,
        pairing_id=p2,
    )
    earlier = add_meeting(
        database, org=b5, day=date(2026, 3, 10), kind=MeetingKind.VISIT, pairing_id=p2
    )
    add_meeting(
        database,
        org=world.orgs["B1"],
        day=date(2026, 11, 11),
        kind=MeetingKind.JOINT_MEETING,
        alliance_id=world.alliance_id,
    )
    add_meeting(
        database,
        org=world.orgs["B1"],
        day=date(2026, 11, 12),
        kind=MeetingKind.VISIT,
        pairing_id=world.pairing_id,
    )
    with database.session() as session:
        services = Services(session, now=NOW, tz=SH, holidays=HOLIDAYS, settings=settings)
        with counted(database) as statements:
            answer_ = services.roster(b5, QUARTER.first_day, QUARTER.last_day)
        # The alliances (none), the pairings with their organizations, the meetings.
        assert len(statements) == 3
    assert answer_.alliances == []
    [pairing] = answer_.pairings
    assert pairing.name == "P2结对"
    assert [meeting.id for meeting in pairing.meetings] == [shared, visit]
    # The lead hosts 2026Q1 and Q3, B5 Q2 and Q4.
    assert [(str(q), org.code) for q, org in pairing.hosts] == [("2026Q4", "B5")]
    # The year's visits and joint activities up to today, the one of March included.
    assert pairing.visits_done == 3
    assert earlier not in [meeting.id for meeting in pairing.meetings]


def test_roster_reads_the_same_statements_however_many_groups(
    database: Database, world: World, settings: Settings
) -> None:
    def statements_for(code: str) -> int:
        with database.session() as session:
            services = Services(session, now=NOW, tz=SH, holidays=HOLIDAYS, settings=settings)
            with counted(database) as statements:
                services.roster(world.orgs[code], QUARTER.first_day, QUARTER.last_day)
            return len(statements)

    # Alliances with units, overrides, pairings with organizations, meetings.
    assert statements_for("B1") == 4
    add_pairing(database, "P3", world.orgs["B1"], world.orgs["B3"])
    add_pairing(database, "P4", world.orgs["B4"], world.orgs["B1"])
    add_meeting(
        database,
        org=world.orgs["B3"],
        day=date(2026, 11, 5),
        kind=MeetingKind.THEME_DAY,
        alliance_id=world.alliance_id,
    )
    assert statements_for("B1") == 4


def test_compliance_and_pending_read_few_statements(database: Database, world: World) -> None:
    b5 = add_branch(database, world, "B5")
    add_pairing(database, "P2", world.orgs["B3"], b5)
    with database.session() as session:
        # As in a conversation, the session holds the asker's organization already.
        asker = session.get_one(Organization, world.orgs["B3"])
        with counted(database) as statements:
            compliance_report(
                session, org_id=world.orgs["B3"], quarter=QUARTER, now=NOW, holidays=HOLIDAYS, tz=SH
            )
        # The groups with the organizations around, their records and filings, attendance,
        # and which of the groups' organizations name no liaison.
        assert len(statements) == 4
        reminders = Reminders(session, now=NOW, tz=SH, holidays=HOLIDAYS)
        with counted(database) as statements:
            reminders.pending(lead_of(world, "B3"))
        # The groups with the organizations around, the leads, the records and filings.
        assert len(statements) == 3
        assert asker.code == "B3"


def test_stored_org_life_days_are_found_whatever_their_day_and_status(
    database: Database, world: World
) -> None:
    joined(database, date(2026, 1, 1))
    b1 = world.orgs["B1"]
    october = add_meeting(database, org=b1, day=date(2026, 10, 6))
    answer(database, october, world, present=("sec", "m1"), leave=("m2",))
    # November's day was moved into December; December's was cancelled.
    november = add_meeting(database, org=b1, day=date(2026, 12, 1))
    with database.session() as session:
        meeting = session.get_one(Meeting, november)
        meeting.period = "2026-11"
    december = add_meeting(database, org=b1, day=date(2026, 12, 8), status=MeetingStatus.CANCELLED)
    with database.session() as session:
        report, days = attendance_and_org_life(session, org_id=b1, quarter=QUARTER, now=NOW, tz=SH)
        alone = attendance_report(session, org_id=b1, quarter=QUARTER, now=NOW, tz=SH)
    assert report == alone
    assert {key: (day.meeting_id, day.status) for key, day in days.items()} == {
        "2026-10": (october, MeetingStatus.PLANNED),
        "2026-11": (november, MeetingStatus.PLANNED),
        "2026-12": (december, MeetingStatus.CANCELLED),
    }
    # Only the day that has started is tallied.
    assert [tally.meeting_id for tally in report.meetings] == [october]
    assert (report.present, report.leave) == (2, 1)


def test_a_member_who_moved_counts_where_they_answered(database: Database, world: World) -> None:
    joined(database, date(2026, 1, 1))
    b1, b2 = world.orgs["B1"], world.orgs["B2"]
    held = add_meeting(database, org=b1, day=date(2026, 10, 6))
    answer(database, held, world, present=("sec", "sec2"))
    ahead = add_meeting(database, org=b1, day=date(2026, 12, 1))
    answer(database, ahead, world, leave=("m3",))
    with database.session() as session:
        reports = attendance_reports(
            session,
            org_ids=[b1, b2],
            first_day=QUARTER.first_day,
            last_day=NOW.date(),
            now=NOW,
            tz=SH,
        )
        one = attendance_report(session, org_id=b1, quarter=QUARTER, now=NOW, tz=SH)
        assert (
            attendance_reports(
                session,
                org_ids=[],
                first_day=QUARTER.first_day,
                last_day=NOW.date(),
                now=NOW,
                tz=SH,
            )
            == {}
        )
    # sec2 (of B2) answered B1's day: counted there, and listed in both reports.
    names = [member.name for member in one.members]
    # m3 (of B2) only answered a day still to come: not B1's.
    assert "sec2" in names and "m3" not in names
    assert reports[b1].member(world.members["sec2"]) is not None
    assert [tally.present for tally in one.meetings] == [2]
    assert set(reports) == {b1, b2}


def test_group_records_count_a_meeting_of_both_an_alliance_and_a_pairing(
    database: Database, world: World
) -> None:
    b5 = add_branch(database, world, "B5")
    p2 = add_pairing(database, "P2", world.orgs["B3"], b5)
    add_meeting(
        database,
        org=world.orgs["B3"],
        day=date(2026, 10, 12),
        kind=MeetingKind.JOINT_MEETING,
        alliance_id=world.alliance_id,
        pairing_id=p2,
    )
    add_activity(database, org=b5, day=date(2026, 11, 2), kind=ActivityKind.VISIT, pairing_id=p2)
    moment: datetime = NOW
    with database.session() as session:
        around = load_facts(session, now=moment, holidays=HOLIDAYS, around=b5, parts=Part.NONE)
        city = load_facts(session, now=moment, holidays=HOLIDAYS, parts=Part.NONE)
    assert (p2, "2026Q4") in around.pairing_joint
    assert (world.alliance_id, "2026Q4") in around.alliance_joint
    assert around.pairing_visits[p2] == city.pairing_visits[p2] == {date(2026, 11, 2)}
    assert set(around.orgs) == {b5, world.orgs["B3"]}
