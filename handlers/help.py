"""Help, the start command (which also binds with a code), and cancel."""

from __future__ import annotations

from bot.core.i18n import N_
from handlers.base import Context, Replies, Router
from handlers.bind import bind_with_code
from handlers.texts import flow_name

router = Router("help")

MEMBER_LINES = (
    N_("签到 CODE (/checkin): sign in to today's meeting"),
    N_("请假 (/leave): ask leave for the next meeting"),
    N_("汇报 (/report): report an activity for the ledger"),
    N_("谁主持 (/roster): who hosts this month or quarter"),
    N_("日程 (/next): my upcoming meetings"),
    N_("语言 (/lang): 中文 / English"),
    N_("取消 (/cancel): stop what you are doing"),
)
LEAD_LINES = (
    N_("开启签到 (/opencheckin): get today's check-in code"),
    N_("出勤 (/attendance): who signed in, who is on leave, who is missing"),
    N_("邀请 ROLE NAME (/invite): create an invite code"),
    N_("调整会议 (/setmeeting): change the next meeting's day, time or venue"),
    N_("调整轮值 (/override): change a duty slot, with a reason"),
)


@router.command(
    "help", keywords=("帮助", "菜单", "help"), description=N_("What I can do"), needs_member=False
)
def show_help(ctx: Context, _args: str) -> Replies:
    """Lists what the member can ask, with the secretary's commands for secretaries."""
    t = ctx.t
    if ctx.member is None:
        return [
            ctx.reply(
                t(
                    "Welcome to Gongjian (共建助手). To start, send 绑定 followed by the invite code your secretary gave you, e.g. 绑定 ABCD2345."
                )
            )
        ]
    lines = [t("Hello {name}. You can send:", name=ctx.member.name)]
    lines += [f"• {t(line)}" for line in MEMBER_LINES]
    if ctx.member.leads:
        lines.append(t("For secretaries:"))
        lines += [f"• {t(line)}" for line in LEAD_LINES]
    return [ctx.reply("\n".join(lines))]


@router.command(
    "start", keywords=(), description=N_("Start, or bind with an invite code"), needs_member=False
)
def start(ctx: Context, args: str) -> Replies:
    """Binds with the code of a deep link, or greets and shows the menu."""
    if args.strip():
        return bind_with_code(ctx, args)
    return show_help(ctx, "")


@router.command(
    "cancel", keywords=("取消",), description=N_("Stop what you are doing"), needs_member=False
)
def cancel(ctx: Context, _args: str) -> Replies:
    """Drops the current flow's draft."""
    if ctx.state is None:
        return [ctx.reply(ctx.t("There is nothing to cancel."))]
    name = flow_name(ctx.t, ctx.state.flow)
    ctx.end()
    return [ctx.reply(ctx.t("Cancelled the {flow}; nothing was stored.", flow=name))]
