"""My upcoming meetings, and the secretary's change of the next meeting's day, time or venue."""

from __future__ import annotations

from datetime import date, time

from bot.core.domain import MeetingKind
from bot.core.i18n import N_, Translator
from bot.core.records import MeetingView
from bot.texts.phrases import describe_meeting
from bot.texts.reminders import holiday_data_warning
from handlers import dates
from handlers.base import Context, Replies, Router

router = Router("schedule", title=N_("meeting schedule"))

# The words a secretary may name a meeting kind with, in either language.
MEETING_WORDS: dict[str, MeetingKind] = {
    "组织生活日": MeetingKind.ORG_LIFE,
    "组织生活": MeetingKind.ORG_LIFE,
    "org-life": MeetingKind.ORG_LIFE,
    "orglife": MeetingKind.ORG_LIFE,
    "主题党日": MeetingKind.THEME_DAY,
    "theme-day": MeetingKind.THEME_DAY,
    "themeday": MeetingKind.THEME_DAY,
    "联席会议": MeetingKind.JOINT_MEETING,
    "联席会": MeetingKind.JOINT_MEETING,
    "joint-meeting": MeetingKind.JOINT_MEETING,
    "joint": MeetingKind.JOINT_MEETING,
    "走访": MeetingKind.VISIT,
    "走亲串门": MeetingKind.VISIT,
    "visit": MeetingKind.VISIT,
    "支部党员大会": MeetingKind.BRANCH_ASSEMBLY,
    "党员大会": MeetingKind.BRANCH_ASSEMBLY,
    "assembly": MeetingKind.BRANCH_ASSEMBLY,
    "general-meeting": MeetingKind.BRANCH_ASSEMBLY,
    "支委会": MeetingKind.COMMITTEE,
    "支部委员会": MeetingKind.COMMITTEE,
    "committee": MeetingKind.COMMITTEE,
    "党小组会": MeetingKind.GROUP,
    "党小组": MeetingKind.GROUP,
    "group": MeetingKind.GROUP,
    "党课": MeetingKind.LECTURE,
    "lecture": MeetingKind.LECTURE,
}


def read_kind(word: str) -> MeetingKind | None:
    """Reads a meeting kind from a word of either language."""
    return MEETING_WORDS.get(word.strip().lower())


# Kept here too: tests and the fuzzer read coming days through this module.
parse_coming_day = dates.parse_coming_day


@router.command("next", keywords=("日程", "下次会议"), description=N_("My upcoming meetings"))
def upcoming(ctx: Context, _args: str) -> Replies:
    """Lists the member's upcoming meetings, org-life days included, marking those on leave."""
    t = ctx.t
    assert ctx.member is not None
    meetings = ctx.services.upcoming(ctx.member)
    # Secretaries are warned when the coming months lie past the official holiday data.
    warning = (
        holiday_data_warning(t, ctx.services.missing_holiday_years()) if ctx.member.leads else ""
    )
    if not meetings:
        lines = [t("Your branch has no upcoming meeting.")]
    else:
        on_leave = ctx.services.my_leaves(ctx.member, meetings)
        lines = [t("Upcoming meetings of {org}:", org=ctx.member.org.name)]
        for meeting in meetings:
            line = f"• {describe_meeting(t, meeting)}"
            if meeting.id in on_leave:
                line += "\n  " + t(
                    "You asked leave for this meeting (send /cancelleave to withdraw it)."
                )
            lines.append(line)
    if warning:
        lines.append(warning)
    return [ctx.reply("\n".join(lines))]


class WhenError(ValueError):
    """A date or time the secretary typed cannot be read; the message says which."""


def read_when(
    t: Translator, words: list[str], *, today: date
) -> tuple[date | None, time | None, list[str]]:
    """Takes an optional date, then an optional time, off the words; the rest is left."""
    day: date | None = None
    at: time | None = None
    if words and dates.looks_like_day(words[0]):
        day = dates.parse_coming_day(words[0], today=today)
        if day is None:
            raise WhenError(t("I could not read the date {text}.", text=words[0]))
        words = words[1:]
    if words and dates.looks_like_time(words[0]):
        at = dates.parse_clock(words[0])
        if at is None:
            raise WhenError(t("I could not read the time {text}.", text=words[0]))
        words = words[1:]
    return day, at, words


VENUE_MARK = "地点"
VENUE_WORDS = ("venue", "venue:", "at")


def marks_venue(words: list[str]) -> bool:
    """Tells whether the words start with a venue marker (地点, 地点：, venue)."""
    return bool(words) and (words[0].startswith(VENUE_MARK) or words[0].lower() in VENUE_WORDS)


def read_venue(words: list[str]) -> str | None:
    """Joins the words left into a venue, dropping a leading 地点 or `venue` marker."""
    if words and words[0].lower() in VENUE_WORDS:
        words = words[1:]
    elif words and words[0].startswith(VENUE_MARK):
        words = [words[0][len(VENUE_MARK) :].lstrip("：:"), *words[1:]]
    venue = " ".join(word for word in words if word).strip()
    return venue or None


