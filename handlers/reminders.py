"""Reminders from the member's side: mute and unmute nudges, what the branch owes, reports filed."""

from __future__ import annotations

from bot.calendar.quarters import Quarter
from bot.core.domain import RoleKind
from bot.core.i18n import N_
from bot.services.errors import ServiceError
from bot.services.reminders import FilingKind, parse_filing_kind, reminders_for
from bot.texts.reminders import period_label, render_pending
from handlers.base import Context, Replies, Router

router = Router("reminders", title=N_("reminders"))


@router.command(
    "mute",
    keywords=("免打扰",),
    description=N_("Mute nudges (the organization-life day and duty notices still come)"),
)
def mute(ctx: Context, _args: str) -> Replies:
    """Mutes the member's non-essential nudges."""
    t = ctx.t
    assert ctx.member is not None
    if not reminders_for(ctx.services).set_muted(ctx.member, muted=True):
        return [ctx.reply(t("Nudges are already muted. Send /unmute to get them again."))]
    return [
        ctx.reply(
            t(
                "Muted. You will still get the organization-life day reminders and your"
                " organization's duty notices. Send /unmute to undo."
            )
        )
    ]


@router.command("unmute", keywords=("取消免打扰",), description=N_("Get all nudges again"))
def unmute(ctx: Context, _args: str) -> Replies:
    """Turns the member's nudges back on."""
    t = ctx.t
    assert ctx.member is not None
    if not reminders_for(ctx.services).set_muted(ctx.member, muted=False):
        return [ctx.reply(t("Nudges are not muted; you get all of them."))]
    return [ctx.reply(t("Nudges are on again."))]


@router.command(
    "pending",
    keywords=("待办",),
    description=N_("What the branch still owes this quarter"),
    roles=frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.LIAISON}),
)
def pending(ctx: Context, _args: str) -> Replies:
    """Lists what the member's organization still owes, as the reminder rules see it."""
    t = ctx.t
    member = ctx.member
    assert member is not None
    if not (member.leads or RoleKind.LIAISON in member.roles):
        raise ServiceError("not_lead_or_liaison")
    items = reminders_for(ctx.services).pending(member)
    quarter = period_label(t, str(Quarter.of(ctx.today)))
    if not items:
        return [
            ctx.reply(
                t("{org} owes nothing for {quarter} so far.", org=member.org.name, quarter=quarter)
            )
        ]
    lines = [t("{org} still owes, {quarter}:", org=member.org.name, quarter=quarter)]
    lines += [f"• {render_pending(t, item)}" for item in items]
    return [ctx.reply("\n".join(lines))]


@router.command(
    "submitted",
    keywords=("已报送",),
    description=N_("Mark this quarter's ledger, plan or summary as submitted"),
    leads_only=True,
)
def submitted(ctx: Context, args: str) -> Replies:
    """Records that the quarter's ledger, the annual plan or the year-end summary was submitted."""
    t = ctx.t
    member = ctx.member
    assert member is not None
    kind = parse_filing_kind(args)
    if kind is None:
        return [
            ctx.reply(
                t(
                    "Send /submitted for this quarter's ledger, /submitted plan for the annual work plan,"
                    " or /submitted summary for the year-end summary."
                )
            )
        ]
    result = reminders_for(ctx.services).file(member, kind)
    if kind is FilingKind.LEDGER:
        fields = {"org": member.org.name, "quarter": period_label(t, result.period)}
        if not result.new:
            return [
                ctx.reply(
                    t("The {quarter} ledger of {org} was already marked submitted.", **fields)
                )
            ]
        return [
            ctx.reply(
                t(
                    "Marked the {quarter} ledger of {org} as submitted; its reminders stop.",
                    **fields,
                )
            )
        ]
    if not result.groups:
        return [
            ctx.reply(
                t(
                    "{org} leads no alliance or pairing now, so it files no annual plan or summary.",
                    org=member.org.name,
                )
            )
        ]
    groups = ", ".join(result.groups)
    if kind is FilingKind.ANNUAL_PLAN:
        return [
            ctx.reply(
                t(
                    "Marked the {year} annual work plan as submitted for: {groups}.",
                    year=result.period,
                    groups=groups,
                )
            )
        ]
    return [
        ctx.reply(
            t(
                "Marked the {year} year-end summary as submitted for: {groups}.",
                year=result.period,
                groups=groups,
            )
        )
    ]
