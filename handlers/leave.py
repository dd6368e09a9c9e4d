"""Asking leave for the branch's next meeting, with a reason."""

from __future__ import annotations

from enum import StrEnum

from bot.core.i18n import N_
from bot.core.records import MemberView
from bot.core.reply import Reply
from bot.services.errors import ServiceError
from bot.texts.phrases import describe_meeting
from handlers.base import Context, Replies, Router
from handlers.errors import explain

router = Router("leave", title=N_("leave request"))


class Step(StrEnum):
    """The leave flow's single step."""

    REASON = "reason"


MIN_REASON, MAX_REASON = 2, 500


@router.command("leave", keywords=("请假",), description=N_("Ask leave for the next meeting"))
def ask_leave(ctx: Context, args: str) -> Replies:
    """Shows the next meeting and asks the reason, or records leave at once when it is given."""
    meeting = ctx.services.next_meeting(_member(ctx))
    reason = args.strip()
    problem = _reason_problem(ctx, reason) if reason else ""
    if reason and not problem:
        return [_record(ctx, meeting.id, reason)]
    ctx.begin(router.flow, Step.REASON, meeting_id=meeting.id)
    lines = [
        problem,
        ctx.t("Your next meeting:\n{meeting}", meeting=describe_meeting(ctx.t, meeting)),
        _question(ctx),
    ]
    return [ctx.reply("\n".join(line for line in lines if line), ctx.nav_buttons(back=False))]


@router.step(Step.REASON, private=True)
def on_reason(ctx: Context, text: str) -> Replies:
    """Records the leave with the reason given."""
    reason = text.strip()
    problem = _reason_problem(ctx, reason)
    if problem:
        return [ctx.reply(f"{problem}\n{_question(ctx)}", ctx.nav_buttons(back=False))]
    try:
        reply = _record(ctx, int(ctx.data["meeting_id"]), reason)
    except ServiceError as error:
        # Signed in already, meeting over or gone: asking again cannot help, so drop the draft
        # (the service refuses before writing anything).
        ctx.end()
        return [ctx.reply(explain(ctx.t, error))]
    ctx.end()
    return [reply]


@router.back_handler
def on_back(ctx: Context) -> Replies:
    """Asks for the reason again (after 返回, or when the member comes back to the draft)."""
    return [ctx.reply(_question(ctx), ctx.nav_buttons(back=False))]


def _member(ctx: Context) -> MemberView:
    """Returns the member asking leave (leave needs a bound account)."""
    assert ctx.member is not None, "leave without a member"
    return ctx.member


def _question(ctx: Context) -> str:
    """Asks for the reason of the leave."""
    return ctx.t(
        "What is the reason for your leave? ({min} to {max} characters)",
        min=MIN_REASON,
        max=MAX_REASON,
    )


def _reason_problem(ctx: Context, reason: str) -> str:
    """Says what is wrong with a reason (empty when it will do)."""
    if MIN_REASON <= len(reason) <= MAX_REASON:
        return ""
    return ctx.t(
        "A reason needs {min} to {max} characters; yours has {count}.",
        min=MIN_REASON,
        max=MAX_REASON,
        count=len(reason),
    )


def _record(ctx: Context, meeting_id: int, reason: str) -> Reply:
    """Records the leave and confirms it with the meeting and the reason."""
    meeting = ctx.services.ask_leave(_member(ctx), meeting_id=meeting_id, reason=reason)
    return ctx.reply(
        ctx.t(
            "Leave recorded for:\n{meeting}\nReason: {reason}",
            meeting=describe_meeting(ctx.t, meeting),
            reason=reason,
        )
    )


@router.command(
    "cancelleave",
    keywords=("销假", "取消请假"),
    description=N_("Withdraw your leave: you will attend after all"),
)
def cancel_leave(ctx: Context, _args: str) -> Replies:
    """Withdraws the member's leave from their next meeting they asked leave for."""
    meeting = ctx.services.cancel_leave(_member(ctx))
    return [
        ctx.reply(
            ctx.t(
                "Your leave is withdrawn; see you at:\n{meeting}",
                meeting=describe_meeting(ctx.t, meeting),
            )
        )
    ]
