"""Attendance for secretaries: the roll call of today's (or the last) meeting."""

from __future__ import annotations

from bot.core.i18n import N_
from handlers.base import Context, Replies, Router
from handlers.texts import describe_meeting

router = Router("attendance")


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
