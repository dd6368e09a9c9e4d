"""The district at a glance: every organization in scope against every rule, most behind first.

The whole scope is checked at once: the facts of every branch and of the groups it is in are
read in a handful of set-based statements (`load_facts` over the scope, `scope_tallies`), and
the rules run in memory, each alliance's and pairing's lines built once. Each branch's lines are
those its own compliance report (`compliance_report`) gives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, bindparam, text, union
from sqlmodel import Session, col, func, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import ActivityKind, MemberStatus, OrgKind, RoleKind
from bot.core.records import OrgView
from bot.services.compliance import (
    Checker,
    Line,
    Requirement,
    Section,
    State,
    Subject,
    end_of_day,
)
from bot.services.errors import ServiceError
from bot.services.obligations.changes import fact_changes
from bot.services.obligations.fact_queries import packed_among
from bot.services.obligations.facts import Facts, Part, load_facts, reload_facts
from bot.services.tallies import (
    HighestIds,
    ScopeTallies,
    highest_ids,
    organizations_added_to,
    recounted,
    scope_tallies,
)
from storage.models import Activity, AllianceUnit, Member, Organization, PairingOrg, Role
from storage.queries import run
from storage.reminders import EVERY_TABLE, GROWING_TABLES, rewritten

# Organizations that owe the branch rules (the committee and general branches oversee them).
BRANCH_KINDS = (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)
# The worst state of a requirement's lines wins a cell.
_SEVERITY = {State.DONE: 0, State.OWED: 1, State.MISSED: 2}
_NO_COUNTS = dict.fromkeys(State, 0)


@dataclass(frozen=True, slots=True)
class Standing:
    """One organization's row: its compliance lines, each requirement's worst state, the counts."""

    org: OrgView
    sections: tuple[Section, ...]
    cells: dict[Requirement, State]
    missing_liaisons: tuple[str, ...] = ()
    counts: Mapping[State, int] = field(default_factory=dict)

    @property
    def lines(self) -> list[Line]:
        """Every line, section after section."""
        return [line for section in self.sections for line in section.lines]

    def count(self, state: State) -> int:
        """Counts the lines in `state` (the figures `gongjian status` prints)."""
        return self.counts.get(state, 0)


@dataclass(frozen=True, slots=True)
class Overview:
    """A quarter over the organizations in scope, with the figures the charts draw."""

    quarter: Quarter
    standings: tuple[Standing, ...]
    requirements: tuple[Requirement, ...]
    attendance_by_month: tuple[tuple[int, float], ...]
    activities_by_kind: tuple[tuple[ActivityKind, int], ...]
    # With nothing written, the overview holds until then: the next day, or a meeting starting.
    holds_until: datetime


def district_overview(
    session: Session,
    *,
    org_ids: Collection[int],
    quarter: Quarter,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
) -> Overview:
    """Checks every branch in `org_ids` for the quarter; the most-behind organization first."""
    basis = overview_basis(
        session, org_ids=org_ids, quarter=quarter, now=now, holidays=holidays, tz=tz
    )
    return counted_overview(session, basis, now=now).overview


@dataclass(slots=True)
class Basis:
    """What an overview reads besides the meetings and their answers, read at `now`.

    The branches in scope, the rules' facts over them and the organizations sharing a group
    with one, who names no liaison, and the quarter's activities by kind. A group's section is
    the same for all its organizations: each is counted once, the first time it is asked for.
    """

    quarter: Quarter
    now: datetime
    tz: ZoneInfo
    branches: list[OrgView]
    check: Checker | None
    without: dict[int, tuple[int, str]]
    groups_without: dict[tuple[Subject, str], list[tuple[int, str]]]
    activities_by_kind: tuple[tuple[ActivityKind, int], ...]
    # The branches and every organization sharing a group with one: the facts' organizations.
    scope: tuple[int, ...] = ()
    summaries: dict[tuple[Subject, str], _Summary] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Counted:
    """An overview with the basis and the meeting tallies it was counted from."""

    basis: Basis
    tallies: ScopeTallies
    # The highest ids of the answers, meetings and members read before the count.
    highest: HighestIds
    overview: Overview


def overview_basis(
    session: Session,
    *,
    org_ids: Collection[int],
    quarter: Quarter,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
    before: Basis | None = None,
    written: Collection[str] | None = None,
) -> Basis:
    """Reads what the overview of `org_ids` needs besides the meetings' answers.

    With `before` (the basis of the same scope and quarter, read earlier that day) and the
    tables `written` since, only what those tables feed is read again; the rest is `before`'s.
    """
    now = now.astimezone(tz)
    if quarter > Quarter.of(now.date()):
        raise ServiceError("quarter_ahead")
    # What is kept from `before`: nothing when it is another day's or what was written is unknown.
    kept = (
        before
        if before is not None and written is not None and before.now.date() == now.date()
        else None
    )
    stale = frozenset(written if kept is not None and written is not None else EVERY_TABLE)
    arrays = _arrays(session)
    _plan_for_a_view(session)
    if kept is not None and not stale & _BRANCH_TABLES:
        branches = kept.branches
    else:
        branches = _branches(session, org_ids, arrays)
    ids = [org.id for org in branches]
    if kept is not None and not stale & _ACTIVITY_TABLES:
        activities = kept.activities_by_kind
    else:
        activities = _activities_by_kind(session, ids, quarter, arrays)
    if not branches:
        return Basis(quarter, now, tz, branches, None, {}, {}, activities)
    # The branches and every organization sharing a group with one: each branch's report reads
    # its partners' names, ledgers and settings.
    if kept is not None and not stale & _SCOPE_TABLES and ids == [org.id for org in kept.branches]:
        scope = kept.scope
    else:
        scope = tuple(
            sorted({*ids, *run(session, _partners_query(arrays), {"orgs": ids}).scalars()})
        )
    if kept is not None and scope != kept.scope:
        kept = None
    as_of = min(now, end_of_day(quarter.last_day, tz))
    year_moment = min(now, end_of_day(date(quarter.year, 12, 31), tz))
    if kept is not None and kept.check is not None and kept.check.facts.holidays is holidays:
        facts = reload_facts(session, kept.check.facts, written=stale, now=as_of, org_ids=scope)
        year_facts = (
            facts
            if year_moment == as_of
            else reload_facts(
                session, kept.check.year_facts, written=stale, now=year_moment, org_ids=scope
            )
        )
    else:
        facts = load_facts(session, now=as_of, holidays=holidays, org_ids=scope, parts=Part.NONE)
        year_facts = (
            facts
            if year_moment == as_of
            else load_facts(
                session, now=year_moment, holidays=holidays, org_ids=scope, parts=Part.NONE
            )
        )
    # A past quarter is reported as of its last day: its days left count from there, not today.
    check = Checker(facts, year_facts, quarter, now.date(), as_of=as_of.date())
    if kept is not None and not stale & _LIAISON_TABLES and _same_codes(kept.without, facts):
        # The same organizations name no liaison, in the same order (by code, as the database
        # collates them: a code changed is read again).
        without = kept.without
    else:
        # The organizations naming no liaison, in the order `liaisons_missing` lists them.
        rows: Sequence[Any] = run(session, _no_liaison_query(arrays), {"orgs": scope}).all()
        without = {org_id: (place, code) for place, (org_id, code) in enumerate(rows)}
    # Per group, those of its organizations: most groups have none.
    groups_without = {
        **{
            (Subject.ALLIANCE, alliance.code): [
                without[unit.org_id] for unit in alliance.units if unit.org_id in without
            ]
            for alliance in facts.alliances
        },
        **{
            (Subject.PAIRING, pairing.code): [
                without[org_id] for org_id in pairing.org_ids if org_id in without
            ]
            for pairing in facts.pairings
        },
    }
    return Basis(
        quarter, now, tz, branches, check, without, groups_without, activities, scope=scope
    )


# The tables each part of the basis is read from (the facts': `reload_facts`).
_BRANCH_TABLES = frozenset({"organization"})
_ACTIVITY_TABLES = frozenset({"activity"})
_SCOPE_TABLES = frozenset({"allianceunit", "pairingorg"})
_LIAISON_TABLES = frozenset({"role", "member"})
# What the meetings' tallies are counted from.
TALLY_TABLES = frozenset({"meeting", "attendance", "member"})


def _same_codes(without: dict[int, tuple[int, str]], facts: Facts) -> bool:
    """Tells whether the organizations naming no liaison keep the codes the facts give them."""
    orgs = facts.orgs
    return all(org in orgs and orgs[org].code == code for org, (_, code) in without.items())


def counted_overview(
    session: Session,
    basis: Basis,
    *,
    now: datetime,
    before: Counted | None = None,
    written: Collection[str] | None = None,
) -> Counted:
    """Counts the meetings' answers at `now` and checks each branch against the basis.

    `now` must fall on the basis' day, before any meeting starting after the basis was read.
    With `before` (an overview of the same scope and quarter, read on the same day) and the
    tables `written` since it was counted, only what they changed is counted again: nothing
    when no answer, meeting or member was written, the organizations with rows added when
    rows were only added; and a branch keeps its standing unless its tallies changed or a
    difference between the two bases reaches it.
    """
    now = now.astimezone(basis.tz)
    ids = [org.id for org in basis.branches]
    stale = frozenset(EVERY_TABLE if written is None else written)
    if before is None or stale & _REWRITES or ids != [o.id for o in before.basis.branches]:
        _plan_for_a_view(session)
        highest = highest_ids(session)
        tallies = scope_tallies(session, org_ids=ids, quarter=basis.quarter, now=now, tz=basis.tz)
    elif stale & TALLY_TABLES:
        _plan_for_a_view(session)
        highest = highest_ids(session)
        added = organizations_added_to(session, before.highest) & set(ids)
        tallies = recounted(
            session,
            before.tallies,
            org_ids=added,
            quarter=basis.quarter,
            now=now,
            tz=basis.tz,
        )
    else:
        highest, tallies = before.highest, before.tallies
    standings = _standings(basis, tallies, before)
    seen = {requirement for standing in standings for requirement in standing.cells}
    tomorrow = datetime.combine(basis.now.date() + timedelta(days=1), time(0), tzinfo=basis.tz)
    overview = Overview(
        quarter=basis.quarter,
        standings=standings,
        requirements=tuple(r for r in Requirement if r in seen),
        attendance_by_month=_attendance_by_month(tallies, basis.quarter),
        activities_by_kind=basis.activities_by_kind,
        holds_until=min(tomorrow, tallies.next_start or tomorrow),
    )
    return Counted(basis, tallies, highest, overview)


# Updates and deletes of what the tallies are counted from: everything is counted again.
_REWRITES = frozenset(rewritten(table) for table in GROWING_TABLES)


def _plan_for_a_view(session: Session) -> None:
    """Plans this transaction's statements for one view, on one core (PostgreSQL)."""
    if not _arrays(session):
        return
    # One view, one core: on a busy machine the view waited for parallel workers to get one.
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    # The driver prepares a statement run often; the server then tries a generic plan, which
    # for a scope of thousands of ids bound as one array was ~3x slower than planning anew.
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _arrays(session: Session) -> bool:
    """Tells whether lists are bound as arrays (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


def _standings(basis: Basis, tallies: ScopeTallies, before: Counted | None) -> tuple[Standing, ...]:
    """Checks each branch against the facts of the whole scope, read once.

    A branch `before` checked keeps its standing when nothing it reads changed since.
    """
    check = basis.check
    if check is None:
        return ()
    kept: dict[int, Standing] = {}
    if before is not None:
        reached = _reached(before.basis, basis)
        if reached is not None:
            kept = {
                standing.org.id: standing
                for standing in before.overview.standings
                if standing.org.id not in reached
                and before.tallies.meetings.get(standing.org.id)
                == tallies.meetings.get(standing.org.id)
                and before.tallies.stored.get(standing.org.id)
                == tallies.stored.get(standing.org.id)
            }
    standings = [
        kept[org.id] if org.id in kept else _standing(basis, check, org, tallies)
        for org in basis.branches
    ]
    standings.sort(key=lambda s: (-s.count(State.MISSED), -s.count(State.OWED), s.org.code))
    return tuple(standings)


def _reached(before: Basis, after: Basis) -> set[int] | None:
    """The organizations whose standing a difference between two bases may change; None: all.

    A branch's standing reads its own facts, tallies and liaisons, and the sections of its
    groups; a group's section reads the group's facts and those of every organization it names.
    """
    if before is after:
        return set()
    if before.check is None or after.check is None:
        return None
    changes = fact_changes(before.check.facts, after.check.facts)
    year = (
        changes
        if after.check.year_facts is after.check.facts
        and before.check.year_facts is before.check.facts
        else fact_changes(before.check.year_facts, after.check.year_facts)
    )
    if changes is None or year is None:
        return None
    orgs = set(changes.orgs | year.orgs)
    old = {org.id: org for org in before.branches}
    new = {org.id: org for org in after.branches}
    orgs.update(org for org in old.keys() ^ new.keys())
    orgs.update(org for org, view in new.items() if org in old and old[org] != view)
    # Who names no liaison: the order is by code, which the codes compared already cover.
    orgs.update(before.without.keys() ^ after.without.keys())
    orgs.update(
        org
        for org, (_, code) in after.without.items()
        if org in before.without and before.without[org][1] != code
    )
    alliances, pairings = changes.alliances | year.alliances, changes.pairings | year.pairings
    reached = set(orgs)
    for facts in (before.check.facts, after.check.facts):
        for alliance in facts.alliances:
            named = {unit.org_id for unit in alliance.units} | set(alliance.overrides.values())
            if alliance.id in alliances or not orgs.isdisjoint(named):
                reached |= named
        for pairing in facts.pairings:
            if pairing.id in pairings or not orgs.isdisjoint(pairing.org_ids):
                reached.update(pairing.org_ids)
    return reached


def _standing(basis: Basis, check: Checker, org: OrgView, tallies: ScopeTallies) -> Standing:
    """Checks one branch: its lines, each requirement's worst state, its counts."""
    sections = check.sections(org, tallies.of(org.id), tallies.stored.get(org.id, {}))
    counts = dict(_NO_COUNTS)
    cells: dict[Requirement, State] = {}
    for section in sections:
        key = (section.subject, section.code)
        summary = basis.summaries.get(key) if section.subject is not Subject.ORG else None
        if summary is None:
            summary = _summary(section)
            if section.subject is not Subject.ORG:
                basis.summaries[key] = summary
        for state, count in summary.counts.items():
            counts[state] += count
        for requirement, state in summary.cells.items():
            held = cells.get(requirement)
            if held is None or _SEVERITY[state] > _SEVERITY[held]:
                cells[requirement] = state
    without = basis.without
    missing = [without[org.id]] if org.id in without else []
    for alliance in check.alliances_of(org.id):
        missing += basis.groups_without[Subject.ALLIANCE, alliance.code]
    for pairing in check.pairings_of(org.id):
        missing += basis.groups_without[Subject.PAIRING, pairing.code]
    return Standing(
        org=org,
        sections=sections,
        cells=cells,
        missing_liaisons=tuple(code for _, code in sorted(set(missing))),
        counts=counts,
    )


