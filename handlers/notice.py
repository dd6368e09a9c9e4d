"""A secretary's notice to the whole branch, delivered through the outbox."""

from __future__ import annotations

from bot.core.i18n import N_
from bot.texts.phrases import describe_meeting
from handlers.base import Context, Replies, Router

router = Router("notice", title=N_("branch notice"))

MAX_NOTICE = 1000


@router.command(
    "notice",
    keywords=("会议通知", "通知"),
    description=N_("Send a notice to every member of the branch (secretaries)"),
    leads_only=True,
)
def notice(ctx: Context, args: str) -> Replies:
    """Sends the text to every member; 会议通知 alone announces the next meeting."""
    t = ctx.t
    assert ctx.member is not None
    text = args.strip()
    if not text and ctx.inbound.text.strip().startswith("会议通知"):
        text = describe_meeting(t, ctx.services.next_hosted(ctx.member))
    if not text:
        return [
            ctx.reply(
                t(
                    "Usage: 通知 TEXT sends TEXT to every member of the branch;"
                    " 会议通知 alone announces the next meeting."
                )
            )
        ]
    if len(text) > MAX_NOTICE:
        return [
            ctx.reply(
                t(
                    "A notice may have at most {max} characters; yours has {count}.",
                    max=MAX_NOTICE,
                    count=len(text),
                )
            )
        ]
    count = ctx.services.branch_notice(ctx.member, text=text)
    return [
        ctx.reply(
            t.plural(
                "Your notice goes to {count} member with a chat account.",
                "Your notice goes to {count} members with a chat account.",
                count,
                count=count,
            )
        )
    ]
