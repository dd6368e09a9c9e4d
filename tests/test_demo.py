"""The demo world: its shape, its year of history, idempotent refreshes and resets."""

from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.calendar.holidays import HolidayCalendar
from bot.core.domain import (
    AttendanceStatus,
    Duty,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    PairingForm,
    RoleKind,
    UnitKind,
)
from bot.core.inbound import Channel
from bot.demo import ALLIANCE, COMMITTEE, DemoResult, build_demo, demo_counts
from bot.services.meetings import Meetings
from bot.services.rota import Rota
from storage.engine import Database
from storage.models import (
    Activity,
    Alliance,
    AllianceUnit,
    Attendance,
    AuditEntry,
    ChatAccount,
    Invite,
    Meeting,
    Member,
    Organization,
    Pairing,
    PairingOrg,
    Role,
)
from tests.conftest import DEFAULT_NOW, SHANGHAI

HOLIDAYS = HolidayCalendar.load()
TTL = timedelta(hours=144)


def run_demo(database: Database, now: datetime = DEFAULT_NOW, *, reset: bool = False) -> DemoResult:
    """Builds or refreshes the demo at `now`."""
    with database.session() as session:
        return build_demo(
            session, now=now, tz=SHANGHAI, holidays=HOLIDAYS, invite_ttl=TTL, reset=reset
        )


def org_ids(database: Database) -> dict[str, int]:
    """Maps organization codes to ids."""
    with database.session() as session:
        return {org.code: org.id or 0 for org in session.exec(select(Organization)).all()}


def test_structure_follows_the_seed_documents(database: Database) -> None:
    result = run_demo(database)
    assert result.created
    with database.session() as session:
        orgs = {org.code: org for org in session.exec(select(Organization)).all()}
        committee = orgs[COMMITTEE]
        assert committee.kind is OrgKind.COMMITTEE
        assert all(org.parent_id == committee.id for code, org in orgs.items() if code != COMMITTEE)
        alliance = session.exec(select(Alliance).where(Alliance.code == ALLIANCE)).one()
        units = session.exec(
            select(AllianceUnit).where(AllianceUnit.alliance_id == alliance.id)
        ).all()
        kinds = Counter(unit.kind for unit in units)
        # "X+Y": 5-7 president units, the rest member units.
        assert kinds[UnitKind.PRESIDENT] == 6
        assert 7 <= kinds[UnitKind.MEMBER] <= 9
        executive = Rota(session, DEFAULT_NOW).slot(alliance, Duty.EXECUTIVE, DEFAULT_NOW.date())
        presidents = {u.organization_id for u in units if u.kind is UnitKind.PRESIDENT}
        assert executive.org.id in presidents
        pairings = session.exec(select(Pairing).order_by(col(Pairing.code))).all()
        assert [p.visit_target for p in pairings] == [3, 3, 3]
        # Each as its name says (一对一, 一对多, 多对一): the set-up use case refuses anything else.
        assert [p.form for p in pairings] == [
            PairingForm.ONE_TO_ONE,
            PairingForm.ONE_TO_MANY,
            PairingForm.MANY_TO_ONE,
        ]
        # Made by the set-up use cases the command line and the import use, audited alike.
        added = session.exec(
            select(AuditEntry.action, AuditEntry.subject)
            .where(col(AuditEntry.action).endswith(".add"))
            .order_by(col(AuditEntry.subject))
        ).all()
        assert [tuple(entry) for entry in added] == [
            ("alliance.add", f"alliance:{ALLIANCE}"),
            *[("pairing.add", f"pairing:{p.code}") for p in pairings],
        ]
        sizes = sorted(
            len(session.exec(select(PairingOrg).where(PairingOrg.pairing_id == p.id)).all())
            for p in pairings
        )
        assert sizes[0] == 2 and sizes[-1] >= 3  # one-to-one, and one-to-many / many-to-one
        members = session.exec(select(Member)).all()
        roles = session.exec(select(Role)).all()
    assert 55 <= len(members) <= 65
    names = [m.name for m in members]
    assert len(set(names)) == len(names)
    assert all(unicodedata.name(char).startswith("CJK") for name in names for char in name)
    assert 2 <= sum(m.status is MemberStatus.PROBATIONARY for m in members) <= 6
    assert 1 <= sum(m.mobile for m in members) <= 2
    for code, org in orgs.items():
        held = Counter(r.role for r in roles if r.organization_id == org.id)
        assert held[RoleKind.SECRETARY] == 1, code
        if org.kind is not OrgKind.COMMITTEE:
            assert held[RoleKind.LIAISON] == 1, code
            assert held[RoleKind.MEMBER] >= 3, code


