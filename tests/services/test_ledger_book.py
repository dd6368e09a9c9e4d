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
    ACTIVITY_COLUMNS,
    COMPLIANCE_COLUMNS,
    MEETING_COLUMNS,
    SHEETS,
    XLSX_MIME,
    LedgerExport,
    build_workbook,
    export_ledger,
    ledger_data,
    ledger_filename,
)
from bot.texts.translation import translator
from storage.engine import Database
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
    """Returns the values of a sheet's rows."""
    return [tuple(row) for row in book.worksheets[index].iter_rows(values_only=True)]


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
        "Organization",
        "Partners",
        "Participants",
        "Summary",
        "Reporter",
    )
    assert len(activities) == 3
    assert day_of(activities[1][0]) == date(2026, 10, 12)
    assert activities[1][1:] == (
        "Visit (走亲串门)",
        "第1支部",
        "第2支部",
        8,
        "走访二支部，交流党建经验",
        "sec",
    )
    assert day_of(activities[2][0]) == date(2026, 10, 25)
    assert activities[2][1:4] == ("Joint study", "第2支部", "第1支部")
    assert activities[2][6] == "sec2"
    assert book.worksheets[0]["A2"].number_format == "yyyy-mm-dd"

    meetings = rows(book, 1)
    assert meetings[0][:2] == ("Date", "Meeting")
    assert day_of(meetings[1][0]) == date(2026, 10, 6)
    assert meetings[1][1:9] == ("Organization-life day", "十月学习", "会议室", 5, 3, 1, 1, 0.6)
    assert book.worksheets[1]["I2"].number_format == "0%"
    assert meetings[2][1] == "Party lecture"
    assert (meetings[2][4], meetings[2][5], meetings[2][9]) == (None, 0, "nobody signed in")

    attendance = rows(book, 2)
    assert attendance[0] == (
        "Member",
        "2026-10-06 Organization-life day",
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
    # The reported visit counts as well as the one on the calendar.
    assert pairings[1] == ("一支部-二支部结对", 2, 3, 3, "2026-03-05, 2026-10-12", "done")

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
    assert ("Organization: 第1支部", "Ledger feedback for Q4 2026", "owed, 59 days left") in {
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
    assert made.document.filename == "ledger-B1-2026Q4.xlsx" == ledger_filename(made.data)
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
    assert [sheet.max_row for sheet in book.worksheets[:2]] == [1, 1]
    assert rows(book, 2) == [
        ("Member", "Present", "On leave", "Absent", "Attendance rate"),
        ("Total", 0, 0, 0, None),
    ]
