"""The quarterly ledger workbook: written, opened again with openpyxl, and its cells checked."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from sqlmodel import select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import ActivityKind, MeetingKind
from bot.services.errors import ServiceError
from bot.services.ledger_book import (
    XLSX_MIME,
    LedgerExport,
    build_workbook,
    export_ledger,
    ledger_data,
    ledger_filename,
)
from bot.services.ledger_workbook import (
    ACTIVITY_COLUMNS,
    COMPLIANCE_COLUMNS,
    HEADER_ROW,
    MEETING_COLUMNS,
    SHEETS,
)
from bot.services.organizations import org_title
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import Organization
from storage.reminders import Filing, FilingKind, FilingMethod, org_scope
from tests.factories import World
from tests.services.test_stats import SH, add_activity, add_meeting, answer, at, joined

HOLIDAYS = HolidayCalendar.load()
NOW = at(2026, 11, 3, 12)


@pytest.fixture
def records(database: Database, world: World) -> World:
    """A quarter of records for 第1支部: an org-life day, a lecture, ledger entries, a visit."""
    joined(database, date(2026, 1, 1))
    b1, b2 = world.orgs["B1"], world.orgs["B2"]
    october = add_meeting(database, org=b1, day=date(2026, 10, 6), title="十月学习")
    answer(database, october, world, present=("sec", "deputy", "m1"), leave=("m2",))
    add_meeting(database, org=b1, day=date(2026, 10, 20), kind=MeetingKind.LECTURE)
    add_activity(
        database,
        org=b1,
        day=date(2026, 10, 12),
        kind=ActivityKind.VISIT,
        partners=(b2,),
        pairing_id=world.pairing_id,
        participants=8,
        summary="走访二支部，交流党建经验",
        reporter=world.members["sec"],
    )
    add_activity(
        database,
        org=b2,
        day=date(2026, 10, 25),
        partners=(b1,),
        summary="联合学习",
        reporter=world.members["sec2"],
    )
    add_activity(database, org=world.orgs["B3"], day=date(2026, 10, 20), summary="别的支部")
    add_activity(database, org=b1, day=date(2026, 9, 30), summary="上季度")
    add_meeting(
        database,
        org=b1,
        day=date(2026, 3, 5),
        kind=MeetingKind.VISIT,
        pairing_id=world.pairing_id,
    )
    return world


def workbook(database: Database, world: World, locale: str) -> Workbook:
    """Builds B1's 2026Q4 workbook in a language and opens it again."""
    with database.session() as session:
        data = ledger_data(
            session,
            org_id=world.orgs["B1"],
            quarter=Quarter(2026, 4),
            now=NOW,
            holidays=HOLIDAYS,
            tz=SH,
        )
    return load_workbook(io.BytesIO(build_workbook(translator(locale), data)))


def rows(book: Workbook, index: int) -> list[tuple[object, ...]]:
    """Returns the values of a sheet's table: the header row and the rows under it."""
    sheet = book.worksheets[index]
    return [tuple(row) for row in sheet.iter_rows(min_row=HEADER_ROW, values_only=True)]


def day_of(value: object) -> date:
    """Reads a date cell (openpyxl gives datetimes back)."""
    assert isinstance(value, datetime)
    return value.date()