def test_history_is_a_year_of_org_life_days_on_the_calendar_rule(database: Database) -> None:
    run_demo(database)
    today = DEFAULT_NOW.date()
    with database.session() as session:
        meetings = Meetings(session, holidays=HOLIDAYS, tz=SHANGHAI)
        org_life = session.exec(select(Meeting).where(Meeting.kind == MeetingKind.ORG_LIFE)).all()
        branches = session.exec(
            select(Organization).where(Organization.kind != OrgKind.COMMITTEE)
        ).all()
        assert len(org_life) == 12 * len(branches)
        by_org = {org.id: org for org in branches}
        for meeting in org_life:
            year, month = map(int, meeting.period.split("-"))
            assert (
                meeting.held_on
                == meetings.rule_day(by_org[meeting.organization_id], year, month).date
            )
            expected = MeetingStatus.HELD if meeting.held_on < today else MeetingStatus.PLANNED
            assert meeting.status is expected
        moved = [m for m in org_life if m.moved_from is not None]
        assert moved and all(m.holiday for m in moved)  # next-workday branches skip holidays
        attendance = session.exec(select(Attendance)).all()
        todays = {m.id for m in org_life if m.held_on == today}
        assert todays  # the first Tuesday of November: open for check-in in the demo
        assert not [a for a in attendance if a.meeting_id in todays]
        statuses = Counter(a.status for a in attendance)
        rate = statuses[AttendanceStatus.PRESENT] / len(attendance)
        assert 0.7 < rate < 0.95
        assert statuses[AttendanceStatus.LEAVE] and statuses[AttendanceStatus.ABSENT]
        leave_reasons = {a.reason for a in attendance if a.status is AttendanceStatus.LEAVE}
        assert all(leave_reasons)
        joint = session.exec(select(Meeting).where(Meeting.kind != MeetingKind.ORG_LIFE)).all()
        kinds = Counter(m.kind for m in joint)
        assert kinds[MeetingKind.JOINT_MEETING] >= 3 and kinds[MeetingKind.THEME_DAY] >= 10
        assert kinds[MeetingKind.VISIT] >= 5
        assert all(m.held_on < today and m.status is MeetingStatus.HELD for m in joint)
        assert all(m.alliance_id for m in joint if m.kind is not MeetingKind.VISIT)
        assert all(m.pairing_id for m in joint if m.kind is MeetingKind.VISIT)
        activities = session.exec(select(Activity)).all()
        assert len(activities) >= len(joint)
        assert all(a.held_on < today for a in activities)
        assert sum(1 for a in activities if a.pairing_id) >= kinds[MeetingKind.VISIT]


def test_visits_leave_some_pairings_behind_their_target(database: Database) -> None:
    run_demo(database)
    with database.session() as session:
        visits = Counter(
            m.pairing_id
            for m in session.exec(select(Meeting).where(Meeting.kind == MeetingKind.VISIT)).all()
            if m.held_on.year == DEFAULT_NOW.year
        )
        pairings = session.exec(select(Pairing)).all()
    done = sorted(visits.get(p.id, 0) for p in pairings)
    assert done[0] < 3 <= done[-1]


def test_every_member_gets_one_unused_invite(database: Database) -> None:
    result = run_demo(database)
    with database.session() as session:
        members = session.exec(select(Member)).all()
        invites = session.exec(select(Invite)).all()
    assert len(result.invites) == len(members) == len(invites)
    assert {i.member_id for i in invites} == {m.id for m in members}
    assert all(i.used_at is None and i.expires_at > DEFAULT_NOW for i in invites)
    assert {i.code for i in invites} == {i.code for i in result.invites}
    secretaries = [i for i in result.invites if i.role is RoleKind.SECRETARY]
    assert len(secretaries) == len({i.org_code for i in result.invites})


