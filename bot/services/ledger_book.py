"""The quarterly ledger (台账) as an .xlsx workbook: activities, meetings, attendance, pairings, compliance."""

from __future__ import annotations

import io
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import or_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import ActivityKind, AttendanceStatus
from bot.core.i18n import N_, Translator
from bot.core.records import OrgView
from bot.core.reply import Document
from bot.services.compliance import (
    ComplianceReport,
    Requirement,
    State,
    Subject,
    compliance_report,
    detail_text,
    requirement_text,
    state_text,
    subject_text,
)
from bot.services.obligations.facts import ALLIANCE_KINDS
from bot.services.stats import AttendanceReport
from bot.texts.phrases import ACTIVITY_KINDS, MEETING_KINDS
from bot.texts.reminders import period_label
from storage.models import Activity, ActivityPartner, Member, Organization
from storage.reminders import FilingKind, FilingMethod, org_scope, record_filing

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0%"
MAX_COLUMN_WIDTH = 60
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDDDDD", end_color="DDDDDD")

SHEETS = {
    "activities": N_("Activities"),
    "meetings": N_("Meetings"),
    "attendance": N_("Attendance"),
    "pairings": N_("Pairing visits"),
    "compliance": N_("Compliance"),
}
ACTIVITY_COLUMNS = (
    N_("Date"),
    N_("Kind"),
    N_("Organization"),
    N_("Partners"),
    N_("Participants"),
    N_("Summary"),
    N_("Reporter"),
)
MEETING_COLUMNS = (
    N_("Date"),
    N_("Meeting"),
    N_("Title"),
    N_("Venue"),
    N_("Expected"),
    N_("Present"),
    N_("On leave"),
    N_("Absent"),
    N_("Attendance rate"),
    N_("Note"),
)
MEMBER_TOTAL_COLUMNS = (N_("Present"), N_("On leave"), N_("Absent"), N_("Attendance rate"))
PAIRING_COLUMNS = (
    N_("Pairing"),
    N_("Visits this year"),
    N_("Target"),
    N_("Expected by now"),
    N_("Visit dates"),
    N_("Joint activity this quarter"),
)
COMPLIANCE_COLUMNS = (N_("Subject"), N_("Requirement"), N_("State"), N_("Deadline"), N_("Detail"))
MARKS: dict[AttendanceStatus, str] = {
    AttendanceStatus.PRESENT: N_("present"),
    AttendanceStatus.LEAVE: N_("on leave"),
    AttendanceStatus.ABSENT: N_("absent"),
}


@dataclass(frozen=True, slots=True)
class LedgerActivity:
    """One ledger entry as the workbook lists it."""

    held_on: date
    kind: ActivityKind
    org: str
    partners: tuple[str, ...]
    participants: int
    title: str
    summary: str
    reporter: str


@dataclass(frozen=True, slots=True)
class LedgerData:
    """Everything one organization's quarterly ledger shows, read at one moment."""

    org: OrgView
    quarter: Quarter
    made_at: datetime
    activities: tuple[LedgerActivity, ...]
    compliance: ComplianceReport

    @property
    def attendance(self) -> AttendanceReport:
        """The quarter's meetings and members with their attendance."""
        return self.compliance.attendance


def ledger_data(
    session: Session,
    *,
    org_id: int,
    quarter: Quarter,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
) -> LedgerData:
    """Reads an organization's quarter: its ledger entries, attendance and compliance."""
    report = compliance_report(
        session, org_id=org_id, quarter=quarter, now=now, holidays=holidays, tz=tz
    )
    last = min(quarter.last_day, report.today)
    return LedgerData(
        org=report.org,
        quarter=quarter,
        made_at=now.astimezone(tz),
        activities=activities_of(
            session, org_id=org_id, first_day=quarter.first_day, last_day=last
        ),
        compliance=report,
    )


def activities_of(
    session: Session, *, org_id: int, first_day: date, last_day: date
) -> tuple[LedgerActivity, ...]:
    """Lists the entries an organization reported or took part in between two dates."""
    as_partner = select(ActivityPartner.activity_id).where(
        ActivityPartner.organization_id == org_id
    )
    where = or_(col(Activity.organization_id) == org_id, col(Activity.id).in_(as_partner))
    return _activities(session, where, first_day, last_day)


def activities_of_group(
    session: Session,
    *,
    alliance_id: int | None = None,
    pairing_id: int | None = None,
    first_day: date,
    last_day: date,
) -> tuple[LedgerActivity, ...]:
    """Lists the entries recorded for an alliance or a pairing between two dates."""
    # An entry naming both groups is listed where it belongs (see `home_of`), once.
    alliance_kinds = col(Activity.kind).in_(sorted(ALLIANCE_KINDS))
    if alliance_id is not None:
        where = (col(Activity.alliance_id) == alliance_id) & (
            col(Activity.pairing_id).is_(None) | alliance_kinds
        )
    else:
        where = (col(Activity.pairing_id) == pairing_id) & (
            col(Activity.alliance_id).is_(None) | ~alliance_kinds
        )
    return _activities(session, where, first_day, last_day)


