"""A kept overview brought up to date after a write is the overview computed anew, write by write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, delete, select, update

from bench.cityscale import TINY_CITY, build_city
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    RoleKind,
)
from bot.core.inbound import Channel
from bot.services import overview, tallies
from bot.services.obligations.changes import COMPARED, Changes, fact_changes
from bot.services.obligations.facts import Facts, Part, load_facts
from bot.services.overview import Overview
from bot.services.overview_cache import OverviewCache
from bot.services.tallies import scope_tallies
from storage.engine import Database
from storage.models import (
    Activity,
    AllianceUnit,
    Attendance,
    Meeting,
    Member,
    Organization,
    Pairing,
    PairingOrg,
    Role,
)
from storage.reminders import (
    FilingKind,
    FilingMethod,
    alliance_scope,
    org_scope,
    record_filing,
    set_reminder_setting,
)
from tests.conftest import SHANGHAI
from tests.services.test_overview import CITY_NOW, HOLIDAYS, overview_of
from tests.services.test_overview_cache import QUARTER
from tests.services.test_overview_cache import view as cached_view


@dataclass(frozen=True, slots=True)
class Picks:
    """The city's records the writes aim at: an alliance, a pairing and their organizations."""

    alliance: int
    unit: int
    other_unit: int
    pairing: int
    partner: int
    lone: int


def pick(session: Session) -> Picks:
    """Picks a pairing led by an alliance unit, that alliance, and a branch in no group."""
    units_ = select(AllianceUnit.organization_id)
    pairing = session.exec(
        select(Pairing).where(col(Pairing.lead_org_id).in_(units_)).order_by(col(Pairing.id))
    ).first()
    assert pairing is not None and pairing.id is not None
    lead = pairing.lead_org_id
    alliance = session.exec(
        select(AllianceUnit.alliance_id)
        .where(col(AllianceUnit.organization_id) == lead)
        .order_by(col(AllianceUnit.alliance_id))
    ).first()
    units = session.exec(
        select(AllianceUnit.organization_id)
        .where(col(AllianceUnit.alliance_id) == alliance)
        .order_by(col(AllianceUnit.rotation_order))
    ).all()
    partners = session.exec(
        select(PairingOrg.organization_id).where(col(PairingOrg.pairing_id) == pairing.id)
    ).all()
    grouped = select(AllianceUnit.organization_id).union(select(PairingOrg.organization_id))
    lone = session.exec(
        select(Organization.id)
        .where(col(Organization.id).not_in(grouped), col(Organization.kind) == OrgKind.BRANCH)
        .order_by(col(Organization.id))
    ).first()
    assert alliance is not None and lone is not None
    other = next(org for org in units if org != lead)
    partner = next(org for org in partners if org != lead)
    return Picks(alliance, lead, other, pairing.id, partner, lone)


def _member_of(session: Session, org_id: int) -> Member:
    """A current member of an organization."""
    member = session.exec(
        select(Member)
        .where(col(Member.organization_id) == org_id, col(Member.status) != MemberStatus.DEPARTED)
        .order_by(col(Member.id))
    ).first()
    assert member is not None
    return member


def rename_a_unit(session: Session, picks: Picks) -> None:
    """An alliance unit renamed: its groups' sections name it."""
    session.execute(
        update(Organization).where(col(Organization.id) == picks.unit).values(name="改名的单位")
    )


def move_an_org_life_rule(session: Session, picks: Picks) -> None:
    """A branch's org-life day moves to the third Thursday."""
    session.execute(
        update(Organization)
        .where(col(Organization.id) == picks.partner)
        .values(orglife_ordinal=3, orglife_weekday=4)
    )


def file_a_ledger(session: Session, picks: Picks) -> None:
    """A unit files its quarter's ledger."""
    record_filing(
        session=session,
        kind=FilingKind.LEDGER,
        scope=org_scope(picks.other_unit),
        period=str(QUARTER),
        method=FilingMethod.SUBMITTED,
        at=CITY_NOW,
        by=None,
    )


def _report(
    session: Session, org_id: int, kind: ActivityKind, days_ago: int, title: str, **group: int
) -> None:
    """Stores a ledger entry of an organization (of a group when one is named)."""
    session.add(
        Activity(
            organization_id=org_id,
            kind=kind,
            held_on=CITY_NOW.date() - timedelta(days=days_ago),
            title=title,
            participants=9,
            summary=title,
            created_at=CITY_NOW,
            **group,
        )
    )


def report_a_joint_meeting(session: Session, picks: Picks) -> None:
    """A unit reports the alliance's joint meeting of the quarter."""
    _report(
        session, picks.unit, ActivityKind.JOINT_MEETING, 1, "联席会议", alliance_id=picks.alliance
    )


def report_a_visit(session: Session, picks: Picks) -> None:
    """A pairing's partner reports a visit."""
    _report(session, picks.partner, ActivityKind.VISIT, 2, "结对走访", pairing_id=picks.pairing)


