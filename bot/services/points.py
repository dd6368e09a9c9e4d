"""Member points (党员积分): earned by signing in, reporting, and taking part in or organizing theme days."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    Duty,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    RoleKind,
)
from bot.core.records import OrgView
from bot.services.errors import ServiceError
from bot.services.members import role_holders_on
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


def _reports(
    session: Session, *, org_id: int, member_ids: list[int], first: date, last: date
) -> Counter[int]:
    """Counts, per member, the ledger entries of a span they reported or took part in.

    A member took part in an entry of their organization when they signed in at one of its
    meetings held that day: the points of a report are not only the typist's.
    """
    entries = session.exec(
        select(col(Activity.id), col(Activity.reporter_id), col(Activity.held_on)).where(
            or_(
                col(Activity.reporter_id).in_(member_ids),
                col(Activity.organization_id) == org_id,
            ),
            Activity.held_on >= first,
            Activity.held_on <= last,
        )
    ).all()
    present: dict[date, set[int]] = defaultdict(set)
    days = {held_on for _, _, held_on in entries}
    if days:
        for member_id, held_on in session.exec(
            select(col(Attendance.member_id), col(Meeting.held_on))
            .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
            .where(
                Meeting.organization_id == org_id,
                col(Meeting.held_on).in_(days),
                Attendance.status == AttendanceStatus.PRESENT,
                col(Attendance.member_id).in_(member_ids),
            )
        ):
            present[held_on].add(member_id)
    counts: Counter[int] = Counter()
    for _, reporter_id, held_on in entries:
        credited = set(present[held_on])
        if reporter_id in member_ids:
            credited.add(reporter_id)
        counts.update(credited)
    return counts


def _theme_days(
    session: Session,
    *,
    org_id: int,
    member_ids: list[int],
    now: datetime,
    first: date,
    last: date,
    today: date,
) -> Counter[int]:
    """Counts, per member, the theme party days of a span they took part in or organized.

    The participants are those signed in; the organizer is whoever held the secretary's role
    of the unit on duty that day (role history), not whoever holds it now.
    """
    rota = Rota(session, now)
    alliances = rota.alliances_of(org_id)
    alliance_ids = [alliance.id for alliance in alliances]
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
    days: dict[int, set[date]] = defaultdict(set)
    led: set[date] = set()
    for meeting in meetings:
        # A theme day counts once it took place: marked held, or its day has passed.
        if meeting.status is not MeetingStatus.HELD and meeting.held_on >= today:
            continue
        on_duty = meeting.organization_id
        alliance = next((a for a in alliances if a.id == meeting.alliance_id), None)
        if alliance is not None:
            on_duty = _on_duty(rota, alliance, meeting.held_on, meeting.organization_id)
        if on_duty == org_id:
            led.add(meeting.held_on)
        for member_id in session.exec(
            select(Attendance.member_id).where(
                Attendance.meeting_id == meeting.id,
                Attendance.status == AttendanceStatus.PRESENT,
                col(Attendance.member_id).in_(member_ids),
            )
        ):
            days[member_id].add(meeting.held_on)
    # A theme day the unit reported through 汇报 was organized by it when it was on duty.
    for held_on in session.exec(
        select(col(Activity.held_on)).where(
            Activity.organization_id == org_id,
            Activity.kind == ActivityKind.THEME_DAY,
            Activity.held_on >= first,
            Activity.held_on <= last,
        )
    ):
        if not alliances or any(
            _on_duty(rota, alliance, held_on, org_id) == org_id for alliance in alliances
        ):
            led.add(held_on)
    holders = role_holders_on(session, org_id=org_id, role=RoleKind.SECRETARY, days=led)
    current = _current_secretaries(session, org_id)
    for day in led:
        # Without a recorded term on that day, the current secretary stands for the unit.
        for member_id in [holders[day]] if day in holders else current:
            if member_id in member_ids:
                days[member_id].add(day)
    return Counter({member_id: len(held) for member_id, held in days.items()})


def _on_duty(rota: Rota, alliance: Alliance, day: date, fallback: int) -> int:
    """Returns the unit on theme-day duty of an alliance on a day."""
    try:
        return rota.slot(alliance, Duty.THEME_DAY, day).org.id
    except ServiceError:
        return fallback


def _current_secretaries(session: Session, org_id: int) -> list[int]:
    """Lists the members holding the secretary's role of an organization now."""
    return list(
        session.exec(
            select(Role.member_id).where(
                Role.organization_id == org_id, Role.role == RoleKind.SECRETARY
            )
        ).all()
    )


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
    reports = _reports(session, org_id=org_id, member_ids=ids, first=first, last=last)
    themes = _theme_days(
        session, org_id=org_id, member_ids=ids, now=now, first=first, last=last, today=today
    )
    unranked: list[tuple[int, str, int, int, int, int]] = []
    for member in members:
        assert member.id is not None
        total = (
            checkins[member.id] * weights.checkin
            + reports[member.id] * weights.report
            + themes[member.id] * weights.theme_day
        )
        unranked.append(
            (
                member.id,
                member.name,
                checkins[member.id],
                reports[member.id],
                themes[member.id],
                total,
            )
        )
    unranked.sort(key=lambda row: -row[5])
    rows: list[MemberPoints] = []
    for index, (member_id, name, c, r, th, total) in enumerate(unranked):
        # Competition ranking: equal totals share a rank, the next rank skips (1, 2, 2, 4).
        rank = rows[-1].rank if rows and rows[-1].total == total else index + 1
        rows.append(MemberPoints(member_id, name, c, r, th, total, rank))
    return PointsTable(org_view(org), year, weights, rows)
