"""The console channel: numbered options and files, as a channel behind the interface."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.channels.console import CAPABILITIES, ConsoleChannel, render_all
from bot.core.channel import ChatChannel
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel
from bot.core.reply import Button, Reply
from bot.engine.assistant import Assistant
from tests.factories import World


def run_once(assistant: Assistant, lines: list[str], user_id: str = "u-m1") -> str:
    """Runs `gongjian chat` once over some lines: a fresh channel, as a new process has."""
    out: list[str] = []
    channel = ConsoleChannel(assistant, user_id=user_id)
    channel.run(lines, out.append, prompt=False)
    return "".join(out)


def test_numbered_options_survive_from_one_run_to_the_next(
    assistant: Assistant, world: World
) -> None:
    run_once(assistant, [f"绑定 {world.invites['m1']}", "/lang en"])
    first = run_once(assistant, ["汇报"])
    assert "Which kind of activity" in first and "  1. " in first
    # A new run: the draft was kept, and so are the options it offered.
    second = run_once(assistant, ["1"])
    assert "On which day" in second, second


def test_numbers_expire_with_the_conversation(
    assistant: Assistant, world: World, clock: FrozenClock
) -> None:
    run_once(assistant, [f"绑定 {world.invites['m1']}", "/lang en"])
    run_once(assistant, ["汇报"])
    clock.advance(timedelta(hours=2))
    assert "On which day" not in run_once(assistant, ["1"])


def test_one_numbering_across_replies() -> None:
    replies = [
        Reply("first", buttons=((Button("a", "A"), Button("b", "B")),)),
        Reply("plain"),
        Reply("second", buttons=((Button("c", "C"),),)),
    ]
    assert render_all(replies) == ["first\n  1. a\n  2. b", "plain", "second\n  3. c"]


def test_the_console_is_a_channel(assistant: Assistant, tmp_path: Path) -> None:
    channel: ChatChannel = ConsoleChannel(assistant, user_id="u-1", files_dir=tmp_path)
    assert channel.channel == Channel.CONSOLE and channel.routes == ()
    assert channel.capabilities is CAPABILITIES and CAPABILITIES.files
    assert channel.sender.channel == Channel.CONSOLE
