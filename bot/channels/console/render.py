"""How the console shows replies: text, then each button as a numbered option."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.reply import Reply, numbered


def render(reply: Reply) -> str:
    """Renders one reply as text, its buttons as options numbered from 1."""
    [text] = render_all([reply])
    return text


def render_all(replies: Sequence[Reply]) -> list[str]:
    """Renders replies with one numbering across them, as typed numbers choose."""
    rendered: list[str] = []
    for reply, options in zip(replies, numbered(replies), strict=True):
        lines = [reply.text, *(f"  {number}. {button.label}" for number, button in options)]
        rendered.append("\n".join(lines))
    return rendered
