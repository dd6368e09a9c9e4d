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
class InboundImage:
    """A photo a member sent: its bytes as the platform delivered them, or only its size.

    A channel that learns the size first (Telegram, WeChat) leaves `content` empty for a photo
    over the limit, so that nothing oversized is downloaded.
    """

    content: bytes
    mime_type: str = ""
    filename: str = ""
    size: int | None = None

    @property
    def byte_size(self) -> int:
        """The photo's size: the bytes held, else the size the platform declared."""
        return len(self.content) if self.content else (self.size or 0)


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
    # Photos sent as evidence for a report (a report can carry them; see handlers/photos.py).
    images: tuple[InboundImage, ...] = ()

    @property
    def is_group(self) -> bool:
        """Tells whether the message came from a group chat."""
        return self.chat_kind is ChatKind.GROUP