@router.command(
    "setmeeting",
    keywords=("调整会议",),
    description=N_("Change the next meeting's day, time or venue"),
    leads_only=True,
)
def set_meeting(ctx: Context, args: str) -> Replies:
    """Changes the next meeting: any of a date, a time and a venue, in that order."""
    t = ctx.t
    assert ctx.member is not None
    usage = t(
        "Usage: /setmeeting [DATE] [TIME] [venue VENUE], e.g. /setmeeting 2026-12-02 14:30"
        " Community Centre or /setmeeting venue Community Centre."
    )
    words = args.split()
    if not words:
        return [ctx.reply(usage)]
    try:
        day, at, words = read_when(t, words, today=ctx.today)
    except WhenError as error:
        return [ctx.reply(f"{error}\n{usage}")]
    if day is None and at is None and not marks_venue(words):
        # Words that are neither a date nor a time nor a marked venue: ask rather than guess.
        return [
            ctx.reply(
                t("I could not read {text} as a date or a time.", text=words[0]) + "\n" + usage
            )
        ]
    venue = read_venue(words)
    if day is None and at is None and venue is None:
        return [ctx.reply(usage)]
    meeting = ctx.services.reschedule(ctx.member, day=day, at=at, venue=venue)
    return [
        ctx.reply(
            t("The next meeting is now:\n{meeting}", meeting=describe_meeting(t, meeting))
            + "\n"
            + t("Its members will be told.")
        )
    ]


def kinds_hint(t: Translator) -> str:
    """Lists the meeting kinds one can schedule, by their Chinese words."""
    return t(
        "Kinds: 组织生活日, 主题党日, 联席会议, 走访, 支部党员大会, 支委会, 党小组会, 党课"
        " (or org-life, theme-day, joint-meeting, visit, assembly, committee, group, lecture)."
    )


@router.command(
    "newmeeting",
    keywords=("新建会议", "安排会议"),
    description=N_("Schedule a meeting of any kind (secretaries)"),
    leads_only=True,
)
def new_meeting(ctx: Context, args: str) -> Replies:
    """Schedules a meeting: kind, date, time and venue (the venue may be left out)."""
    t = ctx.t
    assert ctx.member is not None
    usage = t(
        "Usage: /newmeeting KIND DATE TIME [VENUE], e.g. /newmeeting lecture 2026-12-10 14:30 Community Centre."
    )
    words = args.split()
    if not words:
        return [ctx.reply(f"{usage}\n{kinds_hint(t)}")]
    kind = read_kind(words[0])
    if kind is None:
        return [
            ctx.reply(
                t("I do not know the meeting kind {text}.", text=words[0])
                + f"\n{usage}\n{kinds_hint(t)}"
            )
        ]
    try:
        day, at, rest = read_when(t, words[1:], today=ctx.today)
    except WhenError as error:
        return [ctx.reply(f"{error}\n{usage}")]
    if day is None or at is None:
        return [ctx.reply(t("Please give both the date and the time.") + f"\n{usage}")]
    meeting = ctx.services.schedule_meeting(
        ctx.member, kind=kind, day=day, at=at, venue=read_venue(rest) or ""
    )
    return [ctx.reply(scheduled(t, meeting))]


def scheduled(t: Translator, meeting: MeetingView) -> str:
    """Confirms a scheduled meeting and says how check-in and leave work for it."""
    return "\n".join(
        [
            t("Scheduled:\n{meeting}", meeting=describe_meeting(t, meeting)),
            t("Its members will be told. On the day, send /opencheckin to open check-in."),
        ]
    )


@router.command(
    "cancelmeeting",
    keywords=("取消会议",),
    description=N_("Cancel the next meeting, or the one on a date (secretaries)"),
    leads_only=True,
)
def cancel_meeting(ctx: Context, args: str) -> Replies:
    """Cancels the branch's next meeting (or its meeting on a date), with an optional reason."""
    t = ctx.t
    assert ctx.member is not None
    words = args.split()
    day: date | None = None
    if words and dates.looks_like_day(words[0]):
        day = dates.parse_coming_day(words[0], today=ctx.today)
        if day is None:
            usage = t(
                "Usage: /cancelmeeting [DATE] [REASON], e.g. /cancelmeeting 2026-12-01 clash with a district meeting"
            )
            return [ctx.reply(t("I could not read the date {text}.", text=words[0]) + "\n" + usage)]
        words = words[1:]
    meeting = ctx.services.cancel_meeting(ctx.member, day=day, reason=" ".join(words))
    return [
        ctx.reply(
            t("Cancelled:\n{meeting}", meeting=describe_meeting(t, meeting))
            + "\n"
            + t("Its members will be told.")
        )
    ]
