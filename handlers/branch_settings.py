"""The secretary's own branch settings in chat: org-life time and venue, holiday policy, liaison."""

from __future__ import annotations

from bot.calendar.orglife import HolidayPolicy
from bot.core.i18n import N_, Translator
from bot.services.structure import BranchSettings
from handlers.base import Context, Replies, Router

router = Router("branch_settings", title=N_("branch settings"))

SETTING_NAMES: dict[str, str] = {
    "orglife.time": N_("Organization-life time"),
    "orglife.venue": N_("Organization-life venue"),
    "holiday_policy": N_("On a statutory holiday"),
    "liaison": N_("Liaison officer"),
}
POLICIES: dict[str, str] = {
    HolidayPolicy.KEEP.value: N_("keep the day"),
    HolidayPolicy.NEXT_WORKDAY.value: N_("move to the next working day"),
}


@router.command(
    "settings",
    keywords=("支部设置",),
    description=N_("See or change the branch's org-life time, venue, holiday policy, liaison"),
    leads_only=True,
)
def settings(ctx: Context, args: str) -> Replies:
    """Shows the branch settings, or changes one: 支部设置 时间 14:30."""
    t = ctx.t
    assert ctx.member is not None
    key, _, value = args.strip().partition(" ")
    if not key:
        return [
            ctx.reply(describe(t, ctx.member.org.name, ctx.services.branch_settings(ctx.member)))
        ]
    if not value.strip():
        return [ctx.reply(usage(t))]
    canonical, stored = ctx.services.set_branch_setting(ctx.member, key=key, value=value)
    shown = t(POLICIES[stored]) if canonical == "holiday_policy" else stored
    return [
        ctx.reply(t("{setting} is now: {value}", setting=t(SETTING_NAMES[canonical]), value=shown))
    ]


def describe(t: Translator, org: str, current: BranchSettings) -> str:
    """Lists a branch's settings and how to change them."""
    liaisons = "、".join(current.liaisons) or t("none named")
    lines = [
        t("Settings of {org}:", org=org),
        f"• {t(SETTING_NAMES['orglife.time'])}: {current.orglife_time}",
        f"• {t(SETTING_NAMES['orglife.venue'])}: {current.orglife_venue or '-'}",
        f"• {t(SETTING_NAMES['holiday_policy'])}: {t(POLICIES[current.holiday_policy.value])}",
        f"• {t(SETTING_NAMES['liaison'])}: {liaisons}",
        "",
        usage(t),
    ]
    return "\n".join(lines)


def usage(t: Translator) -> str:
    """Explains how to change a setting."""
    return t(
        "Change one with 支部设置 followed by 时间 14:30, 地点 党群服务中心, 节假日 顺延 (or 照常),"
        " or 联络员 and a member's name."
    )
