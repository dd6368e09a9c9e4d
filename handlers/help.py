"""Help, the start command (which also binds with a code), and cancel."""

from __future__ import annotations

from bot.core.i18n import N_
from handlers.base import Command, Context, Replies, Router
from handlers.bind import bind_with_code

router = Router("help", title=N_("help"))

# Shown in the menu with their argument, so people see what to type; in Chinese with the
# keyword ("签到 123456"), in English with the command ("/checkin 123456").
USAGE: dict[str, str] = {
    "checkin": N_("/checkin 123456"),
    "invite": N_("/invite liaison Zhang San"),
    "roster": N_("/roster next quarter"),
    "bind": N_("/bind CODE"),
    "status": N_("/status last quarter"),
    "ledger": N_("/ledger 2026Q3"),
    "attendance": N_("/attendance this quarter"),
    "mobile": N_("/mobile Zhang San leaving"),
    "mobilereport": N_("/mobilereport whereabouts"),
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
                    "Welcome to Gongjian (共建助手). To start, send /bind followed by the invite"
                    " code your secretary gave you, e.g. /bind ABCD2345."
                )
            )
        ]
    member = ctx.member
    lines = [
        t("Hello {name}. You can send:", name=member.name) if member.name else t("You can send:")
    ]
    lead_lines: list[str] = []
    # Cancel goes last: it is about the other commands.
    ordered = sorted(ctx.commands, key=lambda command: command.name == "cancel")
    for command in ordered:
        if command.name in HIDDEN or not command.usable_by(member):
            continue
        line = help_line(ctx, command)
        if command.leads_only:
            lead_lines.append(line)
        else:
            lines.append(line)
    if lead_lines:
        lines.append(t("For secretaries and deputy secretaries:"))
        lines += lead_lines
    return [ctx.reply("\n".join(lines))]


def help_line(ctx: Context, command: Command) -> str:
    """One line of the menu: what to send, the command, and what it does."""
    t = ctx.t
    said = t(USAGE[command.name]) if command.name in USAGE else f"/{command.name}"
    if said.startswith("/"):
        if command.keywords and t.locale.startswith("zh"):
            said = command.keywords[0]
        else:
            return t("• {said}: {description}", said=said, description=t(command.description))
    return t(
        "• {said} (/{name}): {description}",
        said=said,
        name=command.name,
        description=t(command.description),
    )


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
