"""The Word documents (.docx) themselves: A4 in Chinese fonts, the year-end summary and minutes.

Apart from `bot.services.documents`, which loads it when a document is made: python-docx and
lxml (~7 MiB resident) stay out of every process that never makes one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import docx
from docx.document import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import CharacterStyle, ParagraphStyle

from bot.core.i18n import N_, Translator
from bot.services.minutes import MinutesRecord
from bot.services.organizations import OrgTitle
from bot.services.summary import (
    YearSummary,
    joint_work,
    main_activities,
    org_life_lines,
    plans,
    shortfalls,
    unit_kind_text,
)
from bot.texts.phrases import MEETING_KINDS

BODY_FONT = "宋体"
HEADING_FONT = "黑体"
BODY_SIZE = Pt(12)
TITLE_SIZE = Pt(20)
HEADING_SIZE = Pt(14)
BLACK = RGBColor(0, 0, 0)
SIGN_LINE = "＿＿＿＿＿＿"
SUMMARY_SECTIONS = (
    N_("1. Basic situation"),
    N_("2. Main practices and results"),
    N_("3. Problems"),
    N_("4. Plans for next year"),
    N_("5. How each member unit did its part"),
)
UNIT_COLUMNS = (
    N_("Unit"),
    N_("Place"),
    N_("Organization-life days"),
    N_("Attendance rate"),
    N_("Joint meetings hosted"),
    N_("Ledger entries reported"),
    N_("Theme party days on duty"),
    N_("Ledgers filed"),
)


def word_document() -> WordDocument:
    """Starts an A4 document in Chinese fonts: 宋体 body, 黑体 headings, black text."""
    document = docx.Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(28)
    section.top_margin = section.bottom_margin = Mm(25)
    styles = document.styles
    _font(styles["Normal"], BODY_FONT, BODY_SIZE)
    _font(styles["Title"], HEADING_FONT, TITLE_SIZE)
    _font(styles["Heading 1"], HEADING_FONT, HEADING_SIZE)
    _font(styles["Heading 2"], HEADING_FONT, BODY_SIZE)
    return document


def _font(style: object, name: str, size: Pt) -> None:
    """Sets a style's Latin and East Asian font, its size, and black colour."""
    assert isinstance(style, ParagraphStyle | CharacterStyle)
    font = style.font
    font.name = name
    font.size = size
    font.color.rgb = BLACK
    # python-docx sets only the Latin font; Chinese text reads the eastAsia one.
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def title(document: WordDocument, text: str, *, new_page: bool = False) -> None:
    """Writes the centred document title, on a new page when asked."""
    paragraph = document.add_paragraph(text, style="Title")
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.page_break_before = new_page


def centred(document: WordDocument, text: str) -> None:
    """Writes a centred line (the subtitle under a title)."""
    document.add_paragraph(text).alignment = WD_ALIGN_PARAGRAPH.CENTER


def bullets(document: WordDocument, lines: Sequence[str]) -> None:
    """Writes lines as a bulleted list."""
    for line in lines:
        document.add_paragraph(line, style="List Bullet")


