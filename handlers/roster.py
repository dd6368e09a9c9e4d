"""Who hosts: the duty roster for this month, this or next quarter, or any named quarter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.calendar.quarters import Quarter
from bot.core.domain import Duty
from bot.core.i18n import N_, Translator
from bot.core.records import DutySlot
from bot.services.errors import ServiceError
from bot.services.use_cases import RosterAnswer
from bot.texts.phrases import DUTIES, describe_meeting
from bot.texts.reminders import quarter_label
from handlers.base import Context, Replies, Router
from handlers.errors import explain

router = Router("roster", title=N_("duty roster"))

CN_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
QUARTER_PATTERN = re.compile(
    r"(?P<year>\d{4})\s*(?:年)?\s*(?:q|第)?\s*(?P<q>[1-4一二三四])\s*(?:季度|季)?$"
)
MONTH_PATTERN = re.compile(r"(?P<year>\d{4})\s*[-年/]\s*(?P<month>\d{1,2})\s*月?$")
YEAR_PATTERN = re.compile(r"(?P<year>\d{4})\s*年?$")
# Periods said before 谁主持 ("本月谁主持", "这个月谁主持？").
PERIOD_WORDS = (
    "本季度",
    "这季度",
    "这个季度",
    "下季度",
    "下个季度",
    "上季度",
    "上个季度",
    "本月",
    "这个月",
    "下月",
    "下个月",
)


@dataclass(frozen=True, slots=True)
class Span:
    """The days a roster question asks about, and how to name them."""

    first_day: date
    last_day: date
    label: str


class SpanError(ValueError):
    """The question names no period the roster understands."""


def parse_span(text: str, *, today: date, t: Translator) -> Span:
    """Reads "this month", "next quarter", "2027Q1", "2027年第一季度", "2026-12" and the like."""
    cleaned = text.strip().lower().replace("谁主持", "").replace("轮值", "").strip(" ？?")
    this_quarter = Quarter.of(today)
    if cleaned in ("", "本季度", "这季度", "这个季度", "this quarter", "quarter", "this", "now"):
        return _quarter_span(this_quarter, t)
    if cleaned in ("下季度", "下个季度", "next quarter", "next"):
        return _quarter_span(this_quarter.next(), t)
    if cleaned in ("上季度", "上个季度", "last quarter", "last", "previous"):
        return _quarter_span(this_quarter.previous(), t)
    if cleaned in ("本月", "这个月", "this month", "month"):
        return _month_span(today, t)
    if cleaned in ("下月", "下个月", "next month"):
        return _month_span((today.replace(day=1) + timedelta(days=32)).replace(day=1), t)
    if cleaned in ("今年", "本年", "this year"):
        return Span(date(today.year, 1, 1), date(today.year, 12, 31), str(today.year))
    compact = cleaned.replace(" ", "").replace("-q", "q")
    if match := QUARTER_PATTERN.match(compact):
        return _quarter_span(Quarter(int(match["year"]), CN_NUMBERS[match["q"]]), t)
    if match := MONTH_PATTERN.match(compact):
        month = int(match["month"])
        if 1 <= month <= 12:
            return _month_span(date(int(match["year"]), month, 1), t)
    if match := YEAR_PATTERN.match(compact):
        year = int(match["year"])
        return Span(date(year, 1, 1), date(year, 12, 31), str(year))
    raise SpanError(text)


def _quarter_span(quarter: Quarter, t: Translator) -> Span:
    """Names a quarter span."""
    return Span(quarter.first_day, quarter.last_day, quarter_label(t, quarter))


def _month_span(day: date, t: Translator) -> Span:
    """Names a month span."""
    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return Span(first, last, t.month(first))


@router.command(
    "roster",
    keywords=(
        *(f"{period}谁主持" for period in PERIOD_WORDS),
        "谁主持",
        "轮值",
        "值班",
        "who hosts",
    ),
    description=N_("Who hosts this month or quarter"),
)
def roster(ctx: Context, args: str) -> Replies:
    """Answers who is on duty in the asked period for the member's alliances and pairings."""
    t = ctx.t
    assert ctx.member is not None
    text = ctx.inbound.text.strip()
    if text.startswith(PERIOD_WORDS):
        # "本月谁主持": the period comes before the keyword.
        args = text
    try:
        span = parse_span(args, today=ctx.today, t=t)
    except SpanError:
        return [
            ctx.reply(
                t(
                    "I could not read that period. Try /roster this quarter, next quarter,"
                    " this month, next month or 2027Q1."
                )
            )
        ]
    answer = ctx.services.roster(ctx.member.org.id, span.first_day, span.last_day)
    return [ctx.reply(render_roster(t, answer, span))]


