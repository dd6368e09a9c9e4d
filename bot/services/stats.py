"""Attendance statistics: per meeting, per member and per organization over a span of days."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    CompoundSelect,
    Executable,
    Integer,
    Select,
    String,
    all_,
    and_,
    bindparam,
    cast,
    literal,
    null,
    or_,
    union_all,
)
from sqlalchemy import select as select_columns
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from bot.calendar.quarters import Quarter, month_key
from bot.core.domain import AttendanceStatus, MeetingKind, MeetingStatus
from bot.core.records import OrgView
from bot.services.organizations import org_view
from storage.models import Attendance, Meeting, Member, Organization
from storage.queries import among, run
from storage.types import UTCDateTime

CN_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
QUARTER_PATTERN = re.compile(
    r"(?P<year>\d{4})\s*年?\s*[-]?\s*(?:q|第)?\s*(?P<q>[1-4一二三四])\s*(?:季度|季)?"
)
THIS_QUARTER = frozenset(
    {"", "本季度", "本季", "这季度", "这个季度", "this", "this quarter", "quarter"}
)
LAST_QUARTER = frozenset({"上季度", "上季", "上个季度", "last", "last quarter", "previous"})


def parse_quarter(text: str, today: date) -> Quarter | None:
    """Reads a quarter as secretaries type it: 本季度, 上季度, 2026Q4, 2026年第四季度; else None."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in THIS_QUARTER:
        return Quarter.of(today)
    if cleaned in LAST_QUARTER:
        return Quarter.of(today).previous()
    match = QUARTER_PATTERN.fullmatch(cleaned)
    # "20264" is no quarter: a Q, 年, 第 or 季 must say which digit is the quarter.
    if match is None or not any(marker in cleaned for marker in "q年第季"):
        return None
    try:
        return Quarter(int(match["year"]), CN_NUMBERS[match["q"]])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class MeetingTally:
    """One meeting's attendance; `taken` is False when nobody signed in (no roll was taken)."""

    meeting_id: int
    org_id: int
    kind: MeetingKind
    period: str
    held_on: date
    starts_at: datetime
    title: str
    venue: str
    status: MeetingStatus
    present: int
    leave: int
    absent: int

    @property
    def taken(self) -> bool:
        """Tells whether attendance was taken (someone signed in), i.e. the meeting took place."""
        return self.present > 0

    @property
    def expected(self) -> int:
        """How many members were expected (应到): everyone, those on leave included."""
        return self.present + self.leave + self.absent

    @property
    def rate(self) -> float:
        """The share of expected members who signed in, 0..1."""
        return self.present / self.expected if self.expected else 0.0


@dataclass(frozen=True, slots=True)
class MemberTally:
    """One member's answers to the meetings of a span; `marks` follows the report's meetings."""

    member_id: int
    name: str
    marks: tuple[AttendanceStatus | None, ...]

    def count(self, status: AttendanceStatus) -> int:
        """Counts the meetings the member answered with `status`."""
        return sum(1 for mark in self.marks if mark is status)

    @property
    def present(self) -> int:
        """Meetings attended."""
        return self.count(AttendanceStatus.PRESENT)

    @property
    def leave(self) -> int:
        """Meetings excused."""
        return self.count(AttendanceStatus.LEAVE)

    @property
    def absent(self) -> int:
        """Meetings missed without leave."""
        return self.count(AttendanceStatus.ABSENT)

    @property
    def expected(self) -> int:
        """Meetings the member was expected at (应到), those on leave for included."""
        return self.present + self.leave + self.absent

    @property
    def rate(self) -> float:
        """The share of expected meetings attended, 0..1."""
        return self.present / self.expected if self.expected else 0.0


