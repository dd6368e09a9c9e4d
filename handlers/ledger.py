"""The quarterly ledger workbook and the year-end summary draft, for secretaries."""

from __future__ import annotations

import re
from datetime import date

from bot.calendar.quarters import Quarter
from bot.core.i18n import N_, Translator
from bot.core.reply import Reply
from bot.services.stats import parse_quarter
from bot.services.summary import render_summary
from bot.texts.attendance import quarter_ahead
from bot.texts.reminders import period_label
from handlers.base import Context, Replies, Router

router = Router("ledger", title=N_("ledger"))

THIS_YEAR = frozenset({"", "今年", "本年", "本年度", "this", "this year"})
LAST_YEAR = frozenset({"去年", "上年", "上一年", "last", "last year"})
YEAR_PATTERN = re.compile(r"(?P<year>\d{4})\s*年?度?")
FIRST_YEAR = 2000


@router.command(
    "ledger",
    keywords=("台账",),
    description=N_("The quarter's ledger (台账) as a spreadsheet"),
    leads_only=True,
)
def ledger(ctx: Context, args: str) -> Replies:
    """Sends the quarter's ledger workbook, or a single-use link where files cannot go."""
    t = ctx.t
    member = ctx.member
    assert member is not None
    quarter = parse_quarter(args, ctx.today)
    if quarter is None:
        return [ctx.reply(ledger_usage(t))]
    if quarter > Quarter.of(ctx.today):
        return [ctx.reply(quarter_ahead(t, quarter))]
    label = period_label(t, str(quarter))
    # Chats that take files get the workbook; the others a single-use download link.
    if ctx.inbound.capabilities.files:
        export = ctx.services.export_ledger(member, quarter, t)
        data = export.data
        lines = [
            t(
                "The {quarter} ledger of {org}. Ledger entries: {activities}; meetings: {meetings}.",
                quarter=label,
                org=member.org.name,
                activities=len(data.activities),
                meetings=len(data.attendance.meetings),
            )
        ]
        if export.newly_filed:
            lines.append(
                t(
                    "Exporting it counts as filing the {quarter} ledger: its reminders stop.",
                    quarter=label,
                )
            )
        elif export.preview:
            lines.append(preview_note(t, export.data.compliance.ledger_opens))
        # In a group the workbook (names and attendance) goes to the secretary's private chat.
        return [Reply("\n".join(lines), document=export.document, private=True)]
    url = ctx.services.ledger_link(member, quarter, locale=t.locale)
    if url is None:
        return [ctx.reply(no_links(t))]
    minutes = ctx.services.download_config.link_minutes
    text = t.plural(
        "Download the {quarter} ledger of {org} here. The link works once, within {n} minute:"
        " {url}",
        "Download the {quarter} ledger of {org} here. The link works once, within {n} minutes:"
        " {url}",
        minutes,
        quarter=label,
        org=member.org.name,
        url=url,
    )
    return [Reply(text, private=True)]


def preview_note(t: Translator, opens: date) -> str:
    """Says an early export is a preview that files nothing."""
    return t(
        "This is a preview: an export counts as filing from {date} on, or send /submitted once"
        " the ledger is submitted.",
        date=t.date(opens, "long"),
    )


def ledger_usage(t: Translator) -> str:
    """Explains which quarters /ledger understands."""
    return t(
        "Send /ledger for this quarter's ledger, or /ledger last quarter, or a quarter like /ledger 2026Q3."
    )


def parse_year(text: str, this_year: int) -> int | None:
    """Reads a year as secretaries type it: 今年, 去年, 2026, 2026年; else None."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in THIS_YEAR:
        return this_year
    if cleaned in LAST_YEAR:
        return this_year - 1
    match = YEAR_PATTERN.fullmatch(cleaned)
    if match is None or int(match["year"]) < FIRST_YEAR:
        return None
    return int(match["year"])


@router.command(
    "summary",
    keywords=("年度总结", "年终总结"),
    description=N_("Draft the year-end summary of our alliances and pairings"),
    leads_only=True,
)
def summary(ctx: Context, args: str) -> Replies:
    """Drafts the year-end summary of each alliance and pairing the branch belongs to."""
    t = ctx.t
    member = ctx.member
    assert member is not None
    year = parse_year(args, ctx.today.year)
    if year is None:
        return [ctx.reply(t("Send /summary for this year, or a year like /summary 2025."))]
    if year > ctx.today.year:
        return [ctx.reply(t("{year} has not started yet.", year=year))]
    drafts = ctx.services.year_summaries(member, year)
    if not drafts:
        return [
            ctx.reply(
                t(
                    "{org} was in no alliance or pairing in {year}, so there is no joint summary"
                    " to draft.",
                    org=member.org.name,
                    year=year,
                )
            )
        ]
    replies = [ctx.reply(render_summary(t, draft)) for draft in drafts]
    replies.append(
        ctx.reply(
            t(
                "These are drafts from the records: edit them, and once the summary is submitted"
                " send /submitted summary."
            )
        )
    )
    replies.append(summary_file(ctx, year))
    return replies


def summary_file(ctx: Context, year: int) -> Reply:
    """Hands over the summary as a Word document, or a single-use link where files cannot go."""
    t = ctx.t
    member = ctx.member
    assert member is not None
    if ctx.inbound.capabilities.files:
        document = ctx.services.summary_document(member, year, t)
        return Reply(
            t("The year-end summary for {year} as a Word document.", year=year),
            document=document,
            private=True,
        )
    url = ctx.services.summary_link(member, year, locale=t.locale)
    if url is None:
        return ctx.reply(no_links(t))
    minutes = ctx.services.download_config.link_minutes
    text = t.plural(
        "Download the year-end summary for {year} as a Word document here. The link works once,"
        " within {n} minute: {url}",
        "Download the year-end summary for {year} as a Word document here. The link works once,"
        " within {n} minutes: {url}",
        minutes,
        year=year,
        url=url,
    )
    return Reply(text, private=True)


def no_links(t: Translator) -> str:
    """Says files cannot go here and links need the public URL set."""
    return t(
        "Files cannot be sent here, and download links need the operator to set"
        " GONGJIAN_PUBLIC_BASE_URL."
    )
