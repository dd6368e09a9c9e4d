"""Attendance for secretaries: today's (or the last) roll call, or a quarter's table."""

from __future__ import annotations

from bot.calendar.quarters import Quarter
from bot.core.i18n import N_, Translator
from bot.core.names import isolate
from bot.services.stats import AttendanceReport, MeetingTally, parse_quarter
from bot.texts.attendance import attendance_heading, no_meeting_yet, quarter_ahead, totals_line
from bot.texts.phrases import MEETING_KINDS, describe_meeting
from handlers.base import Context, Replies, Router

router = Router("attendance", title=N_("attendance"))


@router.command(
    "attendance",
    keywords=("出勤", "考勤"),
    description=N_("Attendance: today's roll call, or a quarter's"),
    leads_only=True,
)
def attendance(ctx: Context, args: str) -> Replies:
    """Shows today's (or the last) roll call, or a quarter's attendance when one is named."""
    if not args.strip():
        return roll_call(ctx)
    t = ctx.t
    assert ctx.member is not None
    quarter = parse_quarter(args, ctx.today)
    if quarter is None:
        return [ctx.reply(usage(t))]
    if quarter > Quarter.of(ctx.today):
        return [ctx.reply(quarter_ahead(t, quarter))]
    report = ctx.services.attendance_quarter(ctx.member, quarter)
    return [ctx.reply(describe_quarter(t, report, quarter))]


def usage(t: Translator) -> str:
    """Explains which quarters /attendance understands."""
    return t(
        "Send /attendance for today's roll call, /attendance this quarter (or last quarter, or a quarter like 2026Q4)"
        " for a quarter's attendance."
    )


def roll_call(ctx: Context) -> Replies:
    """Shows today's (or the last) meeting's roll call with the attendance rate."""
    t = ctx.t
    assert ctx.member is not None
    roll = ctx.services.roll_call(ctx.member)
    lines = [describe_meeting(t, roll.meeting)]
    lines.append(
        t(
            "Signed in {present} of {expected} ({rate}%), on leave {leave}, missing {missing}.",
            present=len(roll.present),
            expected=roll.expected,
            rate=round(roll.rate * 100),
            leave=len(roll.on_leave),
            missing=len(roll.missing),
        )
    )
    if roll.present:
        names = t.join(
            [
                f"{isolate(name)} {t.time(at.astimezone(ctx.now.tzinfo))}"
                for name, at in roll.present
            ]
        )
        lines.append(t("Signed in: {names}", names=names))
    if roll.late:
        lines.append(t("Late: {names}", names=t.join(roll.late)))
    if roll.on_leave:
        names = t.join(
            [
                f"{isolate(name)} ({isolate(reason)})" if reason else isolate(name)
                for name, reason in roll.on_leave
            ]
        )
        lines.append(t("On leave: {names}", names=names))
    if roll.missing:
        lines.append(t("Missing: {names}", names=t.join([isolate(name) for name in roll.missing])))
    return [ctx.reply("\n".join(lines))]


def describe_tally(t: Translator, meeting: MeetingTally) -> str:
    """Describes one meeting's attendance in a line."""
    head = t(
        "{date} {kind}",
        date=t.date(meeting.held_on, "medium"),
        kind=t(MEETING_KINDS[meeting.kind]),
    )
    if not meeting.taken:
        return t("{meeting}: nobody signed in", meeting=head)
    return t(
        "{meeting}: signed in {present} of {expected} ({rate}%), on leave {leave}, absent {absent}",
        meeting=head,
        present=meeting.present,
        expected=meeting.expected,
        rate=round(meeting.rate * 100),
        leave=meeting.leave,
        absent=meeting.absent,
    )


def describe_quarter(t: Translator, report: AttendanceReport, quarter: Quarter) -> str:
    """Writes a quarter's attendance: each meeting, each member, and the totals."""
    if not report.meetings:
        return no_meeting_yet(t, org=report.org.name, quarter=quarter)
    lines = [attendance_heading(t, org=report.org.name, quarter=quarter)]
    lines.append(t("Meetings:"))
    lines += [f"• {describe_tally(t, meeting)}" for meeting in report.meetings]
    lines.append(t("Members:"))
    for member in report.members:
        if not member.expected and not member.leave:
            lines.append("• " + t("{name}: no meeting to count", name=member.name))
            continue
        lines.append(
            "• "
            + t(
                "{name}: present {present}, on leave {leave}, absent {absent} ({rate}%)",
                name=member.name,
                present=member.present,
                leave=member.leave,
                absent=member.absent,
                rate=round(member.rate * 100),
            )
        )
    lines.append(totals_line(t, report))
    return "\n".join(lines)