@dataclass(frozen=True, slots=True)
class AttendanceReport:
    """An organization's attendance over a span: every meeting, and every member over the taken ones."""

    org: OrgView
    first_day: date
    last_day: date
    meetings: tuple[MeetingTally, ...]
    members: tuple[MemberTally, ...]

    @property
    def taken(self) -> tuple[MeetingTally, ...]:
        """The meetings whose attendance counts (someone signed in)."""
        return tuple(meeting for meeting in self.meetings if meeting.taken)

    @property
    def present(self) -> int:
        """Sign-ins over the taken meetings."""
        return sum(meeting.present for meeting in self.taken)

    @property
    def leave(self) -> int:
        """Leaves over the taken meetings."""
        return sum(meeting.leave for meeting in self.taken)

    @property
    def absent(self) -> int:
        """Absences over the taken meetings."""
        return sum(meeting.absent for meeting in self.taken)

    @property
    def expected(self) -> int:
        """Expected attendances (应到) over the taken meetings, leaves included."""
        return self.present + self.leave + self.absent

    @property
    def rate(self) -> float:
        """The share of expected attendances that happened, 0..1."""
        return self.present / self.expected if self.expected else 0.0

    def member(self, member_id: int) -> MemberTally | None:
        """Returns one member's tally, if they belong to the report."""
        return next((m for m in self.members if m.member_id == member_id), None)


@dataclass(frozen=True, slots=True)
class _Person:
    """A member as attendance needs them: name, organization, and when they joined and left."""

    id: int
    name: str
    org_id: int
    joined: date
    left: date | None

    def belongs(self, org_id: int, day: date) -> bool:
        """Tells whether the member was in the organization on `day`."""
        return (
            self.org_id == org_id and self.joined <= day and (self.left is None or day < self.left)
        )


def attendance_reports(
    session: Session,
    *,
    org_ids: Collection[int],
    first_day: date,
    last_day: date,
    now: datetime,
    tz: ZoneInfo,
) -> dict[int, AttendanceReport]:
    """Tallies the meetings that have started by `now` between two dates, per organization.

    One query whatever the number of organizations, meetings and members (and one more for
    organizations the session has not loaded). A member is expected at a meeting when they
    belonged to the organization that day or answered it; a meeting without any sign-in is
    listed but does not count against anyone.
    """
    reports, _ = _read_reports(
        session,
        org_ids=org_ids,
        first_day=first_day,
        last_day=last_day,
        now=now,
        tz=tz,
        org_life_months=(),
    )
    return reports


@dataclass(frozen=True, slots=True)
class StoredDay:
    """A stored org-life day of a month, whatever its status and whether it has started."""

    meeting_id: int
    period: str
    held_on: date
    status: MeetingStatus


def attendance_and_org_life(
    session: Session, *, org_id: int, quarter: Quarter, now: datetime, tz: ZoneInfo
) -> tuple[AttendanceReport, dict[str, StoredDay]]:
    """Tallies a quarter's attendance and finds the stored org-life day of each of its months."""
    months = tuple(month_key(date(quarter.year, month, 1)) for month in quarter.months())
    reports, days = _read_reports(
        session,
        org_ids=[org_id],
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        now=now,
        tz=tz,
        org_life_months=months,
    )
    return reports[org_id], {day.period: day for day in days}


def _read_reports(
    session: Session,
    *,
    org_ids: Collection[int],
    first_day: date,
    last_day: date,
    now: datetime,
    tz: ZoneInfo,
    org_life_months: Sequence[str],
) -> tuple[dict[int, AttendanceReport], list[StoredDay]]:
    """Builds the reports, and lists the stored org-life days of `org_life_months`."""
    wanted = sorted(set(org_ids))
    if not wanted:
        return {}, []
    orgs = _org_views(session, wanted)
    bound, params = _bound(session.get_bind().dialect.name, wanted)
    # Three months (a quarter's) or none: "" is no month.
    months = [*org_life_months, "", "", ""][:3]
    params |= {"first": first_day, "last": last_day} | {f"month{n}": months[n] for n in range(3)}
    # Uncounted tallies: `_report` fills in the counts.
    meetings: list[MeetingTally] = []
    stored: list[StoredDay] = []
    answers: dict[int, dict[int, AttendanceStatus]] = defaultdict(dict)
    people: dict[int, _Person] = {}
    rows: Sequence[Any] = run(session, _records_query(bound), params).all()
    for row in rows:
        # By position: a row's attributes cost more to look up.
        (
            source,
            key,
            org_id,
            kind,
            period,
            held_on,
            at,
            text,
            venue,
            status,
            member,
            answer,
            until,
        ) = row
        if source == _MEETING:
            meeting = MeetingTally(
                key, org_id, kind, period, held_on, at, text, venue, status, 0, 0, 0
            )
            if kind is MeetingKind.ORG_LIFE and period in org_life_months:
                stored.append(StoredDay(key, period, held_on, status))
            if (
                first_day <= held_on <= last_day
                and status is not MeetingStatus.CANCELLED
                and at <= now
            ):
                meetings.append(meeting)
        elif source == _ANSWER:
            answers[key][member] = AttendanceStatus(answer)
        elif key not in people:
            people[key] = _Person(
                id=key,
                name=text,
                org_id=org_id,
                joined=at.astimezone(tz).date(),
                left=until.astimezone(tz).date() if until is not None else None,
            )
    meetings.sort(key=lambda meeting: (meeting.starts_at, meeting.meeting_id))
    started = {meeting.meeting_id for meeting in meetings}
    answered = {member for key, rows in answers.items() if key in started for member in rows}
    # The organizations' members, and those of other organizations who answered a meeting
    # that has started (the query also reads those who only answered one still to come).
    mine = set(wanted)
    kept = [person for person in people.values() if person.org_id in mine or person.id in answered]
    reports: dict[int, AttendanceReport] = {}
    for org_id in wanted:
        if org_id not in orgs:
            continue
        own = [meeting for meeting in meetings if meeting.org_id == org_id]
        reports[org_id] = _report(
            orgs[org_id],
            meetings=own,
            answers=answers,
            people=kept,
            first_day=first_day,
            last_day=last_day,
        )
    return reports, stored