@dataclass(frozen=True, slots=True)
class _Summary:
    """A section's lines counted by state, and each requirement's worst state."""

    counts: dict[State, int]
    cells: dict[Requirement, State]


def _summary(section: Section) -> _Summary:
    """Counts a section's lines by state and finds each requirement's worst state."""
    counts: dict[State, int] = {}
    cells: dict[Requirement, State] = {}
    for line in section.lines:
        counts[line.state] = counts.get(line.state, 0) + 1
        held = cells.get(line.requirement)
        if held is None or _SEVERITY[line.state] > _SEVERITY[held]:
            cells[line.requirement] = line.state
    return _Summary(counts, cells)


@cache
def _no_liaison_query(arrays: bool) -> Executable:
    """The organizations bound as `orgs` naming no current liaison officer, by code.

    As `bot.services.structure.liaisons_missing`, with the scope bound once.
    """
    named = (
        select(Role.id)
        .join(Member, col(Member.id) == Role.member_id)
        .where(
            col(Role.organization_id) == Organization.id,
            col(Role.role) == RoleKind.LIAISON,
            col(Member.status) != MemberStatus.DEPARTED,
        )
        .correlate(Organization)
    )
    return (
        select(col(Organization.id), col(Organization.code))
        .where(packed_among(Organization.id, "orgs", arrays=arrays), ~named.exists())
        .order_by(col(Organization.code))
    )