def table(document: WordDocument, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Writes a bordered table with a bold header row."""
    grid = document.add_table(rows=1, cols=len(header))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, label in zip(grid.rows[0].cells, header, strict=True):
        cell.text = label
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in rows:
        cells = grid.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = value


def signature(document: WordDocument, t: Translator, org: str, day: date) -> None:
    """Ends with the unit's name (where the seal goes) and the date, on the right."""
    document.add_paragraph()
    for text in (t("{org} (seal)", org=org), t.date(day, "long")):
        document.add_paragraph(text).alignment = WD_ALIGN_PARAGRAPH.RIGHT


def docx_bytes(document: WordDocument) -> bytes:
    """Saves a document to bytes."""
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# -- the year-end summary --------------------------------------------------------------------


def summary_docx(
    t: Translator, summaries: Sequence[YearSummary], *, org: OrgTitle, year: int, made_on: date
) -> bytes:
    """Writes the year-end summary of each alliance and pairing, one after another, as .docx."""
    document = word_document()
    document.core_properties.title = t(
        "{org}: year-end summaries for {year}", org=org.full_name, year=year
    )
    document.core_properties.author = org.full_name
    for index, summary in enumerate(summaries):
        _summary(document, t, summary, org=org, made_on=made_on, new_page=index > 0)
    return docx_bytes(document)


def _summary(
    document: WordDocument,
    t: Translator,
    summary: YearSummary,
    *,
    org: OrgTitle,
    made_on: date,
    new_page: bool,
) -> None:
    """Writes one group's summary: title, the four usual parts, and the units' 履职情况."""
    title(
        document,
        t("{name}: work summary for {year}", name=summary.name, year=summary.year),
        new_page=new_page,
    )
    centred(
        document,
        t(
            "Figures from the records up to {date}",
            date=t.date(summary.as_of, "long"),
        ),
    )
    basic, practice, problems, plan, units = (t(label) for label in SUMMARY_SECTIONS)
    document.add_heading(basic, level=1)
    document.add_paragraph(
        t(
            "{name} brings together {count} organizations: {orgs}. Lead: {lead}.",
            name=summary.name,
            count=len(summary.orgs),
            orgs=t.join(list(summary.orgs)),
            lead=summary.lead or "—",
        )
    )
    for line in joint_work(t, summary):
        document.add_paragraph(line)
    document.add_heading(practice, level=1)
    bullets(document, main_activities(t, summary))
    bullets(document, org_life_lines(t, summary))
    document.add_heading(problems, level=1)
    bullets(document, shortfalls(t, summary))
    document.add_heading(plan, level=1)
    bullets(document, plans(t, summary))
    if summary.units:
        document.add_heading(units, level=1)
        rows = []
        for unit in summary.units:
            record = unit.org_life
            rows.append(
                [
                    unit.org,
                    unit_kind_text(t, unit),
                    f"{record.held}/{record.months}" if record else "—",
                    f"{round(record.rate * 100)}%" if record and record.expected else "—",
                    str(unit.hosted),
                    str(unit.reported),
                    f"{unit.theme_held}/{unit.theme_duty}",
                    f"{unit.ledgers_filed}/{unit.ledgers_due}",
                ]
            )
        table(document, [t(label) for label in UNIT_COLUMNS], rows)
    signature(document, t, org.full_name, made_on)


# -- minutes (会议记录) -------------------------------------------------------------------------


def minutes_docx(t: Translator, record: MinutesRecord) -> bytes:
    """Writes one meeting's minutes as .docx: facts, attendance from the roll call, content, resolutions."""
    meeting, minutes, roll = record.meeting, record.minutes, record.roll_call
    document = word_document()
    document.core_properties.title = t("Minutes of {topic}", topic=minutes.topic)
    document.core_properties.author = record.unit.full_name
    title(document, t("Minutes"))
    centred(document, record.unit.full_name)
    none = t("none")
    present = [name for name, _ in roll.present]
    leave = [
        t("{name} ({reason})", name=name, reason=reason) if reason else name
        for name, reason in roll.on_leave
    ]
    rows = [
        (t("Topic"), minutes.topic),
        (t("Meeting"), t(MEETING_KINDS[meeting.kind])),
        (
            t("Time"),
            f"{t.date(meeting.held_on, 'long')} {t.weekday(meeting.held_on)} "
            f"{t.time(meeting.starts_at)}",
        ),
        (t("Venue"), meeting.venue or "—"),
        (t("Chaired by"), minutes.host),
        (t("Recorder"), minutes.recorder),
        (
            t("Attendance"),
            t(
                "expected {expected}, present {present}, on leave {leave}, absent {absent}",
                expected=len(present) + len(leave) + len(roll.missing),
                present=len(present),
                leave=len(leave),
                absent=len(roll.missing),
            ),
        ),
        (t("Present"), t.join(present) or none),
        (t("On leave"), t.join(leave) or none),
        (t("Absent"), t.join(roll.missing) or none),
    ]
    grid = document.add_table(rows=0, cols=2)
    grid.style = "Table Grid"
    for label, value in rows:
        cells = grid.add_row().cells
        cells[0].text = label
        cells[1].text = value
        for run in cells[0].paragraphs[0].runs:
            run.bold = True
        cells[0].width = Mm(32)
        cells[1].width = Mm(122)
    document.add_heading(t("Content"), level=1)
    for line in minutes.content.splitlines() or [""]:
        document.add_paragraph(line)
    document.add_heading(t("Resolutions"), level=1)
    for line in minutes.resolutions.splitlines() or [none]:
        document.add_paragraph(line)
    document.add_paragraph()
    document.add_paragraph(
        t("Host (signature): {blank}    Recorder (signature): {blank}", blank=SIGN_LINE)
    ).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    return docx_bytes(document)
