"""Attendance statistics: per meeting, per member and per organization over a span of days."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from bot.core.domain import AttendanceStatus, MeetingKind, MeetingStatus
from bot.services.organizations import org_view
from bot.services.views import OrgView
from scheduler.quarters import Quarter
from storage.models import Attendance, Meeting, Member, Organization

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
        """How many members were expected (everyone but those on leave)."""
        return self.present + self.absent

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
        """Meetings the member was expected at (leave excuses)."""
        return self.present + self.absent

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
        """Expected attendances over the taken meetings."""
        return self.present + self.absent

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

    Three queries whatever the number of organizations, meetings and members: meetings,
    attendance rows, members. A member is expected at a meeting when they belonged to the
    organization that day or answered it; a meeting without any sign-in is listed but does
    not count against anyone.
    """
    wanted = sorted(set(org_ids))
    orgs = {
        org.id: org_view(org)
        for org in session.exec(select(Organization).where(col(Organization.id).in_(wanted)))
        if org.id is not None
    }
    meetings = [
        meeting
        for meeting in session.exec(
            select(Meeting)
            .where(
                col(Meeting.organization_id).in_(wanted),
                Meeting.held_on >= first_day,
                Meeting.held_on <= last_day,
                Meeting.status != MeetingStatus.CANCELLED,
            )
            .order_by(col(Meeting.starts_at), col(Meeting.id))
        )
        if meeting.starts_at <= now
    ]
    meeting_ids = [meeting.id for meeting in meetings]
    answers: dict[int, dict[int, AttendanceStatus]] = defaultdict(dict)
    for meeting_id, member_id, status in session.execute(
        select_columns(
            col(Attendance.meeting_id), col(Attendance.member_id), col(Attendance.status)
        ).where(col(Attendance.meeting_id).in_(meeting_ids))
    ):
        answers[meeting_id][member_id] = AttendanceStatus(status)
    answered = {member for rows in answers.values() for member in rows}
    people = _people(session, org_ids=wanted, member_ids=answered, tz=tz)
    reports: dict[int, AttendanceReport] = {}
    for org_id in wanted:
        if org_id not in orgs:
            continue
        own = [meeting for meeting in meetings if meeting.organization_id == org_id]
        reports[org_id] = _report(
            orgs[org_id],
            meetings=own,
            answers=answers,
            people=people,
            first_day=first_day,
            last_day=last_day,
        )
    return reports


def _people(
    session: Session, *, org_ids: list[int], member_ids: set[int], tz: ZoneInfo
) -> list[_Person]:
    """Reads the members of the organizations and everyone who answered, by name."""
    rows = session.execute(
        select_columns(
            col(Member.id),
            col(Member.name),
            col(Member.organization_id),
            col(Member.created_at),
            col(Member.departed_at),
        )
        .where(or_(col(Member.organization_id).in_(org_ids), col(Member.id).in_(member_ids)))
        .order_by(col(Member.name), col(Member.id))
    )
    return [
        _Person(
            id=member_id,
            name=name,
            org_id=org_id,
            joined=created.astimezone(tz).date(),
            left=departed.astimezone(tz).date() if departed is not None else None,
        )
        for member_id, name, org_id, created, departed in rows
    ]


def _report(
    org: OrgView,
    *,
    meetings: list[Meeting],
    answers: Mapping[int, Mapping[int, AttendanceStatus]],
    people: list[_Person],
    first_day: date,
    last_day: date,
) -> AttendanceReport:
    """Builds one organization's report from rows already read."""
    tallies: list[MeetingTally] = []
    marks: dict[int, list[AttendanceStatus | None]] = {person.id: [] for person in people}
    for meeting in meetings:
        assert meeting.id is not None
        rows = answers.get(meeting.id, {})
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
            MeetingTally(
                meeting_id=meeting.id,
                org_id=org.id,
                kind=meeting.kind,
                period=meeting.period,
                held_on=meeting.held_on,
                starts_at=meeting.starts_at,
                title=meeting.title,
                venue=meeting.venue,
                status=meeting.status,
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