def _branches(session: Session, org_ids: Collection[int], arrays: bool) -> list[OrgView]:
    """Lists the branches among `org_ids`, by code."""
    if not org_ids:
        return []
    rows: Sequence[Any] = run(session, _branches_query(arrays), {"orgs": sorted(org_ids)}).all()
    return [OrgView(id=row[0], code=row[1], name=row[2], kind=row[3]) for row in rows]


@cache
def _branches_query(arrays: bool) -> Executable:
    """The branches among the organizations bound as `orgs`, by code."""
    return (
        select(
            col(Organization.id), col(Organization.code), col(Organization.name), Organization.kind
        )
        .where(
            packed_among(Organization.id, "orgs", arrays=arrays),
            col(Organization.kind).in_(BRANCH_KINDS),
        )
        .order_by(col(Organization.code))
    )


@cache
def _partners_query(arrays: bool) -> Executable:
    """The organizations sharing an alliance or a pairing with one of those bound as `orgs`."""
    alliances = select(col(AllianceUnit.alliance_id)).where(
        packed_among(AllianceUnit.organization_id, "orgs", arrays=arrays)
    )
    pairings = select(col(PairingOrg.pairing_id)).where(
        packed_among(PairingOrg.organization_id, "orgs", arrays=arrays)
    )
    return union(
        select(col(AllianceUnit.organization_id)).where(
            col(AllianceUnit.alliance_id).in_(alliances)
        ),
        select(col(PairingOrg.organization_id)).where(col(PairingOrg.pairing_id).in_(pairings)),
    )


