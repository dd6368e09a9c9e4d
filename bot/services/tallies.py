"""Meeting tallies of many organizations at once, counted by the database rather than member by member.

The figures are those of `bot.services.stats` (`AttendanceReport.meetings`): a started,
uncancelled meeting of the span counts every answer, and as absent every member who belonged
to its organization that day and did not answer. Members who belonged all span long are counted
by the database; the few who joined or left meanwhile are judged one by one, as stats does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, and_, bindparam, case, func, or_, select
from sqlmodel import Session, col

from bot.calendar.quarters import Quarter, month_key
from bot.core.domain import AttendanceStatus, MeetingKind, MeetingStatus
from bot.services.obligations.fact_queries import packed_among
from bot.services.stats import MeetingTally, StoredDay
from storage.models import Attendance, Meeting, Member
from storage.queries import run


@dataclass(frozen=True, slots=True)
class ScopeTallies:
    """Per organization: the quarter's started meetings, tallied, and its stored org-life days.

    `next_start` is when the next meeting of the span not yet started begins, if one does.
    """

    meetings: dict[int, tuple[MeetingTally, ...]]
    stored: dict[int, dict[str, StoredDay]]
    next_start: datetime | None = None

    def of(self, org_id: int) -> dict[int, MeetingTally]:
        """Returns an organization's tallies by meeting id."""
        return {tally.meeting_id: tally for tally in self.meetings.get(org_id, ())}


def _of_scope(column: Any, arrays: bool) -> Any:
    """Tests a column against the scope bound as `orgs`."""
    return packed_among(column, "orgs", arrays=arrays)


def _steady() -> Any:
    """A member who belonged to their organization from before `start` until after `end`."""
    return and_(
        col(Member.created_at) < bindparam("start"),
        or_(col(Member.departed_at).is_(None), col(Member.departed_at) >= bindparam("end")),
    )


def _in_span(arrays: bool) -> Any:
    """The scope's uncancelled meetings from `first` to `last`."""
    return and_(
        _of_scope(Meeting.organization_id, arrays),
        col(Meeting.held_on) >= bindparam("first"),
        col(Meeting.held_on) <= bindparam("last"),
        col(Meeting.status) != MeetingStatus.CANCELLED,
    )


def _answered(status: AttendanceStatus) -> Any:
    """Counts the answers in `status`."""
    return func.sum(case((col(Attendance.status) == status, 1), else_=0))


@cache
def _meetings_query(arrays: bool) -> Executable:
    """The scope's meetings from `first` to `last` and org-life days of `months`, with answers.

    Each meeting of the span comes with its answers counted by status, and those of its own
    steady members counted (its other members' answers are read apart: they are few, and a
    list per meeting would make the database keep one per meeting while it counts).
    """
    own = col(Member.organization_id) == Meeting.organization_id
    answers = (
        select(
            col(Attendance.meeting_id).label("meeting_id"),
            _answered(AttendanceStatus.PRESENT).label("present"),
            _answered(AttendanceStatus.LEAVE).label("leave"),
            _answered(AttendanceStatus.ABSENT).label("absent"),
            func.sum(case((and_(own, _steady()), 1), else_=0)).label("steady"),
        )
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .join(Member, col(Member.id) == Attendance.member_id)
        .where(_in_span(arrays))
        .group_by(col(Attendance.meeting_id))
        .subquery("answers")
    )
    return (
        select(
            col(Meeting.id),
            col(Meeting.organization_id),
            col(Meeting.kind),
            col(Meeting.period),
            col(Meeting.held_on),
            col(Meeting.starts_at),
            col(Meeting.title),
            col(Meeting.venue),
            col(Meeting.status),
            answers.c.present,
            answers.c.leave,
            answers.c.absent,
            answers.c.steady,
        )
        .outerjoin(answers, answers.c.meeting_id == Meeting.id)
        .where(
            _of_scope(Meeting.organization_id, arrays),
            or_(
                and_(
                    col(Meeting.held_on) >= bindparam("first"),
                    col(Meeting.held_on) <= bindparam("last"),
                ),
                and_(
                    col(Meeting.kind) == MeetingKind.ORG_LIFE,
                    packed_among(Meeting.period, "months", arrays=arrays),
                ),
            ),
        )
    )


@cache
def _steady_query(arrays: bool) -> Executable:
    """How many steady members each organization of the scope has."""
    return (
        select(col(Member.organization_id), func.sum(case((_steady(), 1), else_=0)))
        .where(_of_scope(Member.organization_id, arrays))
        .group_by(col(Member.organization_id))
    )


@cache
def _movers_query(arrays: bool) -> Executable:
    """The scope's other members (who joined or left around the span), with when."""
    return select(
        col(Member.id), col(Member.organization_id), col(Member.created_at), col(Member.departed_at)
    ).where(_of_scope(Member.organization_id, arrays), ~_steady())


@cache
def _mover_answers_query(arrays: bool) -> Executable:
    """The meetings answered by the members bound as `movers`, with who answered."""
    return select(col(Attendance.meeting_id), col(Attendance.member_id)).where(
        packed_among(Attendance.member_id, "movers", arrays=arrays)
    )


def _rows(session: Session, statement: Executable, params: Mapping[str, Any]) -> Sequence[Any]:
    """Runs a statement; returns all its rows."""
    return run(session, statement, params).all()


@dataclass(frozen=True, slots=True)
class _Mover:
    """A member who joined or left around the span: from which day to which they belonged."""

    id: int
    joined: date
    left: date | None

    def belongs(self, day: date) -> bool:
        """Tells whether the member was in their organization on `day`."""
        return self.joined <= day and (self.left is None or day < self.left)


