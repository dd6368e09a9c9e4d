"""The quarterly ledger (台账) written as an .xlsx workbook: one sheet per part, A4 landscape.

Apart from `bot.services.ledger_book`, which loads it when a ledger is made: openpyxl (~10 MiB
resident) stays out of every process that never makes one.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.domain import ActivityKind, AttendanceStatus
from bot.core.i18n import N_, Translator
from bot.services.compliance import (
    ComplianceReport,
    Line,
    Requirement,
    State,
    Subject,
    detail_text,
    requirement_text,
    state_text,
    subject_text,
)
from bot.services.ledger_book import AS_ACTIVITY, LedgerData
from bot.services.stats import AttendanceReport
from bot.texts.phrases import ACTIVITY_KINDS, MEETING_KINDS
from bot.texts.reminders import period_label

DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0%"
MIN_COLUMN_WIDTH = 6
# Longer text wraps inside its cell rather than widening the page.
MAX_COLUMN_WIDTH = 40
TITLE_FONT = Font(bold=True, size=16)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDDDDD", end_color="DDDDDD")
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
# Rows 1-3 are the title block, row 4 a gap, row 5 the column headers.
HEADER_ROW = 5
TITLE_HEIGHT = 30
BLOCK_HEIGHT = 20
LINE_HEIGHT = 15
# The line a 填报人 signs on when the file was made without one (the command line).
BLANK = "＿＿＿＿＿＿"
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
    N_("Title"),
    N_("Organization"),
    N_("Partners"),
    N_("Participants"),
    N_("Summary"),
    N_("Reporter"),
    N_("Photos"),
)
MEETING_COLUMNS = (
    N_("Date"),
    N_("Time"),
    N_("Meeting"),
    N_("Title"),
    N_("Venue"),
    N_("Host"),
    N_("Chaired by"),
    N_("Recorder"),
    N_("Content"),
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
    N_("Visit date"),
    N_("Visit of the year"),
    N_("Target"),
    N_("Expected by now"),
    N_("Joint activity this quarter"),
)
COMPLIANCE_COLUMNS = (N_("Subject"), N_("Requirement"), N_("State"), N_("Deadline"), N_("Detail"))
MARKS: dict[AttendanceStatus, str] = {
    AttendanceStatus.PRESENT: N_("present"),
    AttendanceStatus.LEAVE: N_("on leave"),
    AttendanceStatus.ABSENT: N_("absent"),
}


def write_workbook(t: Translator, data: LedgerData) -> bytes:
    """Writes the ledger workbook with headers in the translator's language; returns its bytes."""
    book = Workbook()
    book.properties.creator = "Gongjian"
    book.properties.title = _heading(t, data)
    book.properties.created = data.made_at.astimezone(UTC).replace(tzinfo=None)
    first = book.active
    assert first is not None
    book.remove(first)
    _activities_sheet(_sheet(book, t, data, "activities", _labels(t, ACTIVITY_COLUMNS)), t, data)
    _meetings_sheet(_sheet(book, t, data, "meetings", _labels(t, MEETING_COLUMNS)), t, data)
    members = _sheet(book, t, data, "attendance", _attendance_columns(t, data.attendance))
    _attendance_sheet(members, t, data.attendance)
    _pairings_sheet(
        _sheet(book, t, data, "pairings", _labels(t, PAIRING_COLUMNS)), t, data.compliance
    )
    _compliance_sheet(
        _sheet(book, t, data, "compliance", _labels(t, COMPLIANCE_COLUMNS)), t, data.compliance
    )
    for sheet in book.worksheets:
        _finish(sheet, t)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _heading(t: Translator, data: LedgerData) -> str:
    """Titles the ledger: the unit's full name and the quarter."""
    return t(
        "Ledger of {org}, {quarter}",
        org=data.title.full_name,
        quarter=period_label(t, str(data.quarter)),
    )


def _title(t: Translator, key: str) -> str:
    """Translates a sheet title, keeping to Excel's 31 characters without []:*?/\\."""
    title = t(SHEETS[key])
    return "".join(char for char in title if char not in "[]:*?/\\")[:31]