def _slot_line(t: Translator, slot: DutySlot) -> str:
    """Describes one duty slot, with an override and its reason."""
    period = _period_label(t, slot)
    line = t(
        "{duty} ({period}): {org}", duty=t(DUTIES[slot.duty]), period=period, org=slot.org.name
    )
    if slot.overridden and slot.scheduled_org is not None:
        line += t(
            " (changed from {org}: {reason})", org=slot.scheduled_org.name, reason=slot.reason
        )
    return line


def _period_label(t: Translator, slot: DutySlot) -> str:
    """Names a slot's period by its first and last day."""
    if slot.first_day.month == slot.last_day.month and slot.first_day.year == slot.last_day.year:
        return t.month(slot.first_day)
    return t(
        "{first} – {last}",
        first=t.date(slot.first_day, "medium"),
        last=t.date(slot.last_day, "medium"),
    )


def render_roster(t: Translator, answer: RosterAnswer, span: Span) -> str:
    """Writes the roster answer: alliances' duties and meetings, pairings' hosts and visits."""
    if not answer.alliances and not answer.pairings:
        return t("Your organization is in no alliance or pairing, so there is no roster.")
    lines = [t("Roster for {period}:", period=span.label)]
    for alliance in answer.alliances:
        lines.append(f"【{alliance.name}】")
        lines.append(_slot_line(t, alliance.executive))
        lines += [_slot_line(t, slot) for slot in alliance.conveners]
        lines += [_slot_line(t, slot) for slot in alliance.theme_days]
        if alliance.meetings:
            lines += [f"  · {describe_meeting(t, meeting)}" for meeting in alliance.meetings]
        else:
            lines.append(
                t("  No joint meeting or theme day is on the calendar for this period yet.")
            )
    for pairing in answer.pairings:
        lines.append(f"【{pairing.name}】")
        for quarter, org in pairing.hosts:
            lines.append(
                t("Host of {quarter}: {org}", quarter=quarter_label(t, quarter), org=org.name)
            )
        # Counted over the year the asked period starts in, which need not be this year.
        lines.append(
            t(
                "Visits in {year}: {done} held, target {target}.",
                year=answer.first_day.year,
                done=pairing.visits_done,
                target=pairing.visit_target,
            )
        )
        lines += [f"  · {describe_meeting(t, meeting)}" for meeting in pairing.meetings]
    return "\n".join(lines)


def _numbered_units(ctx: Context) -> str:
    """Lists the alliance's units, numbered, for a choice by number."""
    assert ctx.member is not None
    units = ctx.services.duty_units(ctx.member)
    lines = [ctx.t("Units of your alliance:")]
    lines += [f"{number}. {unit.name}" for number, unit in enumerate(units, 1)]
    return "\n".join(lines)


@router.command(
    "override",
    keywords=("调整轮值",),
    description=N_("Change a duty slot, with a reason"),
    leads_only=True,
)
def override(ctx: Context, args: str) -> Replies:
    """Replaces (PERIOD ORG REASON) or swaps (PERIOD PERIOD REASON) a theme-day duty slot."""
    t = ctx.t
    assert ctx.member is not None
    parts = args.split(maxsplit=2)
    usage = t(
        "Usage: /override PERIOD UNIT REASON to replace the unit on duty, or /override PERIOD PERIOD"
        " REASON to swap two slots. UNIT is a unit's name (its beginning will do) or its number"
        " below. PERIOD is a month (2026-12) or a quarter (2027Q1); add convener before it for the"
        " joint-meeting convener."
    )
    duty = Duty.THEME_DAY
    if parts and parts[0] in ("召集", "convener"):
        duty = Duty.CONVENER
        parts = args.split(maxsplit=3)[1:]
    if len(parts) < 3:
        return [ctx.reply(f"{usage}\n{_numbered_units(ctx)}")]
    period, target, reason = parts
    looks_like_period = bool(re.match(r"^\d{4}(-\d{1,2}|[qQ][1-4])$", target))
    try:
        ctx.services.override_duty(
            ctx.member,
            duty=duty,
            period_text=period,
            org_code=None if looks_like_period else target,
            swap_with=target if looks_like_period else None,
            reason=reason,
        )
    except ServiceError as error:
        if error.code not in ("unit_unknown", "unit_ambiguous"):
            raise
        choose = t(
            "Send it again with the unit's number, e.g. /override {period} 2 {reason}",
            period=period,
            reason=reason,
        )
        return [ctx.reply(f"{explain(t, error)}\n{_numbered_units(ctx)}\n{choose}")]
    return [
        ctx.reply(
            t(
                "Done: the roster now shows the change, with your reason. It is recorded in the audit log."
            )
        )
    ]