def _activities(
    session: Session, where: Any, first_day: date, last_day: date
) -> tuple[LedgerActivity, ...]:
    """Reads entries with their partners, organizations and reporters in four queries."""
    rows = session.exec(
        select(Activity)
        .where(where, Activity.held_on >= first_day, Activity.held_on <= last_day)
        .order_by(col(Activity.held_on), col(Activity.id))
    ).all()
    ids = [row.id for row in rows]
    partners: dict[int, list[str]] = defaultdict(list)
    for activity_id, name in session.execute(
        select_columns(col(ActivityPartner.activity_id), col(Organization.name))
        .join(Organization, col(Organization.id) == ActivityPartner.organization_id)
        .where(col(ActivityPartner.activity_id).in_(ids))
        .order_by(col(Organization.code))
    ):
        partners[activity_id].append(name)
    org_names: dict[int, str] = {
        org_id: name
        for org_id, name in session.execute(
            select_columns(col(Organization.id), col(Organization.name)).where(
                col(Organization.id).in_({row.organization_id for row in rows})
            )
        )
    }
    reporters: dict[int, str] = {
        member_id: name
        for member_id, name in session.execute(
            select_columns(col(Member.id), col(Member.name)).where(
                col(Member.id).in_({row.reporter_id for row in rows if row.reporter_id})
            )
        )
    }
    return tuple(
        LedgerActivity(
            held_on=row.held_on,
            kind=row.kind,
            org=org_names.get(row.organization_id, ""),
            partners=tuple(partners.get(row.id or 0, ())),
            participants=row.participants,
            title=row.title,
            summary=row.summary,
            reporter=reporters.get(row.reporter_id or 0, ""),
        )
        for row in rows
    )


@dataclass(frozen=True, slots=True)
class LedgerExport:
    """A made workbook, what it shows, and whether making it filed the quarter's ledger."""

    document: Document
    data: LedgerData
    newly_filed: bool

    @property
    def preview(self) -> bool:
        """Tells whether it was made before the ledger window, so it filed nothing."""
        return self.data.compliance.today < self.data.compliance.ledger_opens


def export_ledger(
    session: Session,
    *,
    org_id: int,
    quarter: Quarter,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
    t: Translator,
    actor_id: int | None,
) -> LedgerExport:
    """Makes the quarter's ledger workbook; from the ledger window on, this files it (exported)."""
    data = ledger_data(session, org_id=org_id, quarter=quarter, now=now, holidays=holidays, tz=tz)
    document = Document(ledger_filename(data), build_workbook(t, data), XLSX_MIME)
    export = LedgerExport(document, data, newly_filed=False)
    if export.preview:
        # A look at the ledger mid-quarter is no submission: it must not silence the nudges.
        return export
    # The reminder rules count an exported ledger as filed ("Export it, or mark it submitted").
    newly_filed = record_filing(
        session=session,
        kind=FilingKind.LEDGER,
        scope=org_scope(org_id),
        period=str(quarter),
        method=FilingMethod.EXPORTED,
        at=now,
        by=actor_id,
    )
    return LedgerExport(document, data, newly_filed)


def ledger_filename(data: LedgerData) -> str:
    """Names the workbook file: ledger-CODE-2026Q4.xlsx (ASCII, safe in every channel)."""
    code = (
        "".join(
            char for char in data.org.code if char.isascii() and (char.isalnum() or char in "-_")
        )
        or "org"
    )
    return f"ledger-{code}-{data.quarter}.xlsx"


def build_workbook(t: Translator, data: LedgerData) -> bytes:
    """Writes the ledger workbook with headers in the translator's language; returns its bytes."""
    book = Workbook()
    book.properties.creator = "Gongjian"
    book.properties.title = t(
        "Ledger of {org}, {quarter}",
        org=data.org.name,
        quarter=period_label(t, str(data.quarter)),
    )
    book.properties.created = data.made_at.astimezone(UTC).replace(tzinfo=None)
    first = book.active
    assert first is not None
    book.remove(first)
    _activities_sheet(book.create_sheet(_title(t, "activities")), t, data)
    _meetings_sheet(book.create_sheet(_title(t, "meetings")), t, data.attendance)
    _attendance_sheet(book.create_sheet(_title(t, "attendance")), t, data.attendance)
    _pairings_sheet(book.create_sheet(_title(t, "pairings")), t, data.compliance)
    _compliance_sheet(book.create_sheet(_title(t, "compliance")), t, data.compliance)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _title(t: Translator, key: str) -> str:
    """Translates a sheet title, keeping to Excel's 31 characters without []:*?/\\."""
    title = t(SHEETS[key])
    return "".join(char for char in title if char not in "[]:*?/\\")[:31]


def _header(sheet: Worksheet, labels: Sequence[str]) -> None:
    """Writes the bold header row and freezes it."""
    sheet.append(list(labels))
    for cell in sheet[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    sheet.freeze_panes = "A2"


def _fit(sheet: Worksheet) -> None:
    """Widens each column to its longest cell (CJK characters count double)."""
    for index, column in enumerate(sheet.iter_cols(), 1):
        width = max((_width(cell.value) for cell in column), default=8)
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, MAX_COLUMN_WIDTH)


