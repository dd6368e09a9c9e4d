"""The console channel: a real channel over standard input and output, for people and scripts."""

from __future__ import annotations

from bot.channels.console.channel import (
    CAPABILITIES,
    ConsoleChannel,
    save_document,
    terminal_lines,
)
from bot.channels.console.render import render, render_all
from bot.channels.console.sender import ConsoleSender

__all__ = [
    "CAPABILITIES",
    "ConsoleChannel",
    "ConsoleSender",
    "render",
    "render_all",
    "save_document",
    "terminal_lines",
]