def _sheet(
    book: Workbook, t: Translator, data: LedgerData, key: str, columns: Sequence[str]
) -> Worksheet:
    """Adds a sheet with the title block (unit, quarter, 填报人, date, seal) and column headers."""
    sheet: Worksheet = book.create_sheet(_title(t, key))
    width = max(len(columns), 2)
    half = (width + 1) // 2
    sheet.cell(1, 1, t("{heading}: {part}", heading=_heading(t, data), part=t(SHEETS[key])))
    sheet.cell(1, 1).font = TITLE_FONT
    sheet.cell(1, 1).alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.row_dimensions[1].height = TITLE_HEIGHT
    made = data.made_at.date()
    blocks = (
        (
            t("Unit (seal): {org}", org=data.title.full_name),
            t("Reported to: {committee}", committee=data.title.committee or "—"),
        ),
        (
            t(
                "Filled in by: {name}    Date: {date}",
                name=data.filled_by or BLANK,
                date=t.date(made, "long"),
            ),
            t(
                "Quarter: {quarter}    Figures as of {date}",
                quarter=period_label(t, str(data.quarter)),
                date=t.date(data.compliance.as_of, "long"),
            ),
        ),
    )
    for row, (left, right) in enumerate(blocks, 2):
        sheet.cell(row, 1, left).alignment = Alignment(vertical="center", wrap_text=True)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=half)
        sheet.cell(row, half + 1, right).alignment = Alignment(
            horizontal="right", vertical="center", wrap_text=True
        )
        if half + 1 < width:
            sheet.merge_cells(start_row=row, start_column=half + 1, end_row=row, end_column=width)
        sheet.row_dimensions[row].height = BLOCK_HEIGHT
    sheet.append([])
    sheet.append(list(columns))
    for cell in sheet[HEADER_ROW]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    return sheet


def _finish(sheet: Worksheet, t: Translator) -> None:
    """Borders and wraps the table, fits the columns and rows, and sets up A4 landscape printing."""
    last_column = max(sheet.max_column, 1)
    for row in sheet.iter_rows(min_row=HEADER_ROW, max_row=sheet.max_row, max_col=last_column):
        for cell in row:
            cell.border = BORDER
            if (cell.row or 0) > HEADER_ROW:
                cell.alignment = Alignment(
                    horizontal=cell.alignment.horizontal, vertical="top", wrap_text=True
                )
    widths = _fit(sheet)
    for index in range(HEADER_ROW, sheet.max_row + 1):
        lines = max(
            (
                _lines(sheet.cell(index, column).value, widths[column - 1])
                for column in range(1, last_column + 1)
            ),
            default=1,
        )
        sheet.row_dimensions[index].height = LINE_HEIGHT * max(lines, 1) + 4
    setup = sheet.page_setup
    setup.orientation = "landscape"
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.fitToWidth = 1
    setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.print_options.horizontalCentered = True
    footer = sheet.oddFooter
    assert footer is not None
    footer.center.text = t("Page &P of &N")


def _fit(sheet: Worksheet) -> list[int]:
    """Sizes each column to its longest table cell (CJK characters count double), capped."""
    widths = []
    for index in range(1, max(sheet.max_column, 1) + 1):
        cells = sheet.iter_rows(min_row=HEADER_ROW, min_col=index, max_col=index, values_only=True)
        longest = max((_width(row[0]) for row in cells), default=0)
        width = min(max(longest + 2, MIN_COLUMN_WIDTH), MAX_COLUMN_WIDTH)
        sheet.column_dimensions[get_column_letter(index)].width = width
        widths.append(width)
    return widths


def _width(value: object) -> int:
    """Returns how many character columns a value's longest line takes."""
    if value is None:
        return 0
    if isinstance(value, date | datetime):
        return 10
    if isinstance(value, float):
        return 5
    return max((_text_width(line) for line in str(value).splitlines()), default=0)


def _text_width(text: str) -> int:
    """Counts character columns, CJK characters as two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _lines(value: object, width: int) -> int:
    """Estimates how many lines a wrapped cell takes in a column of `width`."""
    if value is None or isinstance(value, date | datetime | int | float):
        return 1
    room = max(width - 2, 1)
    return sum(max(1, -(-_text_width(line) // room)) for line in str(value).splitlines() or [""])


def _format_column(sheet: Worksheet, column: int, number_format: str) -> None:
    """Shows a column's table cells in a number format (dates, percentages)."""
    for row in sheet.iter_rows(min_row=HEADER_ROW + 1, min_col=column, max_col=column):
        for cell in row:
            cell.number_format = number_format


def _activities_sheet(sheet: Worksheet, t: Translator, data: LedgerData) -> None:
    """Lists the quarter's ledger entries, each with the names of its photos in the export."""
    names = data.photo_names(t)
    for entry in data.activities:
        sheet.append(
            [
                entry.held_on,
                t(ACTIVITY_KINDS[entry.kind]),
                entry.title,
                entry.org,
                t.join(list(entry.partners)),
                entry.participants,
                entry.summary,
                entry.reporter,
                "\n".join(names[photo.id] for photo in data.photos.get(entry.id, ())),
            ]
        )
    _format_column(sheet, 1, DATE_FORMAT)


