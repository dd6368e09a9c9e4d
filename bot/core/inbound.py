"""What a channel hands to the core: one message from one person in one chat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class Channel(str):
    """A chat platform's name, as accounts and deliveries record it ("telegram", "wechat", …).

    Open rather than an enum: a channel package names itself, and nothing here changes when one
    is added. The platforms this project ships are spelled out below for the code that means them.
    """

    __slots__ = ()

    CONSOLE: ClassVar[Channel]
    TELEGRAM: ClassVar[Channel]
    WECHAT: ClassVar[Channel]
    WECOM: ClassVar[Channel]

    @property
    def value(self) -> str:
        """The name as plain text (what the database stores)."""
        return str.__str__(self)

    def __repr__(self) -> str:
        """Shows the name as `Channel('telegram')`."""
        return f"Channel({str.__repr__(self)})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: object, handler: Callable[[object], Any]
    ) -> dict[str, Any]:
        """Lets pydantic models (the tables) hold a channel: text, made a `Channel`."""
        # A plain core-schema dict, so that this module needs no third-party import.
        return {
            "type": "function-after",
            "function": {"type": "no-info", "function": cls},
            "schema": handler(str),
        }


Channel.CONSOLE = Channel("console")
Channel.TELEGRAM = Channel("telegram")
Channel.WECHAT = Channel("wechat")
Channel.WECOM = Channel("wecom")


class ChatKind(StrEnum):
    """Whether a message came from a private chat or a group."""

    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel's chats can show; flows read it from the inbound message to choose."""

    # A reply's document reaches the member as a file (else flows hand out a download link).
    files: bool = False
    # Buttons are shown as buttons; without them they are numbered options ("回复 1 …").
    buttons: bool = False
    # A typed number chooses among the options offered last (text-only channels).
    numbered_options: bool = False
    # Members also write in group chats, and private steps move to their private chat.
    groups: bool = False


# Text only: what a channel that declares nothing can show.
TEXT_ONLY = Capabilities()


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
    over the limit, so that nothing oversized is downloaded. `truncated`: the channel stopped
    reading once the photo passed the limit, so it is larger than `size` says.
    """

    content: bytes
    mime_type: str = ""
    filename: str = ""
    size: int | None = None
    truncated: bool = False

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
    # What the channel's chats can show (files, buttons), for flows that offer either.
    capabilities: Capabilities = TEXT_ONLY
    # The id of the sender's private chat, where private steps of a group flow continue;
    # None where the platform gives none (each channel knows its own rule).
    private_chat_id: str | None = None

    @property
    def is_group(self) -> bool:
        """Tells whether the message came from a group chat."""
        return self.chat_kind is ChatKind.GROUP
