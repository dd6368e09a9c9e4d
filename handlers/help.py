"""Help, the start command (which also binds with a code), and cancel."""

from __future__ import annotations

from bot.core.i18n import N_
from handlers.base import Context, Replies, Router
from handlers.bind import bind_with_code

router = Router("help", title=N_("help"))

# Shown in the menu with their argument, so people see what to type after the keyword.
USAGE: dict[str, str] = {
    "checkin": "签到 123456",
    "invite": "邀请 联络员 张三",
    "roster": "谁主持 下季度",
    "bind": "绑定 CODE",
    "status": "达标 上季度",
    "ledger": "台账 2026Q3",
    "attendance": "出勤 本季度",
    "mobile": "流动 张三 外出",
    "mobilereport": "流动报告 去向",
}
HIDDEN = frozenset({"start", "bind", "help"})


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
    lead_lines: list[str] = []
    # Cancel goes last: it is about the other commands.
    ordered = sorted(ctx.commands, key=lambda command: command.name == "cancel")
    for command in ordered:
        if command.name in HIDDEN:
            continue
        said = USAGE.get(command.name) or (
            command.keywords[0] if command.keywords else f"/{command.name}"
        )
        line = t(
            "• {said} (/{name}): {description}",
            said=said,
            name=command.name,
            description=t(command.description),
        )
        if command.leads_only:
            lead_lines.append(line)
        else:
            lines.append(line)
    if ctx.member.leads and lead_lines:
        lines.append(t("For secretaries:"))
        lines += lead_lines
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
    name = ctx.flow_name(ctx.state.flow)
    ctx.end()
    return [ctx.reply(ctx.t("Cancelled the {flow}; nothing was stored.", flow=name))]
