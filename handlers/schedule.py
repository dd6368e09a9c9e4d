"""My upcoming meetings, and the secretary's change of the next meeting's day, time or venue."""

from __future__ import annotations

import re
from datetime import date, time

from bot.core.i18n import N_
from bot.services.meetings import parse_hhmm
from bot.texts.phrases import describe_meeting
from handlers.base import Context, Replies, Router

router = Router("schedule", title=N_("meeting schedule"))

DAY_PATTERN = re.compile(
    r"^(?:(?P<year>\d{4})[-/.年])?(?P<month>\d{1,2})[-/.月](?P<day>\d{1,2})[日号]?$"
)


LOOKS_LIKE_DAY = re.compile(r"^\d{1,4}\s*[-/.年月]")


def parse_coming_day(text: str, *, today: date) -> date | None:
    """Reads a date for a meeting ahead; a date without a year is the next one to come."""
    match = DAY_PATTERN.match(text.strip())
    if match is None:
        return None
    year = int(match["year"]) if match["year"] else today.year
    try:
        day = date(year, int(match["month"]), int(match["day"]))
        if not match["year"] and day < today:
            day = day.replace(year=year + 1)
    except ValueError:
        return None
    return day


@router.command("next", keywords=("日程", "下次会议"), description=N_("My upcoming meetings"))
def upcoming(ctx: Context, _args: str) -> Replies:
    """Lists the member's upcoming meetings, org-life days included."""
    t = ctx.t
    assert ctx.member is not None
    meetings = ctx.services.upcoming(ctx.member)
    if not meetings:
        return [ctx.reply(t("Your branch has no upcoming meeting."))]
    lines = [t("Upcoming meetings of {org}:", org=ctx.member.org.name)]
    lines += [f"• {describe_meeting(t, meeting)}" for meeting in meetings]
    return [ctx.reply("\n".join(lines))]


@router.command(
    "setmeeting",
    keywords=("调整会议",),
    description=N_("Change the next meeting's day, time or venue (secretaries)"),
    leads_only=True,
)
def set_meeting(ctx: Context, args: str) -> Replies:
    """Changes the next meeting: any of a date, an HH:MM time and a venue, in that order."""
    t = ctx.t
    assert ctx.member is not None
    usage = t("Usage: 调整会议 [DATE] [HH:MM] [VENUE], e.g. 调整会议 12月2日 14:30 党群服务中心")
    words = args.split()
    if not words:
        return [ctx.reply(usage)]
    day: date | None = None
    at: time | None = None
    day = parse_coming_day(words[0], today=ctx.today)
    if day is not None:
        words = words[1:]
    elif LOOKS_LIKE_DAY.match(words[0]):
        # A date we cannot read must not silently become the venue.
        return [
            ctx.reply(t("I could not read the date {text}. {usage}", text=words[0], usage=usage))
        ]
    if words:
        try:
            at = parse_hhmm(words[0])
            words = words[1:]
        except ValueError:
            at = None
    venue = " ".join(words) or None
    if day is None and at is None and venue is None:
        return [ctx.reply(usage)]
    meeting = ctx.services.reschedule(ctx.member, day=day, at=at, venue=venue)
    return [
        ctx.reply(t("The next meeting is now:\n{meeting}", meeting=describe_meeting(t, meeting)))
    ]
