"""The year-end summary as a Word document: written, opened again with python-docx, and read."""

from __future__ import annotations

import io

import docx
from docx.document import Document as WordDocument

from bot.calendar.holidays import HolidayCalendar
from bot.core.reply import Document
from bot.services.documents import DOCX_MIME, year_summary_document
from bot.texts.translation import translator
from storage.engine import Database
from storage.reminders import FilingKind, FilingMethod, org_scope, record_filing
from tests.factories import World
from tests.services.test_stats import SH, at
from tests.services.test_summary import year_of_records

__all__ = ["year_of_records"]

HOLIDAYS = HolidayCalendar.load()


def written(database: Database, world: World, locale: str, org: str = "B1") -> Document | None:
    """Writes an organization's 2026 summary document on Dec 20, 2026."""
    with database.session() as session:
        return year_summary_document(
            session,
            org_id=world.orgs[org],
            year=2026,
            now=at(2026, 12, 20, 12),
            holidays=HOLIDAYS,
            tz=SH,
            t=translator(locale),
        )


def opened(document: Document | None) -> WordDocument:
    """Opens a written .docx with python-docx."""
    assert document is not None
    return docx.Document(io.BytesIO(document.content))


def test_the_summary_in_word(database: Database, year_of_records: World) -> None:
    world = year_of_records
    with database.session() as session:
        for quarter in ("2026Q1", "2026Q2"):
            record_filing(
                session=session,
                kind=FilingKind.LEDGER,
                scope=org_scope(world.orgs["B2"]),
                period=quarter,
                method=FilingMethod.EXPORTED,
                at=at(2026, 7, 1),
                by=None,
            )
    made = written(database, world, "zh_CN")
    assert made is not None
    assert made.filename == "年度总结-第1支部-2026.docx"
    assert made.mime_type == DOCX_MIME
    book = opened(made)
    paragraphs = [(p.style.name if p.style else "", p.text) for p in book.paragraphs]
    titles = [text for style, text in paragraphs if style == "Title"]
    assert titles == ["红湾联盟2026年度工作总结", "一支部-二支部结对2026年度工作总结"]
    headings = [text for style, text in paragraphs if style == "Heading 1"]
    assert headings == [
        "一、基本情况",
        "二、主要做法和成效",
        "三、存在问题",
        "四、下一步打算",
        "五、各成员单位履职情况",
        "一、基本情况",
        "二、主要做法和成效",
        "三、存在问题",
        "四、下一步打算",
    ]
    text = "\n".join(text for _, text in paragraphs)
    # The year's figures, with dates by Babel.
    assert (
        "红湾联盟共有4个成员党组织：第1支部、第2支部、第3支部和第4支部。牵头单位：第1支部。" in text
    )
    assert "（数据截至2026年12月20日）" in text
    assert "2026年8月11日" in text
    assert "街道党工委第1支部（盖章）" in text
    # The second summary starts on a new page.
    pairing_title = next(p for p in book.paragraphs if p.text.startswith("一支部-二支部结对"))
    assert pairing_title.paragraph_format.page_break_before
    # The member units' 履职情况 (001), one row per unit.
    [units] = book.tables
    rows = [[cell.text for cell in row.cells] for row in units.rows]
    assert rows[0] == [
        "单位",
        "类别",
        "组织生活日",
        "出勤率",
        "承办联合会议",
        "填报活动",
        "轮值主题党日",
        "台账报送（季度）",
    ]
    assert rows[1][:3] == ["第1支部", "执行会长单位", "2/12"]
    assert rows[1][3] == "30%"
    assert rows[2][:2] == ["第2支部", "会长单位"]
    assert rows[2][7] == "2/4"
    assert rows[4][:2] == ["第4支部", "会员单位"]
    assert units.style is not None and units.style.name == "Table Grid"
    section = book.sections[0]
    assert section.page_width is not None and round(section.page_width.mm) == 210


def test_no_group_no_document(database: Database, world: World) -> None:
    assert written(database, world, "zh_CN", org="C") is None


def test_english_summary(database: Database, year_of_records: World) -> None:
    made = written(database, year_of_records, "en")
    assert made is not None and made.filename == "Year-end_summary-第1支部-2026.docx"
    text = "\n".join(p.text for p in opened(made).paragraphs)
    assert "1. Basic situation" in text and "Hold the joint meeting every quarter" in text
