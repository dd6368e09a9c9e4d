"""What a channel hands to the core: one message from one person in one chat."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    """The chat platforms the assistant speaks on."""

    CONSOLE = "console"
    TELEGRAM = "telegram"
    WECHAT = "wechat"
    WECOM = "wecom"


class ChatKind(StrEnum):
    """Whether a message came from a private chat or a group."""

    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Location:
    """A point a member shared, in WGS84 degrees."""

    latitude: float
    longitude: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message, button press or shared location, as every channel describes it."""

    channel: Channel
    chat_id: str
    user_id: str
    text: str = ""
    button: str | None = None
    location: Location | None = None
    chat_kind: ChatKind = ChatKind.PRIVATE
    locale_hint: str | None = None
    display_name: str = ""
    anonymous_admin: bool = False
    # Content the assistant cannot read (an image, a file, an unhandled event): only its
    # delivery is recorded, and the core answers with a note of what it can read (an event,
    # marked in `extra`, with nothing).
    unsupported: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        """Tells whether the message came from a group chat."""
        return self.chat_kind is ChatKind.GROUP