def test_english_workbook_cells(database: Database, records: World) -> None:
    book = workbook(database, records, "en")
    assert book.sheetnames == [
        "Activities",
        "Meetings",
        "Attendance",
        "Pairing visits",
        "Compliance",
    ]

    activities = rows(book, 0)
    assert activities[0] == (
        "Date",
        "Kind",
        "Title",
        "Organization",
        "Partners",
        "Participants",
        "Summary",
        "Reporter",
        "Photos",
    )
    assert len(activities) == 3
    assert day_of(activities[1][0]) == date(2026, 10, 12)
    assert activities[1][1:] == (
        "Visit (走亲串门)",
        "联学活动",
        "第1支部",
        "第2支部",
        8,
        "走访二支部，交流党建经验",
        "sec",
        None,
    )
    assert day_of(activities[2][0]) == date(2026, 10, 25)
    assert activities[2][1:5] == ("Joint study", "联学活动", "第2支部", "第1支部")
    assert activities[2][7] == "sec2"
    assert book.worksheets[0]["A6"].number_format == "yyyy-mm-dd"

    meetings = rows(book, 1)
    assert meetings[0][:9] == (
        "Date",
        "Time",
        "Meeting",
        "Title",
        "Venue",
        "Host",
        "Chaired by",
        "Recorder",
        "Content",
    )
    assert day_of(meetings[1][0]) == date(2026, 10, 6)
    assert meetings[1][1:14] == (
        "09:00",
        "Organization-life day",
        "十月学习",
        "会议室",
        "第1支部",
        None,
        None,
        None,
        5,
        3,
        1,
        1,
        0.6,
    )
    assert book.worksheets[1]["N6"].number_format == "0%"
    assert meetings[2][2] == "Party lecture"
    assert (meetings[2][9], meetings[2][10], meetings[2][14]) == (None, 0, "nobody signed in")

    attendance = rows(book, 2)
    assert attendance[0] == (
        "Member",
        "Oct 6, 2026\nOrganization-life day",
        "Present",
        "On leave",
        "Absent",
        "Attendance rate",
    )
    by_name = {row[0]: row[1:] for row in attendance[1:]}
    assert by_name["sec"] == ("present", 1, 0, 0, 1)
    assert by_name["liaison"] == ("absent", 0, 0, 1, 0)
    assert by_name["m2"] == ("on leave", 0, 1, 0, 0)
    assert by_name["Total"] == (None, 3, 1, 1, 0.6)
    assert attendance[-1][0] == "Total"

    pairings = rows(book, 3)
    # One row per visit: the reported visit counts as well as the one on the calendar.
    assert [(row[0], day_of(row[1]), *row[2:]) for row in pairings[1:]] == [
        ("一支部-二支部结对", date(2026, 3, 5), 1, 3, 3, "done"),
        ("一支部-二支部结对", date(2026, 10, 12), 2, 3, 3, "done"),
    ]

    compliance = rows(book, 4)
    assert compliance[0] == ("Subject", "Requirement", "State", "Deadline", "Detail")
    first = compliance[1]
    assert first[:3] == (
        "Organization: 第1支部",
        "Organization-life day on Oct 6, 2026",
        "done",
    )
    assert day_of(first[3]) == date(2026, 10, 6)
    assert first[4] == "signed in 3 of 5 (60%), on leave 1"
    # Paper outlives the day it was printed: a date, not "N days left".
    assert ("Organization: 第1支部", "Ledger feedback for Q4 2026", "owed by Dec 31, 2026") in {
        row[:3] for row in compliance
    }
    assert any(row[0] == "Pairing: 一支部-二支部结对" for row in compliance)


def test_chinese_headers(database: Database, records: World) -> None:
    t = translator("zh_CN")
    book = workbook(database, records, "zh_CN")
    assert book.sheetnames == [t(SHEETS[key])[:31] for key in SHEETS]
    assert rows(book, 0)[0] == tuple(t(label) for label in ACTIVITY_COLUMNS)
    assert rows(book, 1)[0] == tuple(t(label) for label in MEETING_COLUMNS)
    assert rows(book, 4)[0] == tuple(t(label) for label in COMPLIANCE_COLUMNS)
    assert rows(book, 0)[0][0] == "日期"
    assert rows(book, 0)[1][1] != "Visit (走亲串门)"


def export(database: Database, world: World, now: datetime) -> LedgerExport:
    """Exports B1's 2026Q4 ledger at `now`, as its secretary."""
    with database.session() as session:
        return export_ledger(
            session,
            org_id=world.orgs["B1"],
            quarter=Quarter(2026, 4),
            now=now,
            holidays=HOLIDAYS,
            tz=SH,
            t=translator("en"),
            actor_id=world.members["sec"],
        )


def test_an_early_export_is_a_preview(database: Database, records: World) -> None:
    made = export(database, records, NOW)
    assert made.preview and not made.newly_filed
    assert made.data.compliance.ledger_opens == date(2026, 12, 22)
    with database.session() as session:
        assert session.exec(select(Filing)).all() == []


def test_export_files_the_ledger_once(database: Database, records: World) -> None:
    b1 = records.orgs["B1"]
    for expected in (True, False):
        with database.session() as session:
            made = export_ledger(
                session,
                org_id=b1,
                quarter=Quarter(2026, 4),
                now=at(2026, 12, 22, 9),
                holidays=HOLIDAYS,
                tz=SH,
                t=translator("en"),
                actor_id=records.members["sec"],
            )
        assert made.newly_filed is expected and not made.preview
    assert made.document.filename == "Ledger-第1支部-2026Q4.xlsx"
    assert made.document.filename == ledger_filename(translator("en"), made.data)
    assert made.document.mime_type == XLSX_MIME
    assert load_workbook(io.BytesIO(made.document.content)).sheetnames[0] == "Activities"
    with database.session() as session:
        [filing] = session.exec(select(Filing)).all()
    assert (filing.kind, filing.scope, filing.period, filing.method, filing.filed_by) == (
        FilingKind.LEDGER,
        org_scope(b1),
        "2026Q4",
        FilingMethod.EXPORTED,
        records.members["sec"],
    )


