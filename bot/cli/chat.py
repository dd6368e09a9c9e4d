"""`gongjian chat`: the console channel on this terminal, or one message per line from a pipe."""

from __future__ import annotations

import getpass
import io
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.support import NowOption, fail, friendly, parse_now, settings_from_env
from bot.core.clock import FrozenClock
from bot.core.domain import RoleKind
from bot.core.inbound import Channel
from bot.demo import demo_invite
from bot.services.members import Members
from bot.texts.translation import translator

if TYPE_CHECKING:
    from bot.channels.console import ConsoleChannel
    from bot.engine.assistant import Assistant


def register(app: typer.Typer) -> None:
    """Mounts `gongjian chat` on the app."""
    app.command("chat")(chat)


@friendly
def chat(
    as_user: Annotated[
        str | None, typer.Option("--as", help="The console user id (default: your OS user name).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Your display name, used by invites without one.")
    ] = None,
    now: NowOption = None,
    demo_role: Annotated[
        str | None,
        typer.Option(
            "--demo-role",
            help="Bind first with an unused demo invite of this role (secretary, deputy, liaison, member).",
        ),
    ] = None,
) -> None:
    """Chats with the assistant on this terminal, or answers one message per line from a pipe."""
    from bot.channels.console import ConsoleChannel, terminal_lines  # noqa: PLC0415
    from bot.engine.assembly import build_assistant  # noqa: PLC0415 (loads every handler; only chat needs it)

    settings = settings_from_env()
    user_id = (as_user or os_user()).strip()
    if not user_id:
        fail("--as: the console user id cannot be empty")
    clock = FrozenClock(parse_now(settings, now), settings.tz) if now else None
    assistant = build_assistant(settings, clock=clock)
    channel = ConsoleChannel(assistant, user_id=user_id, display_name=name or user_id)
    _tolerant_streams()
    if demo_role is not None:
        _bind_demo(assistant, channel, demo_role)
    interactive = reads_terminal()
    t = translator(settings.default_locale)
    try:
        if interactive:
            typer.echo(t("Chatting as {user}. Send help for help; Ctrl-D ends.", user=user_id))
            channel.run(terminal_lines(), _write, prompt=False)
            _write("\n")
        else:
            channel.run(sys.stdin, _write, prompt=False, echo=True)
    except KeyboardInterrupt:
        _write("\n")
    finally:
        assistant.database.dispose()


def _bind_demo(assistant: Assistant, channel: ConsoleChannel, role_name: str) -> None:
    """Binds the console user with a demo invite of a role, unless it is already bound."""
    from bot.channels.console import render  # noqa: PLC0415

    try:
        role = RoleKind(role_name.strip().lower())
    except ValueError:
        fail(
            f"--demo-role: unknown role {role_name!r}; use secretary, deputy, committee, liaison or member"
        )
    now = assistant.clock.now()
    with assistant.database.session() as session:
        bound = Members(session, now).for_account(
            channel=Channel.CONSOLE, external_id=channel.user_id, seen=False
        )
        code = None if bound else demo_invite(session, role, now)
    if bound:
        return
    if code is None:
        fail(
            f"--demo-role: no unused demo invite for {role.value} is left; run `gongjian demo` first"
        )
    for reply in channel.send(f"绑定 {code}"):
        _write(render(reply) + "\n")


def reads_terminal() -> bool:
    """Tells whether standard input is a person at a terminal rather than a pipe or file."""
    return sys.stdin.isatty()


def os_user() -> str:
    """Returns the operating system's user name, or `console` when there is none."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "console"


def _tolerant_streams() -> None:
    """Keeps odd bytes or a non-UTF-8 terminal from ending the chat with an encoding error."""
    for stream in (sys.stdin, sys.stdout):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def _write(text: str) -> None:
    """Writes console output at once, so a program on the other end of a pipe sees each reply."""
    sys.stdout.write(text)
    sys.stdout.flush()