def _org_views(session: Session, org_ids: list[int]) -> dict[int, OrgView]:
    """Returns the organizations by id: those the session holds, then the others in one query."""
    found: dict[int, OrgView] = {}
    missing = []
    for org_id in org_ids:
        org = session.identity_map.get(identity_key(Organization, org_id))
        if isinstance(org, Organization):
            found[org_id] = org_view(org)
        else:
            missing.append(org_id)
    if missing:
        for org in session.exec(select(Organization).where(col(Organization.id).in_(missing))):
            view = org_view(org)
            found[view.id] = view
    return found


# The tags of the report query's rows, saying which table each comes from.
_MEETING, _ANSWER, _PERSON = "meeting", "answer", "person"


class _Bound(StrEnum):
    """How the report query takes its organizations."""

    # One organization, bound as `org`: the secretary's own report.
    ONE = "one"
    # A list bound as `orgs`: PostgreSQL takes it as one array (one statement text, prepared
    # once, whatever its length), SQLite as an expanded IN (...).
    ARRAY = "array"
    LIST = "list"


def _bound(dialect: str, org_ids: list[int]) -> tuple[_Bound, dict[str, Any]]:
    """Chooses how to bind the organizations, and binds them."""
    if len(org_ids) == 1:
        # A scalar, not a one-element list: PostgreSQL then keeps the prepared statement's
        # generic plan instead of planning each run anew.
        return _Bound.ONE, {"org": org_ids[0]}
    if dialect == "postgresql":
        return _Bound.ARRAY, {"orgs": org_ids}
    return _Bound.LIST, {"orgs": org_ids, "orgs_out": org_ids}


def _of_orgs(column: Any, bound: _Bound) -> Any:
    """Tests a column against the organizations."""
    column = col(column)
    if bound is _Bound.ONE:
        return column == bindparam("org")
    return among(column, "orgs", arrays=bound is _Bound.ARRAY)


def _not_of_orgs(column: Any, bound: _Bound) -> Any:
    """Tests a (non-null) column against none of the organizations."""
    column = col(column)
    if bound is _Bound.ONE:
        return column != bindparam("org")
    if bound is _Bound.ARRAY:
        return column != all_(bindparam("orgs", type_=ARRAY(column.expression.type)))
    # A name of its own: an expanding list bound under one name to both an IN and a NOT IN
    # may be rendered as the latter in both places when empty.
    return column.not_in(bindparam("orgs_out", expanding=True))