@dataclass(frozen=True, slots=True)
class HighestIds:
    """The highest ids of the answers, the meetings and the members, read before a count."""

    answers: int
    meetings: int
    members: int


def _highest(column: Any) -> Any:
    """The highest value of an id column, 0 in an empty table."""
    return select(func.coalesce(func.max(column), 0)).scalar_subquery()


_HIGHEST_IDS = select(_highest(Attendance.id), _highest(Meeting.id), _highest(Member.id))


def highest_ids(session: Session) -> HighestIds:
    """Reads the highest ids; read them before counting, so rows added meanwhile count again."""
    answers, meetings, members = session.execute(_HIGHEST_IDS).one()
    return HighestIds(int(answers), int(meetings), int(members))


@cache
def _added_since_query() -> Executable:
    """The organizations with an answer, a meeting or a member of an id above those bound."""
    answered = (
        select(col(Meeting.organization_id))
        .join(Attendance, col(Attendance.meeting_id) == Meeting.id)
        .where(col(Attendance.id) > bindparam("answers"))
    )
    met = select(col(Meeting.organization_id)).where(col(Meeting.id) > bindparam("meetings"))
    joined = select(col(Member.organization_id)).where(col(Member.id) > bindparam("members"))
    return answered.union(met, joined)


def organizations_added_to(session: Session, since: HighestIds) -> set[int]:
    """Lists the organizations with answers, meetings or members added since `since` was read.

    Only rows added: the caller knows that none was changed or removed meanwhile.
    """
    params = {"answers": since.answers, "meetings": since.meetings, "members": since.members}
    return set(run(session, _added_since_query(), params).scalars())


def recounted(
    session: Session,
    before: ScopeTallies,
    *,
    org_ids: Collection[int],
    quarter: Quarter,
    now: datetime,
    tz: ZoneInfo,
) -> ScopeTallies:
    """Tallies `org_ids` again and takes the other organizations' tallies from `before`."""
    again = scope_tallies(session, org_ids=org_ids, quarter=quarter, now=now, tz=tz)
    wanted = set(org_ids)
    meetings = {org: found for org, found in before.meetings.items() if org not in wanted}
    stored = {org: found for org, found in before.stored.items() if org not in wanted}
    starts = [start for start in (before.next_start, again.next_start) if start is not None]
    return ScopeTallies(
        meetings | again.meetings, stored | again.stored, min(starts) if starts else None
    )


def scope_tallies(
    session: Session, *, org_ids: Collection[int], quarter: Quarter, now: datetime, tz: ZoneInfo
) -> ScopeTallies:
    """Tallies the quarter's meetings of every organization in `org_ids` in four statements."""
    wanted = sorted(set(org_ids))
    if not wanted:
        return ScopeTallies({}, {})
    arrays = session.get_bind().dialect.name == "postgresql"
    first, last = quarter.first_day, quarter.last_day
    months = [month_key(date(quarter.year, month, 1)) for month in quarter.months()]
    bounds = {
        "orgs": wanted,
        "first": first,
        "last": last,
        "start": datetime.combine(first, time(0), tzinfo=tz),
        "end": datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz),
    }
    steady: dict[int, int] = dict(_rows(session, _steady_query(arrays), bounds))
    movers: dict[int, list[_Mover]] = defaultdict(list)
    by_id: dict[int, _Mover] = {}
    for member_id, org_id, created, departed in _rows(session, _movers_query(arrays), bounds):
        mover = _Mover(
            member_id,
            created.astimezone(tz).date(),
            departed.astimezone(tz).date() if departed is not None else None,
        )
        movers[org_id].append(mover)
        by_id[member_id] = mover
    # Which meetings each member who joined or left answered (their own organization's count).
    answered_by: dict[int, list[int]] = defaultdict(list)
    if by_id:
        params = {"movers": sorted(by_id)}
        for meeting_id, member_id in _rows(session, _mover_answers_query(arrays), params):
            answered_by[meeting_id].append(member_id)
    mover_org = {mover.id: org_id for org_id, found in movers.items() for mover in found}
    started: list[tuple[Any, ...]] = []
    stored: dict[int, dict[str, StoredDay]] = defaultdict(dict)
    next_start: datetime | None = None
    for row in _rows(session, _meetings_query(arrays), bounds | {"months": months}):
        key, org_id, kind, period, day, at, _, _, status = row[:9]
        if kind is MeetingKind.ORG_LIFE and period in months:
            stored[org_id][period] = StoredDay(key, period, day, status)
        if first <= day <= last and status is not MeetingStatus.CANCELLED:
            if at <= now:
                started.append(row)
            elif next_start is None or at < next_start:
                next_start = at
    # Sorted as stats sorts them: by start, then id.
    started.sort(key=lambda row: (row[5], row[0]))
    tallied: dict[int, list[MeetingTally]] = defaultdict(list)
    for key, org_id, kind, period, day, at, title, venue, status, *counts in started:
        came, leave, absent, answered = counts
        # Every member who belonged that day and did not answer is absent.
        belonging = steady.get(org_id, 0)
        if org_id in movers:
            belonging += sum(1 for mover in movers[org_id] if mover.belongs(day))
        if key in answered_by:
            answered = (answered or 0) + sum(
                1
                for who in answered_by[key]
                if mover_org[who] == org_id and by_id[who].belongs(day)
            )
        missed = (absent or 0) + belonging - (answered or 0)
        tallied[org_id].append(
            MeetingTally(
                key,
                org_id,
                kind,
                period,
                day,
                at,
                title,
                venue,
                status,
                came or 0,
                leave or 0,
                missed if came else 0,
            )
        )
    return ScopeTallies(
        {org_id: tuple(found) for org_id, found in tallied.items()},
        {org_id: dict(found) for org_id, found in stored.items()},
        next_start,
    )
