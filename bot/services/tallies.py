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
    """Per organization: the quarter's started meetings, tallied, and its stored org-life days."""

    meetings: dict[int, tuple[MeetingTally, ...]]
    stored: dict[int, dict[str, StoredDay]]

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


@cache
def _meetings_query(arrays: bool) -> Executable:
    """The scope's meetings from `first` to `last`, and its org-life days of `months`."""
    return select(
        col(Meeting.id),
        col(Meeting.organization_id),
        col(Meeting.kind),
        col(Meeting.period),
        col(Meeting.held_on),
        col(Meeting.starts_at),
        col(Meeting.title),
        col(Meeting.venue),
        col(Meeting.status),
    ).where(
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


def _in_span(arrays: bool) -> Any:
    """The scope's uncancelled meetings from `first` to `last`."""
    return and_(
        _of_scope(Meeting.organization_id, arrays),
        col(Meeting.held_on) >= bindparam("first"),
        col(Meeting.held_on) <= bindparam("last"),
        col(Meeting.status) != MeetingStatus.CANCELLED,
    )


# Who gave an answer, in `_answers_query`: a member of another organization, a steady member
# of the meeting's own, or (by id) one of its own who joined or left around the span.
_ELSEWHERE, _STEADY = 0, -1


@cache
def _answers_query(arrays: bool) -> Executable:
    """Answers per meeting, status and who gave them (see `_ELSEWHERE`)."""
    who = case(
        (
            col(Member.organization_id) == Meeting.organization_id,
            case((_steady(), _STEADY), else_=col(Member.id)),
        ),
        else_=_ELSEWHERE,
    )
    return (
        select(col(Attendance.meeting_id), col(Attendance.status), who, func.count())
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .join(Member, col(Member.id) == Attendance.member_id)
        .where(_in_span(arrays))
        .group_by(col(Attendance.meeting_id), col(Attendance.status), who)
    )


@cache
def _members_query(arrays: bool) -> Executable:
    """Per organization of the scope: its steady members counted, then the others one by one."""
    mover = case((_steady(), _STEADY), else_=col(Member.id))
    return (
        select(
            col(Member.organization_id),
            mover,
            func.min(Member.created_at),
            func.min(Member.departed_at),
            func.count(),
        )
        .where(_of_scope(Member.organization_id, arrays))
        .group_by(col(Member.organization_id), mover)
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


def scope_tallies(
    session: Session, *, org_ids: Collection[int], quarter: Quarter, now: datetime, tz: ZoneInfo
) -> ScopeTallies:
    """Tallies the quarter's meetings of every organization in `org_ids` in three statements."""
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
    started: list[Any] = []
    stored: dict[int, dict[str, StoredDay]] = defaultdict(dict)
    for row in _rows(session, _meetings_query(arrays), bounds | {"months": months}):
        meeting_id, org_id, kind, period, held_on, at, title, venue, status = row
        if kind is MeetingKind.ORG_LIFE and period in months:
            stored[org_id][period] = StoredDay(meeting_id, period, held_on, status)
        if first <= held_on <= last and status is not MeetingStatus.CANCELLED and at <= now:
            started.append(row)
    # (meeting, status) -> answers; meeting -> answers of members who belonged that day.
    answers: dict[tuple[int, str], int] = defaultdict(int)
    belonging_answers: dict[int, int] = defaultdict(int)
    own_movers: list[tuple[int, int, int]] = []
    for meeting_id, status, who, count in _rows(session, _answers_query(arrays), bounds):
        answers[meeting_id, status] += count
        if who == _STEADY:
            belonging_answers[meeting_id] += count
        elif who != _ELSEWHERE:
            own_movers.append((meeting_id, who, count))
    steady: dict[int, int] = {}
    movers: dict[int, list[_Mover]] = defaultdict(list)
    by_id: dict[int, _Mover] = {}
    for org_id, who, created, departed, count in _rows(session, _members_query(arrays), bounds):
        if who == _STEADY:
            steady[org_id] = count
            continue
        mover = _Mover(
            who,
            created.astimezone(tz).date(),
            departed.astimezone(tz).date() if departed is not None else None,
        )
        movers[org_id].append(mover)
        by_id[who] = mover
    days = {row[0]: row[4] for row in started}
    for meeting_id, member_id, count in own_movers:
        if meeting_id in days and by_id[member_id].belongs(days[meeting_id]):
            belonging_answers[meeting_id] += count
    present, leave, absent = (
        AttendanceStatus.PRESENT,
        AttendanceStatus.LEAVE,
        AttendanceStatus.ABSENT,
    )
    tallied: dict[int, list[MeetingTally]] = defaultdict(list)
    started.sort(key=lambda row: (row[5], row[0]))
    for key, org_id, kind, period, day, at, title, venue, status in started:
        belonging = steady.get(org_id, 0)
        if org_id in movers:
            belonging += sum(1 for mover in movers[org_id] if mover.belongs(day))
        came = answers.get((key, present), 0)
        missed = answers.get((key, absent), 0) + belonging - belonging_answers.get(key, 0)
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
                came,
                answers.get((key, leave), 0),
                missed if came else 0,
            )
        )
    return ScopeTallies(
        {org_id: tuple(found) for org_id, found in tallied.items()},
        {org_id: dict(found) for org_id, found in stored.items()},
    )
