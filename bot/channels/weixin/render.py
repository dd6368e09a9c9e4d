"""How the official account and the WeCom app show replies: numbered options in plain text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.channels.text import split_text, utf8_size
from bot.core.i18n import N_, Translator
from bot.core.inbound import Location
from bot.core.reply import Reply, numbered

# Text messages, passive or pushed, are cut by the platforms at 2,048 bytes.
MAX_TEXT_BYTES = 2000
OPTION_LINE = N_("Reply {number}: {label}")

_SCENE = re.compile(r"^[A-Za-z0-9]{1,16}$")
# Characters XML 1.0 forbids; a reply containing one would be rejected by the platform.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class Rendered:
    """Replies as numbered-option texts, and the button data each number stands for."""

    texts: tuple[str, ...]
    options: tuple[str, ...]
    # The delivery key that showed this to be a repeat; nothing was answered then.
    repeat: str | None = None


def render_numbered(replies: Sequence[Reply], t: Translator) -> Rendered:
    """Renders replies as texts with their buttons as numbered options, numbered across replies."""
    texts: list[str] = []
    options: list[str] = []
    for reply, choices in zip(replies, numbered(replies), strict=True):
        lines = [reply.text] if reply.text else []
        for number, button in choices:
            options.append(button.data)
            lines.append(t(OPTION_LINE, number=number, label=button.label))
        text = "\n".join(lines).strip()
        if text:
            texts.append(text)
    return Rendered(tuple(texts), tuple(options))


def start_command(scene: str | None) -> str:
    """Returns the start command for a follow, with the invite code of a scanned QR scene."""
    scene = (scene or "").strip()
    return f"/start {scene}" if _SCENE.fullmatch(scene) else "/start"


def shared_location(latitude: Any, longitude: Any, label: Any) -> Location | None:
    """Builds a shared location; None when the coordinates are not numbers on Earth."""
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Location(lat, lon, str(label or "")[:200])


def passive_text(*, to: str, sender: str, at: int, content: str, agent: str | None = None) -> str:
    """Renders a passive text reply as both platforms take it (WeCom's names its agent)."""
    # The fields wechatpy's TextReply writes, in one string instead of a class per reply.
    agent_id = f"<AgentID>{xml_text(agent)}</AgentID>" if agent else ""
    return (
        f"<xml><ToUserName><![CDATA[{xml_text(to)}]]></ToUserName>"
        f"<FromUserName><![CDATA[{xml_text(sender)}]]></FromUserName>"
        f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{xml_text(content)}]]></Content>{agent_id}</xml>"
    )


def xml_text(text: str) -> str:
    """Makes text safe inside a CDATA section: no illegal characters, no early `]]>`."""
    return _XML_ILLEGAL.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def split_message(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Cuts text into messages the platforms accept (at most `limit` UTF-8 bytes each)."""
    return split_text(text, limit=limit, size=utf8_size)
