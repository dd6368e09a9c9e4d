"""Compliance lines: a branch on track, one behind, one that missed, with the clock frozen at chosen days."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import ActivityKind, MeetingKind, MeetingStatus
from bot.services.compliance import (
    ComplianceReport,
    Line,
    Requirement,
    State,
    Subject,
    compliance_report,
    describe_report,
    judge,
)
from bot.services.errors import ServiceError
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import Pairing
from storage.reminders import (
    FilingKind,
    FilingMethod,
    alliance_scope,
    org_scope,
    pairing_scope,
    record_filing,
)
from tests.factories import World
from tests.services.test_stats import SH, add_activity, add_meeting, answer, at, joined

HOLIDAYS = HolidayCalendar.load()


def report_for(
    database: Database, world: World, now: datetime, quarter: Quarter | None = None, org: str = "B1"
) -> ComplianceReport:
    """Checks an organization at `now` for a quarter (the current one by default)."""
    with database.session() as session:
        return compliance_report(
            session,
            org_id=world.orgs[org],
            quarter=quarter or Quarter.of(now.date()),
            now=now,
            holidays=HOLIDAYS,
            tz=SH,
        )


def lines_of(report: ComplianceReport, subject: Subject) -> list[Line]:
    """Returns the lines of the (first) section about `subject`."""
    return list(next(s for s in report.sections if s.subject is subject).lines)


def one(lines: list[Line], requirement: Requirement, period: str | None = None) -> Line:
    """Returns the single line of a requirement (and period)."""
    found = [
        line
        for line in lines
        if line.requirement is requirement and (period is None or line.period == period)
    ]
    assert len(found) == 1, found
    return found[0]


def file(database: Database, kind: FilingKind, scope: str, period: str) -> None:
    """Records a filed report."""
    with database.session() as session:
        record_filing(
            session=session,
            kind=kind,
            scope=scope,
            period=period,
            method=FilingMethod.SUBMITTED,
            at=at(2026, 1, 20),
            by=None,
        )


def joint_meeting(database: Database, world: World, day: date, host: str = "B1") -> None:
    """Records an alliance joint meeting."""
    add_meeting(
        database,
        org=world.orgs[host],
        day=day,
        kind=MeetingKind.JOINT_MEETING,
        alliance_id=world.alliance_id,
    )


def visit(database: Database, world: World, day: date, host: str = "B1") -> None:
    """Records a pairing visit."""
    add_meeting(
        database, org=world.orgs[host], day=day, kind=MeetingKind.VISIT, pairing_id=world.pairing_id
    )


@pytest.mark.parametrize(
    ("done", "deadline", "today", "expected"),
    [
        (True, date(2026, 1, 1), date(2026, 3, 1), (State.DONE, 0)),
        (False, date(2026, 3, 31), date(2026, 3, 31), (State.OWED, 1)),
        (False, date(2026, 3, 31), date(2026, 3, 1), (State.OWED, 31)),
        (False, date(2026, 3, 31), date(2026, 4, 1), (State.MISSED, 0)),
    ],
)
def test_judge(done: bool, deadline: date, today: date, expected: tuple[State, int]) -> None:
    assert judge(done, deadline, today) == expected


def test_a_branch_on_track(database: Database, world: World) -> None:
    joined(database, date(2026, 1, 1))
    b1 = world.orgs["B1"]
    october = add_meeting(database, org=b1, day=date(2026, 10, 6))
    answer(database, october, world, present=("sec", "deputy", "liaison", "m1"), leave=("m2",))
    for day in (date(2026, 2, 10), date(2026, 5, 12), date(2026, 8, 11), date(2026, 10, 15)):
        joint_meeting(database, world, day)
    add_meeting(
        database,
        org=world.orgs["B2"],
        day=date(2026, 10, 10),
        kind=MeetingKind.THEME_DAY,
        alliance_id=world.alliance_id,
    )
    visit(database, world, date(2026, 3, 5))
    visit(database, world, date(2026, 6, 20), host="B2")
    for day in (date(2026, 8, 8), date(2026, 10, 12)):
        add_activity(
            database, org=b1, day=day, partners=(world.orgs["B2"],), pairing_id=world.pairing_id
        )
    file(database, FilingKind.ANNUAL_PLAN, alliance_scope(world.alliance_id), "2026")
    file(database, FilingKind.ANNUAL_PLAN, pairing_scope(world.pairing_id), "2026")

    report = report_for(database, world, at(2026, 10, 20, 12))

    assert report.count(State.MISSED) == 0
    assert [s.subject for s in report.sections] == [Subject.ORG, Subject.ALLIANCE, Subject.PAIRING]
    org = lines_of(report, Subject.ORG)
    held = one(org, Requirement.ORG_LIFE, "2026-10")
    # 应到 5 (m2 on leave included), 实到 4, 请假 1: the rate is over 应到.
    assert (held.state, held.present, held.leave, held.attendees, held.rate) == (
        State.DONE,
        4,
        1,
        5,
        0.8,
    )
    november = one(org, Requirement.ORG_LIFE, "2026-11")
    assert (november.state, november.day, november.days_left) == (
        State.OWED,
        date(2026, 11, 3),
        15,
    )
    assert one(org, Requirement.ORG_LIFE, "2026-12").days_left == 43
    ledger = one(org, Requirement.LEDGER)
    assert (ledger.state, ledger.days_left, ledger.deadline) == (State.OWED, 73, date(2026, 12, 31))

    alliance = lines_of(report, Subject.ALLIANCE)
    convened = one(alliance, Requirement.JOINT_MEETING)
    assert (convened.state, convened.org) == (State.DONE, "第1支部")
    assert one(alliance, Requirement.JOINT_MEETINGS_YEAR).state is State.DONE
    themes = [line for line in alliance if line.requirement is Requirement.THEME_DAY]
    assert [(t.period, t.org, t.state) for t in themes] == [
        ("2026-10", "第2支部", State.DONE),
        ("2026-11", "第3支部", State.OWED),
        ("2026-12", "第4支部", State.OWED),
    ]
    units = one(alliance, Requirement.UNIT_LEDGERS)
    assert (units.done, units.target, units.state) == (0, 4, State.OWED)
    assert one(alliance, Requirement.ANNUAL_PLAN).state is State.DONE

    pairing = lines_of(report, Subject.PAIRING)
    visits = one(pairing, Requirement.VISITS)
    assert (visits.state, visits.done, visits.target, visits.expected) == (State.OWED, 2, 3, 2)
    assert visits.days == (date(2026, 3, 5), date(2026, 6, 20))
    joint = one(pairing, Requirement.JOINT_ACTIVITY)
    assert (joint.state, joint.org) == (State.DONE, "第2支部")
    yearly = one(pairing, Requirement.JOINT_ACTIVITIES_YEAR)
    assert (yearly.state, yearly.done, yearly.target) == (State.DONE, 4, 4)

    text = describe_report(translator("en"), report)
    assert "Compliance of 第1支部 for Q4 2026, as of October 20, 2026:" in text
    assert (
        "✓ Organization-life day on Oct 6, 2026: done; signed in 4 of 5 (80%), on leave 1" in text
    )
    assert "○ Organization-life day on Nov 3, 2026: owed, 15 days left" in text
    assert "Visits in 2026, 2 of 3: owed, 73 days left; on track" in text
    assert "✗" not in text and "0 missed." in text


def test_a_branch_behind(database: Database, world: World) -> None:
    joined(database, date(2026, 1, 1))
    b1 = world.orgs["B1"]
    answer(database, add_meeting(database, org=b1, day=date(2026, 10, 6)), world, present=("sec",))
    answer(database, add_meeting(database, org=b1, day=date(2026, 11, 3)), world, present=("m1",))
    visit(database, world, date(2026, 3, 5))

    report = report_for(database, world, at(2026, 11, 16, 10))

    pairing = lines_of(report, Subject.PAIRING)
    visits = one(pairing, Requirement.VISITS)
    assert (visits.state, visits.done, visits.expected, visits.days_left) == (State.OWED, 1, 3, 46)
    joint = one(pairing, Requirement.JOINT_ACTIVITY)
    assert (joint.state, joint.days_left) == (State.OWED, 46)
    alliance = lines_of(report, Subject.ALLIANCE)
    convened = one(alliance, Requirement.JOINT_MEETING)
    assert (convened.state, convened.days_left, convened.org) == (State.OWED, 46, "第1支部")
    assert one(alliance, Requirement.THEME_DAY, "2026-11").days_left == 15
    assert one(lines_of(report, Subject.ORG), Requirement.ORG_LIFE, "2026-11").state is State.DONE

    text = describe_report(translator("en"), report)
    assert "Visits in 2026, 1 of 3: owed, 46 days left; behind: 3 expected by now" in text
    assert "○ Joint meeting in Q4 2026 (convener: 第1支部): owed, 46 days left" in text


def test_a_branch_that_missed_last_quarter(database: Database, world: World) -> None:
    joined(database, date(2026, 1, 1))
    b1 = world.orgs["B1"]
    add_meeting(database, org=b1, day=date(2026, 8, 4), status=MeetingStatus.CANCELLED)
    # September's unit on duty (第1支部) held its theme day.
    add_meeting(
        database,
        org=world.orgs["B1"],
        day=date(2026, 9, 22),
        kind=MeetingKind.THEME_DAY,
        alliance_id=world.alliance_id,
    )

    report = report_for(database, world, at(2026, 10, 20, 12), quarter=Quarter(2026, 3))

    assert report.as_of == date(2026, 9, 30) and report.today == date(2026, 10, 20)
    org = lines_of(report, Subject.ORG)
    assert [(line.period, line.state) for line in org] == [
        ("2026-07", State.MISSED),
        ("2026-08", State.MISSED),
        ("2026-09", State.MISSED),
        ("2026Q3", State.MISSED),
    ]
    assert one(org, Requirement.ORG_LIFE, "2026-08").cancelled
    assert one(org, Requirement.ORG_LIFE, "2026-07").day == date(2026, 7, 7)
    alliance = lines_of(report, Subject.ALLIANCE)
    convened = one(alliance, Requirement.JOINT_MEETING)
    # The executive president unit of 2026 (第1支部) convenes, as 001 says.
    assert (convened.state, convened.org) == (State.MISSED, "第1支部")
    themes = [
        (line.period, line.state) for line in alliance if line.requirement is Requirement.THEME_DAY
    ]
    assert themes == [
        ("2026-07", State.MISSED),
        ("2026-08", State.MISSED),
        ("2026-09", State.DONE),
    ]
    yearly = one(alliance, Requirement.JOINT_MEETINGS_YEAR)
    assert (yearly.state, yearly.missing) == (State.MISSED, ("2026Q1", "2026Q2", "2026Q3"))
    assert one(lines_of(report, Subject.PAIRING), Requirement.JOINT_ACTIVITY).state is State.MISSED

    text = describe_report(translator("en"), report)
    assert "✗ Organization-life day on Aug 4, 2026: missed; cancelled" in text
    assert "none in Q1 2026, Q2 2026, and Q3 2026" in text
    # Chinese renders too (the catalog may still fall back to English for new messages).
    assert "2026" in describe_report(translator("zh_CN"), report)


def test_filed_reports_are_done(database: Database, world: World) -> None:
    b1, b2 = world.orgs["B1"], world.orgs["B2"]
    file(database, FilingKind.LEDGER, org_scope(b1), "2026Q4")
    file(database, FilingKind.LEDGER, org_scope(b2), "2026Q4")
    file(database, FilingKind.YEAR_SUMMARY, pairing_scope(world.pairing_id), "2026")
    for day in (date(2026, 2, 2), date(2026, 5, 5), date(2026, 8, 8)):
        visit(database, world, day)

    report = report_for(database, world, at(2026, 12, 20, 12))

    assert one(lines_of(report, Subject.ORG), Requirement.LEDGER).state is State.DONE
    units = one(lines_of(report, Subject.ALLIANCE), Requirement.UNIT_LEDGERS)
    assert (units.state, units.done, units.missing) == (State.OWED, 2, ("第3支部", "第4支部"))
    pairing = lines_of(report, Subject.PAIRING)
    assert one(pairing, Requirement.VISITS).state is State.DONE
    assert one(pairing, Requirement.YEAR_SUMMARY).state is State.DONE
    assert one(lines_of(report, Subject.ALLIANCE), Requirement.YEAR_SUMMARY).state is State.OWED
    text = describe_report(translator("en"), report)
    assert "waiting for \u2068第3支部\u2069 and \u2068第4支部\u2069" in text


def test_a_future_quarter_is_refused(database: Database, world: World) -> None:
    with pytest.raises(ServiceError) as raised:
        report_for(database, world, at(2026, 11, 3), quarter=Quarter(2027, 1))
    assert raised.value.code == "quarter_ahead"


def test_a_committee_owes_no_org_life_and_ended_pairings_drop_out(
    database: Database, world: World
) -> None:
    committee = report_for(database, world, at(2026, 11, 3, 12), org="C")
    assert [(s.subject, s.lines) for s in committee.sections] == [(Subject.ORG, ())]

    with database.session() as session:
        pairing = session.get_one(Pairing, world.pairing_id)
        pairing.agreement_end = date(2026, 6, 30)
        session.add(pairing)
    report = report_for(database, world, at(2026, 11, 3, 12))
    assert Subject.PAIRING not in {s.subject for s in report.sections}
    earlier = report_for(database, world, at(2026, 11, 3, 12), quarter=Quarter(2026, 2))
    assert Subject.PAIRING in {s.subject for s in earlier.sections}
    # A ledger entry of another activity kind does not make a joint meeting.
    add_activity(database, org=world.orgs["B1"], day=date(2026, 11, 2), kind=ActivityKind.STUDY)
    again = report_for(database, world, at(2026, 11, 3, 12))
    assert one(lines_of(again, Subject.ALLIANCE), Requirement.JOINT_MEETING).state is State.OWED