def solicit_opinions(session: Session, picks: Picks) -> None:
    """A branch in no group solicits opinions this month."""
    _report(session, picks.lone, ActivityKind.OPINION, 0, "征求意见")


def set_an_alliance_visit_target(session: Session, picks: Picks) -> None:
    """An alliance's visit target: the pairings its units lead read it."""
    set_reminder_setting(
        session=session, scope=alliance_scope(picks.alliance), name="visit_target", value="7"
    )


def set_the_default_visit_target(session: Session, picks: Picks) -> None:
    """The default visit target, which every pairing reads."""
    set_reminder_setting(session=session, scope="default", name="visit_target", value="2")


def drop_a_unit(session: Session, picks: Picks) -> None:
    """A unit leaves its alliance."""
    session.execute(
        delete(AllianceUnit).where(
            col(AllianceUnit.alliance_id) == picks.alliance,
            col(AllianceUnit.organization_id) == picks.other_unit,
        )
    )


def end_a_pairing(session: Session, picks: Picks) -> None:
    """A pairing's agreement ended last quarter."""
    session.execute(
        update(Pairing)
        .where(col(Pairing.id) == picks.pairing)
        .values(agreement_end=date(2026, 9, 30))
    )


def recode_a_unit(session: Session, picks: Picks) -> None:
    """A unit naming no liaison takes a code that sorts first: its alliance lists it first."""
    session.execute(
        update(Organization).where(col(Organization.id) == picks.unit).values(code="A00000")
    )


def appoint_a_liaison(session: Session, picks: Picks) -> None:
    """A unit without a liaison officer appoints one of its members."""
    member = _member_of(session, picks.unit)
    assert member.id is not None
    session.add(Role(organization_id=picks.unit, member_id=member.id, role=RoleKind.LIAISON))


def dismiss_the_liaisons(session: Session, picks: Picks) -> None:
    """A unit's liaison officers step down: its alliance misses one."""
    session.execute(
        delete(Role).where(
            col(Role.organization_id) == picks.unit, col(Role.role) == RoleKind.LIAISON
        )
    )


def a_member_joins(session: Session, picks: Picks) -> None:
    """A member joins a unit before the quarter (counted absent at its meetings)."""
    session.add(
        Member(
            name="新党员",
            organization_id=picks.unit,
            status=MemberStatus.FULL,
            created_at=datetime(2026, 1, 5, 9, tzinfo=SHANGHAI),
        )
    )


def a_member_leaves(session: Session, picks: Picks) -> None:
    """A member who missed a meeting of the quarter that took place left before it."""
    answered = select(Attendance.member_id).where(col(Attendance.meeting_id) == Meeting.id)
    took_place = select(Attendance.meeting_id).where(
        col(Attendance.status) == AttendanceStatus.PRESENT
    )
    member = session.exec(
        select(Member)
        .join(Meeting, col(Meeting.organization_id) == Member.organization_id)
        .where(
            col(Member.status) != MemberStatus.DEPARTED,
            col(Meeting.held_on) >= QUARTER.first_day,
            col(Meeting.starts_at) <= CITY_NOW,
            col(Member.id).not_in(answered.correlate(Meeting)),
            col(Meeting.id).in_(took_place),
        )
        .order_by(col(Member.id))
    ).first()
    assert member is not None
    member.status = MemberStatus.DEPARTED
    member.departed_at = datetime.combine(QUARTER.first_day, time(8), SHANGHAI)
    session.add(member)


def cancel_a_meeting(session: Session, picks: Picks) -> None:
    """A meeting of the quarter that took place is cancelled after the fact."""
    took_place = select(Attendance.meeting_id).where(
        col(Attendance.status) == AttendanceStatus.PRESENT
    )
    meeting = session.exec(
        select(Meeting.id)
        .where(
            col(Meeting.held_on) >= QUARTER.first_day,
            col(Meeting.starts_at) <= CITY_NOW,
            col(Meeting.id).in_(took_place),
        )
        .order_by(col(Meeting.id))
    ).first()
    assert meeting is not None
    session.execute(
        update(Meeting).where(col(Meeting.id) == meeting).values(status=MeetingStatus.CANCELLED)
    )


def sign_in(session: Session, picks: Picks) -> None:
    """A member of a lone branch signs in to its meeting of the quarter, as a check-in does."""
    meeting = session.exec(
        select(Meeting.id)
        .where(
            col(Meeting.organization_id) == picks.lone,
            col(Meeting.held_on) >= QUARTER.first_day,
            col(Meeting.starts_at) <= CITY_NOW,
            col(Meeting.status) != MeetingStatus.CANCELLED,
        )
        .order_by(col(Meeting.id))
    ).first()
    answered = select(Attendance.member_id).where(col(Attendance.meeting_id) == meeting)
    member = session.exec(
        select(Member.id).where(
            col(Member.organization_id) == picks.lone, col(Member.id).not_in(answered)
        )
    ).first()
    assert meeting is not None and member is not None
    session.add(
        Attendance(
            meeting_id=meeting,
            member_id=member,
            status=AttendanceStatus.PRESENT,
            at=CITY_NOW,
            channel=Channel.CONSOLE,
        )
    )


