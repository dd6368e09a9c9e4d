"""Binding a chat account to a member with a single-use invite code."""

from __future__ import annotations

from bot.core.domain import RoleKind
from bot.core.i18n import N_
from bot.texts.phrases import ROLES
from handlers.base import Context, Replies, Router

router = Router("bind", title=N_("binding"))


@router.command(
    "bind",
    keywords=("绑定",),
    description=N_("Bind this account with an invite code"),
    needs_member=False,
)
def bind(ctx: Context, args: str) -> Replies:
    """Binds the account with the code given after the command."""
    return bind_with_code(ctx, args)


def bind_with_code(ctx: Context, args: str) -> Replies:
    """Redeems the invite code in `args` and welcomes the member."""
    t = ctx.t
    code = args.strip().split()[0] if args.strip() else ""
    if ctx.member is not None:
        return [
            ctx.reply(
                t(
                    "You are already bound as {name} ({org}).",
                    name=ctx.member.name,
                    org=ctx.member.org.name,
                )
            )
        ]
    if not code:
        return [ctx.reply(t("Please send the invite code with it, e.g. 绑定 ABCD2345."))]
    if len(code) > 16 or not code.isalnum():
        return [ctx.reply(t("That invite code does not exist. Check it and try again."))]
    inbound = ctx.inbound
    member = ctx.services.bind(
        code=code,
        channel=inbound.channel,
        external_id=inbound.user_id,
        display_name=inbound.display_name,
        # Failures are counted per account and per source: the group chat, or all private chats.
        source=inbound.chat_id if inbound.is_group else "private",
    )
    ctx.member = member
    roles = t.join([t(ROLES[role]) for role in sorted(member.roles, key=list(RoleKind).index)])
    return [
        ctx.reply(
            t(
                "Welcome, {name}! You are bound to {org} as {roles}. Send 帮助 to see what I can do.",
                name=member.name,
                org=member.org.name,
                roles=roles,
            )
        )
    ]