def _attendance_by_month(tallies: ScopeTallies, quarter: Quarter) -> tuple[tuple[int, float], ...]:
    """Returns (month, attendance rate) over the meetings that took place in scope."""
    present: Counter[int] = Counter()
    expected: Counter[int] = Counter()
    for meetings in tallies.meetings.values():
        for meeting in meetings:
            if meeting.taken:
                present[meeting.held_on.month] += meeting.present
                expected[meeting.held_on.month] += meeting.present + meeting.absent
    months = range(quarter.first_day.month, quarter.last_day.month + 1)
    return tuple(
        (month, present[month] / expected[month] if expected[month] else 0.0) for month in months
    )


@cache
def _activities_query(arrays: bool) -> Executable:
    """Counts the activities of the organizations bound as `orgs` from `first` to `last`, by kind."""
    return (
        select(Activity.kind, func.count())
        .where(
            packed_among(Activity.organization_id, "orgs", arrays=arrays),
            col(Activity.held_on) >= bindparam("first"),
            col(Activity.held_on) <= bindparam("last"),
        )
        .group_by(col(Activity.kind))
    )


def _activities_by_kind(
    session: Session, org_ids: list[int], quarter: Quarter, arrays: bool
) -> tuple[tuple[ActivityKind, int], ...]:
    """Counts the quarter's reported activities in scope by kind."""
    if not org_ids:
        return ()
    params = {"orgs": org_ids, "first": quarter.first_day, "last": quarter.last_day}
    rows: Sequence[Any] = run(session, _activities_query(arrays), params).all()
    counted = {kind: int(count) for kind, count in rows}
    return tuple((kind, counted[kind]) for kind in ActivityKind if counted.get(kind))
