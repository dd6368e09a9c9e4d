"""The web console's door from chat: a single-use sign-in link for officers."""

from __future__ import annotations

from dataclasses import replace

from bot.core.i18n import N_
from bot.services.console_access import CONSOLE_ROLES
from handlers.base import Context, Replies, Router

router = Router("console", title=N_("web console"))


@router.command(
    "console",
    keywords=("后台", "管理后台"),
    description=N_("A sign-in link to the web console"),
    roles=CONSOLE_ROLES,
)
def console(ctx: Context, _args: str) -> Replies:
    """Sends a 10-minute single-use link to the web console, privately."""
    assert ctx.member is not None
    url = ctx.services.console_link(ctx.member)
    reply = ctx.reply(
        ctx.t(
            "Your sign-in link to the web console:\n{url}\nIt works once, within 10 minutes."
            " Do not forward it: whoever opens it signs in as you.",
            url=url,
        )
    )
    if ctx.inbound.is_group:
        return [
            ctx.reply(ctx.t("I've sent your console link to you in a private chat.")),
            replace(reply, private=True),
        ]
    return [reply]