def test_a_future_quarter_has_no_ledger(database: Database, world: World) -> None:
    with database.session() as session, pytest.raises(ServiceError):
        export_ledger(
            session,
            org_id=world.orgs["B1"],
            quarter=Quarter(2027, 1),
            now=NOW,
            holidays=HOLIDAYS,
            tz=SH,
            t=translator("en"),
            actor_id=None,
        )
    with database.session() as session:
        assert session.exec(select(Filing)).all() == []


def test_an_empty_quarter_still_makes_a_workbook(database: Database, world: World) -> None:
    with database.session() as session:
        data = ledger_data(
            session,
            org_id=world.orgs["B4"],
            quarter=Quarter(2026, 4),
            now=NOW,
            holidays=HOLIDAYS,
            tz=SH,
        )
    book = load_workbook(io.BytesIO(build_workbook(translator("en"), data)))
    assert [sheet.max_row for sheet in book.worksheets[:2]] == [HEADER_ROW, HEADER_ROW]
    assert rows(book, 2) == [
        ("Member", "Present", "On leave", "Absent", "Attendance rate"),
        ("Total", 0, 0, 0, None),
    ]


def test_the_workbook_is_the_document_for_the_committee(database: Database, records: World) -> None:
    with database.session() as session:
        made = export_ledger(
            session,
            org_id=records.orgs["B1"],
            quarter=Quarter(2026, 4),
            now=NOW,
            holidays=HOLIDAYS,
            tz=SH,
            t=translator("zh_CN"),
            actor_id=records.members["sec"],
            filled_by="张书记",
        )
    assert made.document.filename == "台账-第1支部-2026Q4.xlsx"
    book = load_workbook(io.BytesIO(made.document.content))
    assert book.sheetnames == ["活动", "会议", "考勤", "走亲串门", "达标情况"]
    for sheet in book.worksheets:
        # Title block: the unit's full name (with its committee), the quarter, 填报人, date, seal.
        assert sheet["A1"].value == f"街道党工委第1支部2026年第四季度台账——{sheet.title}"
        assert sheet["A1"].font.bold
        assert "A1" in {str(merged).split(":")[0] for merged in sheet.merged_cells.ranges}
        block = " ".join(
            str(cell.value) for row in sheet.iter_rows(min_row=2, max_row=3) for cell in row
        )
        assert "填报单位（盖章）：街道党工委第1支部" in block
        assert "报送：街道党工委" in block
        assert "填报人：张书记" in block
        assert "填报日期：2026年11月3日" in block
        assert "数据截至：2026年11月3日" in block
        # The table: bordered, wrapped, columns sized, header frozen and repeated on every page.
        header = sheet[HEADER_ROW]
        assert all(cell.border.top.style == "thin" for cell in header)
        assert all(cell.font.bold for cell in header)
        last = sheet[sheet.max_row]
        assert all(cell.border.bottom.style == "thin" for cell in last)
        if sheet.max_row > HEADER_ROW:
            assert all(cell.alignment.wrap_text for cell in last)
        widths = [sheet.column_dimensions[cell.column_letter].width for cell in header]
        assert all(6 <= width <= 40 for width in widths)
        assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"
        assert sheet.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
        assert sheet.page_setup.orientation == "landscape"
        assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.oddFooter.center.text == "第 &P 页，共 &N 页"
    meetings = book["会议"]
    # A long summary wraps in a column no wider than the cap; the date column stays narrow.
    assert meetings.column_dimensions["A"].width < 20
    compliance = rows(book, 4)
    assert not any("天" in str(row[2]) for row in compliance[1:])
    assert ("待完成（2026年12月31日前）") in {row[2] for row in compliance}


def test_a_parent_name_the_unit_already_carries_is_not_doubled(
    database: Database, world: World
) -> None:
    with database.session() as session:
        branch = session.get_one(Organization, world.orgs["B2"])
        branch.name = "街道党工委机关支部"
        session.add(branch)
        session.flush()
        title = org_title(session, world.orgs["B2"])
    assert (title.full_name, title.committee) == ("街道党工委机关支部", "街道党工委")
