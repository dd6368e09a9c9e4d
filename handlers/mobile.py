"""Mobile members' three reports (三报告): a secretary marks a move, the member files reports."""

from __future__ import annotations

from bot.core.i18n import N_, Translator
from bot.services.mobility import MovementView
from handlers.base import Context, Replies, Router

router = Router("mobile", title=N_("mobile members' reports"))

DIRECTIONS = {
    "外出": "leaving",
    "离开": "leaving",
    "leaving": "leaving",
    "到达": "arriving",
    "流入": "arriving",
    "arriving": "arriving",
}
REPORT_WORDS = {
    "去向": "whereabouts",
    "whereabouts": "whereabouts",
    "报到": "arrival",
    "到达": "arrival",
    "arrival": "arrival",
    "单位": "workplace",
    "workplace": "workplace",
}
REPORTS = {
    "whereabouts": N_("report of where you are going (去向)"),
    "arrival": N_("report on arrival at the new place (报到)"),
    "workplace": N_("report to the party organization of your workplace (单位)"),
}


def _owed_line(t: Translator, movement: MovementView) -> str:
    """Says which reports are still owed, or that none are."""
    if not movement.owed:
        return t("All reports for this move are filed.")
    return t("Still owed: {reports}.", reports=t.join([t(REPORTS[kind]) for kind in movement.owed]))


@router.command(
    "mobile",
    keywords=("流动",),
    description=N_("Mark a member as leaving or arrived"),
    leads_only=True,
)
def mark(ctx: Context, args: str) -> Replies:
    """Marks a branch member as a mobile member leaving or arriving, so the reports are owed."""
    t = ctx.t
    assert ctx.member is not None
    words = args.split(maxsplit=2)
    if len(words) < 2 or words[1].lower() not in DIRECTIONS:
        return [
            ctx.reply(t("Usage: /mobile NAME leaving [PLACE] or /mobile NAME arriving [PLACE]."))
        ]
    name, direction = words[0], DIRECTIONS[words[1].lower()]
    place = words[2] if len(words) > 2 else ""
    movement = ctx.services.mobility.mark(ctx.member, name=name, direction=direction, place=place)
    return [
        ctx.reply(
            t(
                "Marked {name} as a mobile member. I will remind them of their reports.",
                name=movement.member_name,
            )
            + "\n"
            + _owed_line(t, movement)
        )
    ]


@router.command(
    "mobilereport",
    keywords=("流动报告",),
    description=N_("File a mobile member's report"),
)
def file_report(ctx: Context, args: str) -> Replies:
    """Records one of the member's three reports as filed."""
    t = ctx.t
    assert ctx.member is not None
    kind = REPORT_WORDS.get(args.strip().lower())
    if kind is None:
        return [
            ctx.reply(
                t(
                    "Usage: /mobilereport whereabouts, /mobilereport arrival or /mobilereport workplace."
                )
            )
        ]
    movement = ctx.services.mobility.report(ctx.member, kind)
    if movement is None:
        return [ctx.reply(t("No move of yours owes that report (or it is already filed)."))]
    return [
        ctx.reply(
            t("Thank you, your {report} is recorded.", report=t(REPORTS[kind]))
            + "\n"
            + _owed_line(t, movement)
        )
    ]