@cache
def _records_query(bound: _Bound) -> Executable:
    """The organizations' meetings from `first` to `last` and org-life days of `month0..2`, tagged.

    Then the answers to the meetings of the span, the members of the organizations and the
    members of other organizations who answered; by (name, id), as the database collates.
    """
    # One statement, not four: a round trip costs more than any of them.
    in_span = and_(
        _of_orgs(Meeting.organization_id, bound),
        col(Meeting.held_on) >= bindparam("first"),
        col(Meeting.held_on) <= bindparam("last"),
        col(Meeting.status) != MeetingStatus.CANCELLED,
    )
    # Typed, so that every database reads the same types down each column of the union.
    meetings: Select[*tuple[Any, ...]] = select_columns(
        literal(_MEETING).label("source"),
        col(Meeting.id).label("id"),
        col(Meeting.organization_id).label("org_id"),
        col(Meeting.kind).label("kind"),
        col(Meeting.period).label("period"),
        col(Meeting.held_on).label("held_on"),
        col(Meeting.starts_at).label("at"),
        col(Meeting.title).label("text"),
        col(Meeting.venue).label("venue"),
        col(Meeting.status).label("status"),
        cast(null(), Integer).label("member_id"),
        cast(null(), String).label("answer"),
        cast(null(), UTCDateTime()).label("until"),
    ).where(
        _of_orgs(Meeting.organization_id, bound),
        or_(
            and_(
                col(Meeting.held_on) >= bindparam("first"),
                col(Meeting.held_on) <= bindparam("last"),
            ),
            and_(
                col(Meeting.kind) == MeetingKind.ORG_LIFE,
                col(Meeting.period).in_([bindparam(f"month{n}") for n in range(3)]),
            ),
        ),
    )
    answers = (
        select_columns(
            literal(_ANSWER),
            col(Attendance.meeting_id),
            *(null() for _ in range(8)),
            col(Attendance.member_id),
            cast(col(Attendance.status), String),
            null(),
        )
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .where(in_span)
    )
    person = (
        literal(_PERSON),
        col(Member.id),
        col(Member.organization_id),
        *(null() for _ in range(3)),
        col(Member.created_at),
        col(Member.name),
        *(null() for _ in range(4)),
        col(Member.departed_at),
    )
    own = select_columns(*person).where(_of_orgs(Member.organization_id, bound))
    # Members now elsewhere come once per meeting they answered; the first is kept.
    others = (
        select_columns(*person)
        .join(Attendance, col(Attendance.member_id) == Member.id)
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .where(in_span, _not_of_orgs(Member.organization_id, bound))
    )
    both: CompoundSelect[*tuple[Any, ...]] = union_all(meetings, answers, own, others)
    columns = both.selected_columns
    return both.order_by(columns.text, columns.id)


def _report(
    org: OrgView,
    *,
    meetings: list[MeetingTally],
    answers: Mapping[int, Mapping[int, AttendanceStatus]],
    people: list[_Person],
    first_day: date,
    last_day: date,
) -> AttendanceReport:
    """Builds one organization's report from rows already read."""
    tallies: list[MeetingTally] = []
    marks: dict[int, list[AttendanceStatus | None]] = {person.id: [] for person in people}
    for meeting in meetings:
        rows = answers.get(meeting.meeting_id, {})
        taken = any(status is AttendanceStatus.PRESENT for status in rows.values())
        counts = dict.fromkeys(AttendanceStatus, 0)
        for person in people:
            status = rows.get(person.id)
            if status is None and person.belongs(org.id, meeting.held_on):
                status = AttendanceStatus.ABSENT
            if status is not None:
                counts[status] += 1
            marks[person.id].append(status if taken else None)
        tallies.append(
            replace(
                meeting,
                present=counts[AttendanceStatus.PRESENT],
                leave=counts[AttendanceStatus.LEAVE],
                absent=counts[AttendanceStatus.ABSENT] if taken else 0,
            )
        )
    members = tuple(
        MemberTally(person.id, person.name, tuple(marks[person.id]))
        for person in people
        if (person.org_id == org.id and person.left is None)
        or any(mark is not None for mark in marks[person.id])
    )
    return AttendanceReport(org, first_day, last_day, tuple(tallies), members)


def attendance_report(
    session: Session, *, org_id: int, quarter: Quarter, now: datetime, tz: ZoneInfo
) -> AttendanceReport:
    """Tallies one organization's attendance over a quarter, up to `now`."""
    reports = attendance_reports(
        session,
        org_ids=[org_id],
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        now=now,
        tz=tz,
    )
    return reports[org_id]
