"""Check-in on the meeting day, and the secretary's side: the code and the roll call."""

from __future__ import annotations

from bot.core.i18n import N_
from handlers.base import Context, Replies, Router
from handlers.texts import MEETING_KINDS, describe_meeting

router = Router("checkin")

NO_CODE_WORDS = frozenset({"nocode", "免码", "无码"})


@router.command("checkin", keywords=("签到",), description=N_("Sign in to today's meeting"))
def check_in(ctx: Context, args: str) -> Replies:
    """Signs the member in to today's meeting, with the code when one is required."""
    t = ctx.t
    assert ctx.member is not None
    code = "".join(args.split()) or None
    if code is not None and not (code.isdigit() and len(code) == 6):
        return [ctx.reply(t("A check-in code has 6 digits, e.g. 签到 123456."))]
    result = ctx.services.check_in(ctx.member, code=code, channel=ctx.inbound.channel)
    kind = t(MEETING_KINDS[result.meeting.kind])
    if not result.new:
        return [
            ctx.reply(
                t("You already signed in at {time}; nothing changed.", time=t.time(result.at))
            )
        ]
    return [
        ctx.reply(
            t(
                "Signed in to {kind} of {org} at {time}. Thank you!",
                kind=kind,
                org=result.meeting.org.name,
                time=t.time(result.at),
            )
        )
    ]


@router.command(
    "opencheckin",
    keywords=("开启签到",),
    description=N_("Get today's check-in code (secretaries)"),
    leads_only=True,
)
def open_checkin(ctx: Context, args: str) -> Replies:
    """Opens check-in for today's meeting and gives the secretary its code."""
    t = ctx.t
    assert ctx.member is not None
    code_required = args.strip().lower() not in NO_CODE_WORDS
    meeting, code = ctx.services.open_checkin(ctx.member, code_required=code_required)
    header = describe_meeting(t, meeting)
    if not code_required:
        return [ctx.reply(t("Check-in is open without a code for:\n{meeting}", meeting=header))]
    return [
        ctx.reply(
            t(
                "Check-in is open for:\n{meeting}\nToday's code: {code}\nMembers send: 签到 {code}",
                meeting=header,
                code=code,
            ),
        )
    ]


@router.command(
    "attendance",
    keywords=("出勤", "考勤"),
    description=N_("Who signed in, who is on leave, who is missing (secretaries)"),
    leads_only=True,
)
def attendance(ctx: Context, _args: str) -> Replies:
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
            [f"{name} {t.time(at.astimezone(ctx.now.tzinfo))}" for name, at in roll.present]
        )
        lines.append(t("Signed in: {names}", names=names))
    if roll.on_leave:
        names = t.join([f"{name} ({reason})" if reason else name for name, reason in roll.on_leave])
        lines.append(t("On leave: {names}", names=names))
    if roll.missing:
        lines.append(t("Missing: {names}", names=t.join(roll.missing)))
    return [ctx.reply("\n".join(lines))]
