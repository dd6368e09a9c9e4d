"""The member's private calendar link: get one, get a new one, or revoke it."""

from __future__ import annotations

from dataclasses import replace

from bot.core.i18n import N_
from bot.core.reply import Button
from bot.services.calendar_feed import CalendarLink, LinkState
from handlers.base import Context, Replies, Router

router = Router("calendar", title=N_("calendar subscription"))

REVOKE_WORDS = frozenset({"revoke", "stop", "撤销", "停用", "作废"})
RENEW_WORDS = frozenset({"new", "renew", "新", "新链接", "更换", "重置"})


@router.command(
    "calendar",
    keywords=("日历",),
    description=N_("My private calendar link for my calendar app"),
)
def calendar(ctx: Context, args: str) -> Replies:
    """Gives the member a calendar link, a new one, or revokes it, as the argument says."""
    assert ctx.member is not None
    word = args.strip().lower()
    if word in REVOKE_WORDS:
        return _revoke(ctx)
    if word and word not in RENEW_WORDS:
        return [ctx.reply(_usage(ctx))]
    link = ctx.services.calendar_link(ctx.member, renew=bool(word))
    return _answer(ctx, link)


def _usage(ctx: Context) -> str:
    """Explains the calendar command's words."""
    return ctx.t(
        "Send /calendar for your calendar link, /calendar new for a new one, or /calendar revoke to revoke it."
    )


def _answer(ctx: Context, link: CalendarLink) -> Replies:
    """Shows a new link (privately in a group), says one is live, or that links are off."""
    t = ctx.t
    if link.state is LinkState.UNCONFIGURED:
        return [
            ctx.reply(
                t(
                    "Calendar links are not available yet: the operator must set"
                    " GONGJIAN_PUBLIC_BASE_URL."
                )
            )
        ]
    if link.state is LinkState.ACTIVE:
        assert link.since is not None
        return [
            ctx.reply(
                t(
                    "You already have a calendar link, made on {date}. For your safety I do not"
                    " keep it, so I cannot show it again. Get a new one (the old one stops"
                    " working) or revoke it.",
                    date=t.date(link.since.date(), "long"),
                ),
                [Button(t("New link"), "日历 新"), Button(t("Revoke"), "日历 撤销")],
            )
        ]
    reply = ctx.reply(
        t(
            "Your private calendar link:\n{url}\nSubscribe to it in your calendar app (it shows"
            " your branch's meetings and your alliance's duty rota). Keep it to yourself: anyone"
            " with the link sees your meetings. Send /calendar revoke to revoke it.",
            url=link.url,
        )
    )
    if ctx.inbound.is_group:
        return [
            ctx.reply(t("I've sent your calendar link to you in a private chat.")),
            replace(reply, private=True),
        ]
    return [reply]


def _revoke(ctx: Context) -> Replies:
    """Revokes the member's calendar links."""
    assert ctx.member is not None
    if ctx.services.revoke_calendar(ctx.member) == 0:
        return [ctx.reply(ctx.t("You have no calendar link to revoke."))]
    return [
        ctx.reply(
            ctx.t(
                "Your calendar link is revoked: calendars subscribed to it stop updating."
                " Send /calendar for a new one."
            )
        )
    ]
