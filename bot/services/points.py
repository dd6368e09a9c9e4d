"""Member points (党员积分): earned by signing in, reporting and leading theme party days."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from bot.core.domain import (
    AttendanceStatus,
    Duty,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    RoleKind,
)
from bot.core.records import OrgView
from bot.services.errors import ServiceError
from bot.services.organizations import org_view
from bot.services.rota import Rota
from storage.models import Activity, Alliance, Attendance, Meeting, Member, Organization, Role


@dataclass(frozen=True, slots=True)
class PointWeights:
    """How many points each kind of participation earns."""

    checkin: int = 2
    report: int = 3
    theme_day: int = 5


@dataclass(frozen=True, slots=True)
class MemberPoints:
    """One member's points in one year, with the counts behind them and their rank."""

    member_id: int
    name: str
    checkins: int
    reports: int
    theme_days: int
    total: int
    rank: int


@dataclass(frozen=True, slots=True)
class PointsTable:
    """An organization's members ranked by points in one year."""

    org: OrgView
    year: int
    weights: PointWeights
    rows: list[MemberPoints]

    def of(self, member_id: int) -> MemberPoints | None:
        """Returns one member's row, if they are in the table."""
        return next((row for row in self.rows if row.member_id == member_id), None)


def _year_bounds(year: int, today: date) -> tuple[date, date]:
    """Returns the first day of a year and its last day that counts (today, for this year)."""
    return date(year, 1, 1), min(date(year, 12, 31), today)


def _checkins(session: Session, member_ids: list[int], first: date, last: date) -> Counter[int]:
    """Counts each member's sign-ins to meetings held in a span."""
    rows = session.exec(
        select(Attendance.member_id, func.count())
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .where(
            col(Attendance.member_id).in_(member_ids),
            Attendance.status == AttendanceStatus.PRESENT,
            Meeting.held_on >= first,
            Meeting.held_on <= last,
        )
        .group_by(col(Attendance.member_id))
    ).all()
    return Counter({member_id: int(count) for member_id, count in rows})


def _reports(session: Session, member_ids: list[int], first: date, last: date) -> Counter[int]:
    """Counts each member's ledger reports of activities held in a span."""
    rows = session.exec(
        select(Activity.reporter_id, func.count())
        .where(
            col(Activity.reporter_id).in_(member_ids),
            Activity.held_on >= first,
            Activity.held_on <= last,
        )
        .group_by(col(Activity.reporter_id))
    ).all()
    return Counter({member_id: int(count) for member_id, count in rows if member_id is not None})


def _theme_days(
    session: Session, *, org_id: int, now: datetime, first: date, last: date, today: date
) -> int:
    """Counts the theme party days held in a span whose on-duty unit was this organization."""
    rota = Rota(session, now)
    alliance_ids = [alliance.id for alliance in rota.alliances_of(org_id)]
    meetings = session.exec(
        select(Meeting).where(
            Meeting.kind == MeetingKind.THEME_DAY,
            Meeting.status != MeetingStatus.CANCELLED,
            Meeting.held_on >= first,
            Meeting.held_on <= last,
            or_(
                col(Meeting.alliance_id).in_(alliance_ids),
                (col(Meeting.alliance_id).is_(None)) & (col(Meeting.organization_id) == org_id),
            ),
        )
    ).all()
    led = 0
    for meeting in meetings:
        # A theme day counts once it took place: marked held, or its day has passed.
        if meeting.status is not MeetingStatus.HELD and meeting.held_on >= today:
            continue
        on_duty = meeting.organization_id
        alliance = session.get(Alliance, meeting.alliance_id) if meeting.alliance_id else None
        if alliance is not None:
            try:
                on_duty = rota.slot(alliance, Duty.THEME_DAY, meeting.held_on).org.id
            except ServiceError:
                on_duty = meeting.organization_id
        if on_duty == org_id:
            led += 1
    return led


def points_table(
    session: Session,
    *,
    org_id: int,
    year: int,
    weights: PointWeights,
    now: datetime,
    today: date,
) -> PointsTable:
    """Computes every current member's points of one year in an organization, ranked."""
    org = session.get_one(Organization, org_id)
    members = session.exec(
        select(Member)
        .where(Member.organization_id == org_id, Member.status != MemberStatus.DEPARTED)
        .order_by(col(Member.name), col(Member.id))
    ).all()
    ids = [member.id for member in members if member.id is not None]
    first, last = _year_bounds(year, today)
    checkins = _checkins(session, ids, first, last)
    reports = _reports(session, ids, first, last)
    # Leading a theme day falls to the secretary of the unit on duty (as the alliance rules say).
    secretaries = set(
        session.exec(
            select(Role.member_id).where(
                Role.organization_id == org_id, Role.role == RoleKind.SECRETARY
            )
        ).all()
    )
    led = (
        _theme_days(session, org_id=org_id, now=now, first=first, last=last, today=today)
        if secretaries
        else 0
    )
    unranked: list[tuple[int, str, int, int, int, int]] = []
    for member in members:
        assert member.id is not None
        themes = led if member.id in secretaries else 0
        total = (
            checkins[member.id] * weights.checkin
            + reports[member.id] * weights.report
            + themes * weights.theme_day
        )
        unranked.append(
            (member.id, member.name, checkins[member.id], reports[member.id], themes, total)
        )
    unranked.sort(key=lambda row: -row[5])
    rows: list[MemberPoints] = []
    for index, (member_id, name, c, r, th, total) in enumerate(unranked):
        # Competition ranking: equal totals share a rank, the next rank skips (1, 2, 2, 4).
        rank = rows[-1].rank if rows and rows[-1].total == total else index + 1
        rows.append(MemberPoints(member_id, name, c, r, th, total, rank))
    return PointsTable(org_view(org), year, weights, rows)