def _meetings_sheet(sheet: Worksheet, t: Translator, data: LedgerData) -> None:
    """Lists the quarter's meetings: when, what, who hosted, the content and attendance."""
    entries: dict[tuple[date, ActivityKind | None], str] = {
        (entry.held_on, entry.kind): entry.summary for entry in data.activities
    }
    for meeting in data.attendance.meetings:
        host = data.org_names.get(meeting.org_id, "")
        content = entries.get((meeting.held_on, AS_ACTIVITY.get(meeting.kind)), "")
        minutes = data.minutes.get(meeting.meeting_id)
        topic, chair, recorder = meeting.title, "", ""
        if minutes is not None:
            topic, chair, recorder = minutes.topic, minutes.host, minutes.recorder
            content = minutes.content
            if minutes.resolutions:
                content += "\n" + t("Resolutions: {text}", text=minutes.resolutions)
        local = meeting.starts_at.astimezone(data.made_at.tzinfo)
        counts: list[object]
        if meeting.taken:
            counts = [meeting.expected, meeting.present, meeting.leave, meeting.absent]
            counts += [meeting.rate, ""]
        else:
            counts = [None, 0, meeting.leave, None, None, t("nobody signed in")]
        sheet.append(
            [
                meeting.held_on,
                t.time(local),
                t(MEETING_KINDS[meeting.kind]),
                topic,
                meeting.venue,
                host,
                chair,
                recorder,
                content,
                *counts,
            ]
        )
    _format_column(sheet, 1, DATE_FORMAT)
    _format_column(sheet, 14, PERCENT_FORMAT)


def _attendance_columns(t: Translator, report: AttendanceReport) -> list[str]:
    """Heads the attendance grid: member, one column per meeting that took attendance, totals."""
    columns = [t("Member")]
    columns += [
        f"{t.date(meeting.held_on, 'medium')}\n{t(MEETING_KINDS[meeting.kind])}"
        for meeting in report.meetings
        if meeting.taken
    ]
    return columns + _labels(t, MEMBER_TOTAL_COLUMNS)


def _labels(t: Translator, columns: Sequence[str]) -> list[str]:
    """Translates column headers."""
    return [t(label) for label in columns]


def _attendance_sheet(sheet: Worksheet, t: Translator, report: AttendanceReport) -> None:
    """Lays out every member against every meeting that took attendance, with totals."""
    taken = [index for index, meeting in enumerate(report.meetings) if meeting.taken]
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
    _format_column(sheet, sheet.max_column, PERCENT_FORMAT)


def _pairings_sheet(sheet: Worksheet, t: Translator, report: ComplianceReport) -> None:
    """Lists each pairing's visits this year, one row per visit, and the quarter's joint activity."""
    for section in report.sections:
        if section.subject is not Subject.PAIRING:
            continue
        joint = next(x for x in section.lines if x.requirement is Requirement.JOINT_ACTIVITY)
        # A 一对多 pairing has a visits line per partner: its rows name the partner.
        for visits in (x for x in section.lines if x.requirement is Requirement.VISITS):
            name = f"{section.name}（{visits.org}）" if visits.org else section.name
            rows: list[tuple[int | None, date | None]] = list(enumerate(visits.days, 1))
            for number, day in rows or [(None, None)]:
                sheet.append(
                    [
                        name,
                        day,
                        number if number is not None else t("no visit yet"),
                        visits.target,
                        visits.expected,
                        document_state(t, joint),
                    ]
                )
    _format_column(sheet, 2, DATE_FORMAT)


def document_state(t: Translator, line: Line) -> str:
    """Says where a requirement stands on paper: done, owed by its deadline, or missed."""
    if line.state is State.OWED:
        return t("owed by {date}", date=t.date(line.deadline, "medium"))
    return state_text(t, line)


def _compliance_sheet(sheet: Worksheet, t: Translator, report: ComplianceReport) -> None:
    """Lists every requirement with its state as of the report's day, deadline and details."""
    for section in report.sections:
        for line in section.lines:
            sheet.append(
                [
                    subject_text(t, section),
                    requirement_text(t, line),
                    document_state(t, line),
                    line.deadline,
                    detail_text(t, line),
                ]
            )
            if line.state is State.MISSED:
                sheet.cell(sheet.max_row, 3).font = Font(bold=True, color="C00000")
    _format_column(sheet, 4, DATE_FORMAT)