def _width(value: object) -> int:
    """Returns how many character columns a value takes."""
    if value is None:
        return 0
    if isinstance(value, date | datetime):
        return 10
    text = str(value)
    longest = max(text.splitlines() or [""], key=len)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in longest)


def _date_column(sheet: Worksheet, column: int) -> None:
    """Shows a column's dates as yyyy-mm-dd."""
    for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        for cell in row:
            cell.number_format = DATE_FORMAT


def _percent_column(sheet: Worksheet, column: int) -> None:
    """Shows a column's shares as percentages."""
    for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        for cell in row:
            cell.number_format = PERCENT_FORMAT


def _activities_sheet(sheet: Worksheet, t: Translator, data: LedgerData) -> None:
    """Lists the quarter's ledger entries."""
    _header(sheet, [t(label) for label in ACTIVITY_COLUMNS])
    for entry in data.activities:
        sheet.append(
            [
                entry.held_on,
                t(ACTIVITY_KINDS[entry.kind]),
                entry.org,
                t.join(list(entry.partners)),
                entry.participants,
                entry.summary,
                entry.reporter,
            ]
        )
    _date_column(sheet, 1)
    for row in sheet.iter_rows(min_row=2, min_col=6, max_col=6):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    _fit(sheet)


def _meetings_sheet(sheet: Worksheet, t: Translator, report: AttendanceReport) -> None:
    """Lists the quarter's meetings with their attendance counts."""
    _header(sheet, [t(label) for label in MEETING_COLUMNS])
    for meeting in report.meetings:
        if meeting.taken:
            sheet.append(
                [
                    meeting.held_on,
                    t(MEETING_KINDS[meeting.kind]),
                    meeting.title,
                    meeting.venue,
                    meeting.expected,
                    meeting.present,
                    meeting.leave,
                    meeting.absent,
                    meeting.rate,
                    "",
                ]
            )
        else:
            sheet.append(
                [
                    meeting.held_on,
                    t(MEETING_KINDS[meeting.kind]),
                    meeting.title,
                    meeting.venue,
                    None,
                    0,
                    meeting.leave,
                    None,
                    None,
                    t("nobody signed in"),
                ]
            )
    _date_column(sheet, 1)
    _percent_column(sheet, 9)
    _fit(sheet)


def _attendance_sheet(sheet: Worksheet, t: Translator, report: AttendanceReport) -> None:
    """Lays out every member against every meeting that took attendance, with totals."""
    taken = [index for index, meeting in enumerate(report.meetings) if meeting.taken]
    columns = [t("Member")]
    columns += [
        f"{report.meetings[index].held_on.isoformat()} {t(MEETING_KINDS[report.meetings[index].kind])}"
        for index in taken
    ]
    columns += [t(label) for label in MEMBER_TOTAL_COLUMNS]
    _header(sheet, columns)
    for member in report.members:
        marks = [member.marks[index] for index in taken]
        sheet.append(
            [
                member.name,
                *[t(MARKS[mark]) if mark is not None else "" for mark in marks],
                member.present,
                member.leave,
                member.absent,
                member.rate if member.expected else None,
            ]
        )
    sheet.append(
        [
            t("Total"),
            *["" for _ in taken],
            report.present,
            report.leave,
            report.absent,
            report.rate if report.expected else None,
        ]
    )
    for cell in sheet[sheet.max_row]:
        cell.font = HEADER_FONT
    _percent_column(sheet, len(columns))
    _fit(sheet)


def _pairings_sheet(sheet: Worksheet, t: Translator, report: ComplianceReport) -> None:
    """Lists each pairing's visits this year against its target, and the quarter's joint activity."""
    _header(sheet, [t(label) for label in PAIRING_COLUMNS])
    for section in report.sections:
        if section.subject is not Subject.PAIRING:
            continue
        lines = {line.requirement: line for line in section.lines}
        visits = lines[Requirement.VISITS]
        joint = lines[Requirement.JOINT_ACTIVITY]
        sheet.append(
            [
                section.name,
                visits.done,
                visits.target,
                visits.expected,
                ", ".join(day.isoformat() for day in visits.days),
                state_text(t, joint),
            ]
        )
    _fit(sheet)


def _compliance_sheet(sheet: Worksheet, t: Translator, report: ComplianceReport) -> None:
    """Lists every requirement with its state, deadline and details."""
    _header(sheet, [t(label) for label in COMPLIANCE_COLUMNS])
    for section in report.sections:
        for line in section.lines:
            sheet.append(
                [
                    subject_text(t, section),
                    requirement_text(t, line),
                    state_text(t, line),
                    line.deadline,
                    detail_text(t, line),
                ]
            )
            if line.state is State.MISSED:
                sheet.cell(sheet.max_row, 3).font = Font(bold=True, color="C00000")
    _date_column(sheet, 4)
    _fit(sheet)
