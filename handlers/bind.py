"""Binding a chat account to a member with a single-use invite code."""

from __future__ import annotations

from enum import StrEnum

from bot.core.domain import RoleKind
from bot.core.i18n import N_
from bot.core.names import clean_line
from bot.texts.phrases import ROLES
from handlers.base import Context, Replies, Router

router = Router("bind", title=N_("binding"))

MAX_NAME = 50


class Step(StrEnum):
    """The binding flow's one step, for members invited without a name."""

    NAME = "name"


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
        return [ctx.reply(t("Please send the invite code with it, e.g. /bind ABCD2345."))]
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
    if not member.name:
        ctx.begin(router.flow, Step.NAME)
        welcome = t("Welcome! You are bound to {org} as {roles}.", org=member.org.name, roles=roles)
        return [ctx.reply(f"{welcome}\n{_question(ctx)}", ctx.nav_buttons(back=False))]
    return [
        ctx.reply(
            t(
                "Welcome, {name}! You are bound to {org} as {roles}. Send /help to see what I can do.",
                name=member.name,
                org=member.org.name,
                roles=roles,
            )
        )
    ]


@router.step(Step.NAME, private=True)
def on_name(ctx: Context, text: str) -> Replies:
    """Stores the name of a member invited without one."""
    t = ctx.t
    # Shown to others (roll calls, lists): no bidi overrides or invisible characters.
    name = clean_line(text, limit=len(text))
    if not 1 <= len(name) <= MAX_NAME:
        problem = t("A name has 1 to {max} characters.", max=MAX_NAME)
        return [ctx.reply(f"{problem}\n{_question(ctx)}", ctx.nav_buttons(back=False))]
    assert ctx.member is not None
    ctx.member = ctx.services.give_name(ctx.member, name)
    ctx.end()
    return [
        ctx.reply(t("Thank you, {name}. Send /help to see what I can do.", name=ctx.member.name))
    ]


@router.back_handler
def on_back(ctx: Context) -> Replies:
    """Asks for the name again."""
    return [ctx.reply(_question(ctx), ctx.nav_buttons(back=False))]


def _question(ctx: Context) -> str:
    """Asks for the member's name."""
    return ctx.t("What is your name, as your branch knows you?")
