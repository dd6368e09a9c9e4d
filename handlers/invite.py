"""Invites: a secretary creates a single-use code for a new or existing member."""

from __future__ import annotations

from bot.core.domain import RoleKind
from bot.core.i18n import N_
from bot.texts.phrases import ROLE_WORDS, ROLES
from handlers.base import Context, Replies, Router

router = Router("invite", title=N_("invitation"))


@router.command(
    "invite",
    keywords=("邀请",),
    description=N_("Create an invite code"),
    leads_only=True,
)
def invite(ctx: Context, args: str) -> Replies:
    """Creates an invite for the secretary's organization: ROLE and an optional name."""
    t = ctx.t
    assert ctx.member is not None
    words = args.split(maxsplit=1)
    role = ROLE_WORDS.get(words[0].lower()) if words else RoleKind.MEMBER
    if role is None:
        return [
            ctx.reply(t("Unknown role. Use one of: member, liaison, committee, deputy, secretary."))
        ]
    name = words[1].strip() if len(words) > 1 else ""
    if len(name) > 100:
        return [ctx.reply(t("That name is too long."))]
    created = ctx.services.create_invite(
        actor=ctx.member, org_id=ctx.member.org.id, role=role, name=name
    )
    return [
        ctx.reply(
            t(
                "Invite for {role} of {org}{name}: {code}\nValid until {expires}. It works once: send it to the person, who replies /bind {code}.",
                role=t(ROLES[role]),
                org=created.org.name,
                name=t(" ({text})", text=name) if name else "",
                code=created.code,
                expires=f"{t.date(created.expires_at.date(), 'long')} {t.time(created.expires_at)}",
            )
        )
    ]