WRITES: list[Callable[[Session, Picks], None]] = [
    rename_a_unit,
    move_an_org_life_rule,
    file_a_ledger,
    report_a_joint_meeting,
    report_a_visit,
    solicit_opinions,
    set_an_alliance_visit_target,
    dismiss_the_liaisons,
    recode_a_unit,
    appoint_a_liaison,
    a_member_joins,
    a_member_leaves,
    cancel_a_meeting,
    sign_in,
    drop_a_unit,
    end_a_pairing,
    set_the_default_visit_target,
]


@pytest.fixture
def city(database_url: str, database: Database) -> Database:
    """A tiny generated city in the test database."""
    build_city(database_url, TINY_CITY, holidays=HOLIDAYS)
    with database.session() as session:
        # The pairings follow the settings' visit target (their own is unset).
        session.execute(update(Pairing).values(visit_target=0))
    return database


def view(database: Database, cache: OverviewCache) -> Overview:
    """Opens the whole city's overview through the cache."""
    return cached_view(database, cache, now=CITY_NOW)


def fresh(database: Database) -> Overview:
    """Computes the whole city's overview anew."""
    with database.session() as session:
        return overview_of(session, QUARTER, CITY_NOW)


def test_after_each_write_the_kept_overview_brought_up_to_date_is_the_fresh_one(
    city: Database,
) -> None:
    cache = OverviewCache()
    before = view(city, cache)
    with city.session() as session:
        picks = pick(session)
    for write in WRITES:
        with city.session() as session:
            write(session, picks)
        after = view(city, cache)
        assert after == fresh(city), write.__name__
        assert after != before, f"{write.__name__} changed nothing the overview shows"
        before = after


def test_a_write_rechecks_only_the_branches_it_reaches(
    city: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[set[int]] = []

    def counting(*args: Any, org_ids: Any, **kwargs: Any) -> Any:
        counted.append(set(org_ids))
        return scope_tallies(*args, org_ids=org_ids, **kwargs)

    monkeypatch.setattr(overview, "scope_tallies", counting)
    monkeypatch.setattr(tallies, "scope_tallies", counting)
    cache = OverviewCache()
    first = view(city, cache)
    branches = {standing.org.id for standing in first.standings}
    assert counted == [branches]
    with city.session() as session:
        picks = pick(session)
        solicit_opinions(session, picks)
    second = view(city, cache)
    # Only the facts were read again: the meetings were not counted again.
    assert len(counted) == 1
    kept = {standing.org.id: standing for standing in first.standings}
    changed = [s.org.id for s in second.standings if s is not kept[s.org.id]]
    assert changed == [picks.lone]
    # A unit renamed: the branches of its alliances and pairings are checked again, no other.
    with city.session() as session:
        rename_a_unit(session, picks)
        facts = load_facts(session, now=CITY_NOW, holidays=HOLIDAYS, parts=Part.NONE)
    third = view(city, cache)
    kept = {standing.org.id: standing for standing in second.standings}
    changed = {s.org.id for s in third.standings if s is not kept[s.org.id]}
    grouped = {picks.unit}
    for alliance in facts.alliances:
        if picks.unit in {unit.org_id for unit in alliance.units}:
            grouped |= {unit.org_id for unit in alliance.units}
    for pairing in facts.pairings:
        if picks.unit in pairing.org_ids:
            grouped |= set(pairing.org_ids)
    assert changed and changed <= grouped
    assert len(counted) == 1
    # Rows added (a member joins, a member signs in): their organizations are counted again.
    with city.session() as session:
        a_member_joins(session, picks)
    assert view(city, cache) == fresh(city)
    assert counted[1] == {picks.unit}
    with city.session() as session:
        sign_in(session, picks)
    assert view(city, cache) == fresh(city)
    assert counted[3] == {picks.lone}
    # A member changed: every organization is counted again.
    with city.session() as session:
        a_member_leaves(session, picks)
    assert view(city, cache) == fresh(city)
    assert counted[5] == branches


def test_every_field_of_the_facts_is_compared() -> None:
    assert {field.name for field in fields(Facts)} == COMPARED


def test_differences_name_their_organizations_and_groups(city: Database) -> None:
    with city.session() as session:
        picks = pick(session)
        before = load_facts(session, now=CITY_NOW, holidays=HOLIDAYS, parts=Part.NONE)
        assert fact_changes(before, before) == Changes(frozenset(), frozenset(), frozenset())
        file_a_ledger(session, picks)
        report_a_visit(session, picks)
        after = load_facts(session, now=CITY_NOW, holidays=HOLIDAYS, parts=Part.NONE)
        changes = fact_changes(before, after)
        assert changes is not None
        assert picks.other_unit in changes.orgs and picks.pairing in changes.pairings
        set_the_default_visit_target(session, picks)
        everything = load_facts(session, now=CITY_NOW, holidays=HOLIDAYS, parts=Part.NONE)
        assert fact_changes(after, everything) is None