def test_running_twice_duplicates_nothing_and_keeps_the_printed_invites(
    database: Database,
) -> None:
    first = run_demo(database)
    second = run_demo(database, DEFAULT_NOW + timedelta(minutes=5))
    assert not second.created
    assert second.counts == first.counts
    # The codes the first run printed still work: the same ones, valid a little longer.
    assert [i.code for i in second.invites] == [i.code for i in first.invites]
    assert all(
        b.expires_at > a.expires_at for a, b in zip(first.invites, second.invites, strict=True)
    )
    with database.session() as session:
        stored = set(session.exec(select(Invite.code)).all())
    assert stored == {i.code for i in first.invites}


def test_a_run_after_the_invites_expired_issues_new_ones(database: Database) -> None:
    first = run_demo(database)
    later = run_demo(database, DEFAULT_NOW + TTL + timedelta(hours=1))
    assert not {i.code for i in first.invites} & {i.code for i in later.invites}
    with database.session() as session:
        assert set(session.exec(select(Invite.code)).all()) == {i.code for i in later.invites}


def test_a_later_refresh_adds_the_new_months_only(database: Database) -> None:
    first = run_demo(database)
    later = datetime(2027, 1, 20, 10, 0, tzinfo=SHANGHAI)
    with database.session() as session:
        before = len(
            session.exec(select(Activity).where(Activity.held_on < DEFAULT_NOW.date())).all()
        )
    run_demo(database, later)
    with database.session() as session:
        after = len(
            session.exec(select(Activity).where(Activity.held_on < DEFAULT_NOW.date())).all()
        )
        org_life = session.exec(select(Meeting).where(Meeting.kind == MeetingKind.ORG_LIFE)).all()
        november = [m for m in org_life if m.period == "2026-11"]
        attendance = session.exec(select(Attendance)).all()
    assert after == before
    branches = first.counts["organizations"] - 1
    assert len(org_life) == branches * 14  # two more months (Dec, Jan), nothing twice
    assert all(m.status is MeetingStatus.HELD for m in november)
    assert len(attendance) > first.counts["attendance"]


def test_reset_rebuilds_and_forgets_bound_accounts_but_not_other_data(database: Database) -> None:
    first = run_demo(database)
    with database.session() as session:
        session.add(
            Organization(code="OTHER", name="其他支部", kind=OrgKind.BRANCH, created_at=DEFAULT_NOW)
        )
        member = session.exec(select(Member)).first()
        assert member is not None and member.id is not None
        session.add(
            ChatAccount(
                channel=Channel.CONSOLE,
                external_id="u1",
                member_id=member.id,
                created_at=DEFAULT_NOW,
            )
        )
        session.add(AuditEntry(at=DEFAULT_NOW, actor_id=member.id, action="test", subject="x"))
    again = run_demo(database, reset=True)
    assert again.created
    with database.session() as session:
        assert session.exec(select(ChatAccount)).all() == []
        assert session.exec(select(Organization).where(Organization.code == "OTHER")).one()
        counts = demo_counts(session)
    assert counts["organizations"] == first.counts["organizations"] + 1
    assert {k: v for k, v in counts.items() if k != "organizations"} == {
        k: v for k, v in first.counts.items() if k != "organizations"
    }


def test_the_same_people_every_time(database: Database) -> None:
    run_demo(database)
    with database.session() as session:
        first = [
            (m.name, m.status, m.mobile)
            for m in session.exec(select(Member).order_by(col(Member.id)))
        ]
    run_demo(database, reset=True)
    with database.session() as session:
        second = [
            (m.name, m.status, m.mobile)
            for m in session.exec(select(Member).order_by(col(Member.id)))
        ]
    assert first == second


@pytest.mark.parametrize("day", [date(2026, 1, 5), date(2026, 7, 1)])
def test_demo_works_at_any_time_of_year(database: Database, day: date) -> None:
    now = datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=8)
    result = run_demo(database, now)
    assert result.counts["members"] >= 55
    assert result.counts["meetings"] > 12 * 13
    with database.session() as session:
        assert (
            session.exec(
                select(Meeting).where(Meeting.held_on >= day, Meeting.status == MeetingStatus.HELD)
            ).all()
            == []
        )
