"""Word documents (.docx) a secretary hands in: the year-end summary and meeting minutes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.calendar.holidays import HolidayCalendar
from bot.core.i18n import N_, Translator
from bot.core.reply import Document
from bot.services.ledger_book import safe_filename
from bot.services.minutes import MinutesRecord
from bot.services.organizations import OrgTitle, org_title
from bot.services.summary import YearSummary, year_summaries

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SUMMARY_PREFIX = N_("Year-end summary")


# -- the year-end summary --------------------------------------------------------------------


def summary_filename(t: Translator, org: OrgTitle, year: int) -> str:
    """Names the file: 年度总结-<unit>-2026.docx."""
    return f"{safe_filename(t(SUMMARY_PREFIX))}-{safe_filename(org.name)}-{year}.docx"


def year_summary_document(
    session: Session,
    *,
    org_id: int,
    year: int,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
    t: Translator,
) -> Document | None:
    """Reads the year of the organization's alliances and pairings and writes the .docx (or None)."""
    drafts = year_summaries(session, org_id=org_id, year=year, now=now, holidays=holidays, tz=tz)
    if not drafts:
        return None
    return summary_document(
        t, drafts, org=org_title(session, org_id), year=year, made_on=now.astimezone(tz).date()
    )


def summary_document(
    t: Translator, summaries: Sequence[YearSummary], *, org: OrgTitle, year: int, made_on: date
) -> Document:
    """Writes the year-end summary of each alliance and pairing, one after another, as .docx."""
    # Loaded on the first document made: python-docx would cost every process ~7 MiB from start-up.
    from bot.services.word_documents import summary_docx  # noqa: PLC0415

    content = summary_docx(t, summaries, org=org, year=year, made_on=made_on)
    return Document(summary_filename(t, org, year), content, DOCX_MIME)


# -- minutes (会议记录) -------------------------------------------------------------------------

MINUTES_PREFIX = N_("Minutes")


def minutes_filename(t: Translator, record: MinutesRecord) -> str:
    """Names the file: 会议记录-<unit>-2026-10-06.docx."""
    unit = safe_filename(record.unit.name)
    return f"{safe_filename(t(MINUTES_PREFIX))}-{unit}-{record.meeting.held_on.isoformat()}.docx"


def minutes_document(t: Translator, record: MinutesRecord) -> Document:
    """Writes one meeting's minutes as .docx: facts, attendance from the roll call, content, resolutions."""
    from bot.services.word_documents import minutes_docx  # noqa: PLC0415 (as summary_document)

    return Document(minutes_filename(t, record), minutes_docx(t, record), DOCX_MIME)
