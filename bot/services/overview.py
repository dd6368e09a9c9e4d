"""The district at a glance: every organization in scope against every rule, most behind first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import ActivityKind, OrgKind
from bot.core.records import OrgView
from bot.services.compliance import ComplianceReport, Requirement, State, compliance_report
from bot.services.organizations import org_view
from bot.services.stats import attendance_reports
from storage.models import Activity, Organization

# Organizations that owe the branch rules (the committee and general branches oversee them).
BRANCH_KINDS = (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)
# The worst state of a requirement's lines wins a cell.
_SEVERITY = {State.DONE: 0, State.OWED: 1, State.MISSED: 2}


@dataclass(frozen=True, slots=True)
class Standing:
    """One organization's row: each requirement's worst state and the report behind it."""

    org: OrgView
    report: ComplianceReport
    cells: dict[Requirement, State]

    def count(self, state: State) -> int:
        """Counts the report's lines in `state` (the figures `gongjian status` prints)."""
        return self.report.count(state)


@dataclass(frozen=True, slots=True)
class Overview:
    """A quarter over the organizations in scope, with the figures the charts draw."""

    quarter: Quarter
    standings: tuple[Standing, ...]
    requirements: tuple[Requirement, ...]
    attendance_by_month: tuple[tuple[int, float], ...]
    activities_by_kind: tuple[tuple[ActivityKind, int], ...]


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
    branches = session.exec(
        select(Organization)
        .where(col(Organization.id).in_(sorted(org_ids)), col(Organization.kind).in_(BRANCH_KINDS))
        .order_by(col(Organization.code))
    ).all()
    standings = []
    for org in branches:
        assert org.id is not None
        report = compliance_report(
            session, org_id=org.id, quarter=quarter, now=now, holidays=holidays, tz=tz
        )
        cells: dict[Requirement, State] = {}
        for line in report.lines:
            held = cells.get(line.requirement)
            if held is None or _SEVERITY[line.state] > _SEVERITY[held]:
                cells[line.requirement] = line.state
        standings.append(Standing(org=org_view(org), report=report, cells=cells))
    standings.sort(key=lambda s: (-s.count(State.MISSED), -s.count(State.OWED), s.org.code))
    seen = {requirement for standing in standings for requirement in standing.cells}
    ids = [org.id for org in branches if org.id is not None]
    return Overview(
        quarter=quarter,
        standings=tuple(standings),
        requirements=tuple(r for r in Requirement if r in seen),
        attendance_by_month=_attendance_by_month(session, ids, quarter, now, tz),
        activities_by_kind=_activities_by_kind(session, ids, quarter),
    )


def _attendance_by_month(
    session: Session, org_ids: list[int], quarter: Quarter, now: datetime, tz: ZoneInfo
) -> tuple[tuple[int, float], ...]:
    """Returns (month, attendance rate) over the meetings that took place in scope."""
    reports = attendance_reports(
        session,
        org_ids=org_ids,
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        now=now,
        tz=tz,
    )
    present: Counter[int] = Counter()
    expected: Counter[int] = Counter()
    for report in reports.values():
        for meeting in report.taken:
            present[meeting.held_on.month] += meeting.present
            expected[meeting.held_on.month] += meeting.present + meeting.absent
    months = range(quarter.first_day.month, quarter.last_day.month + 1)
    return tuple(
        (month, present[month] / expected[month] if expected[month] else 0.0) for month in months
    )


def _activities_by_kind(
    session: Session, org_ids: list[int], quarter: Quarter
) -> tuple[tuple[ActivityKind, int], ...]:
    """Counts the quarter's reported activities in scope by kind."""
    if not org_ids:
        return ()
    rows = session.exec(
        select(Activity.kind, func.count())
        .where(
            col(Activity.organization_id).in_(org_ids),
            col(Activity.held_on) >= quarter.first_day,
            col(Activity.held_on) <= quarter.last_day,
        )
        .group_by(col(Activity.kind))
    ).all()
    counted = dict(rows)
    return tuple((kind, int(counted[kind])) for kind in ActivityKind if counted.get(kind))
