"""Compliance at a glance: what the rules require this quarter and this year, done or owed."""

from __future__ import annotations

from bot.calendar.quarters import Quarter
from bot.core.i18n import N_, Translator
from bot.services.compliance import describe_report
from bot.services.stats import parse_quarter
from bot.texts.attendance import quarter_ahead
from handlers.base import Context, Replies, Router

router = Router("status", title=N_("status"))


@router.command(
    "status",
    keywords=("达标", "达标情况"),
    description=N_("What the rules require this quarter and year, done or owed"),
    leads_only=True,
)
def status(ctx: Context, args: str) -> Replies:
    """Checks the branch, its alliances and its pairings against the rules for a quarter."""
    t = ctx.t
    assert ctx.member is not None
    quarter = parse_quarter(args, ctx.today)
    if quarter is None:
        return [ctx.reply(usage(t))]
    if quarter > Quarter.of(ctx.today):
        return [ctx.reply(quarter_ahead(t, quarter))]
    report = ctx.services.compliance(ctx.member, quarter)
    return [ctx.reply(describe_report(t, report))]


def usage(t: Translator) -> str:
    """Explains which quarters /status understands."""
    return t(
        "Send /status for this quarter, or /status last quarter, or a quarter like /status 2026Q3."
    )
