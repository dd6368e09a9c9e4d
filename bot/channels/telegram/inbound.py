"""Telegram updates in: which are meant for the assistant, as `Inbound`, one member at a time."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.ext import BaseUpdateProcessor

from bot.core.inbound import Capabilities, Channel, ChatKind, Inbound, Location

ALLOWED_UPDATES = ("message", "callback_query")
# Files and inline keyboards in private chats and groups.
CAPABILITIES = Capabilities(files=True, buttons=True, groups=True)

_COMMAND = re.compile(
    r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]+))?(?P<rest>(?:\s.*)?)$", re.DOTALL
)
_START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
# Pictures sent as files ("without compression") that are fetched; the core reads the type from
# the bytes, so the claim only spares downloading what is surely no photo.
PICTURE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
# Telegram recompresses every photo sent as a photo to JPEG.
PHOTO_TYPE = "image/jpeg"


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture a message carries: the file to fetch, or (no `file_id`) one not worth fetching.

    A picture over the size limit keeps its size and one of another type its type, so that the
    core refuses it with the reason.
    """

    file_id: str | None
    mime_type: str
    filename: str = ""
    size: int | None = None


def private_chat_of(user_id: str) -> str:
    """Returns the id of a user's private chat with the bot: on Telegram, the user's own id."""
    return user_id


def inbound_from_update(update: Update, *, bot_id: int, bot_username: str) -> Inbound | None:
    """Describes an update for the core; None when it is not meant for the assistant."""
    if update.callback_query is not None:
        return _inbound_from_query(update.callback_query)
    message = update.message
    if message is None or message.chat.type not in (ChatType.PRIVATE, *_GROUP_TYPES):
        return None
    group = message.chat.type in _GROUP_TYPES
    text = message.text or message.caption or ""
    addressed = not group
    command = _COMMAND.match(text)
    if command:
        target = command["bot"]
        if target and target.lower() != bot_username.lower():
            return None
        text = f"/{command['name']}{command['rest']}"
        addressed = True
    if group:
        mention = re.compile(rf"@{re.escape(bot_username)}\b", re.IGNORECASE)
        if mention.search(text):
            text = " ".join(mention.sub(" ", text).split())
            addressed = True
        replied = message.reply_to_message
        if replied and replied.from_user and replied.from_user.id == bot_id:
            addressed = True
    location = None
    if message.location is not None:
        label = message.venue.title if message.venue else ""
        location = Location(message.location.latitude, message.location.longitude, label)
    text = text.strip()
    # A sticker, voice message or video sent in private gets a note of what the assistant reads;
    # in a group it is left alone, as are service messages (a pin, a timer change). Photos and
    # files are evidence for a report (the channel fetches them). A text of blanks (a full-width
    # space) is still a text: it gets an answer.
    unsupported = (
        not text and location is None and message.text is None and not carries_picture(message)
    )
    if not addressed or (unsupported and (group or message.effective_attachment is None)):
        return None
    extra = {"message_id": str(message.message_id)}
    if message.is_topic_message and message.message_thread_id is not None:
        extra["thread_id"] = str(message.message_thread_id)
    sender, on_behalf = message.from_user, message.sender_chat
    if on_behalf is not None:
        # Anonymous admins and channels speak as a chat: no member can be identified.
        user_id, name, hint = str(on_behalf.id), on_behalf.title or "", None
    elif sender is not None:
        user_id, name, hint = str(sender.id), sender.full_name, sender.language_code
    else:
        return None
    return Inbound(
        channel=Channel.TELEGRAM,
        chat_id=str(message.chat.id),
        user_id=user_id,
        text=text,
        location=location,
        chat_kind=ChatKind.GROUP if group else ChatKind.PRIVATE,
        locale_hint=hint,
        display_name=name,
        anonymous_admin=on_behalf is not None,
        extra=extra,
        unsupported=unsupported,
        capabilities=CAPABILITIES,
        private_chat_id=private_chat_of(user_id) if on_behalf is None else None,
    )


def carries_picture(message: Message) -> bool:
    """Tells whether a message is a photo or a file (which may be a picture sent uncompressed)."""
    return bool(message.photo) or message.document is not None


def picture_of(message: Message, max_bytes: int) -> Picture | None:
    """Chooses what to fetch of a message's photo or file: the largest size within the limit."""
    if message.photo:
        # Sizes come smallest first; a size Telegram did not state is judged once fetched.
        fitting = [
            size for size in message.photo if size.file_size is None or size.file_size <= max_bytes
        ]
        if fitting:
            best = max(fitting, key=lambda size: (size.width * size.height, size.file_size or 0))
            return Picture(best.file_id, PHOTO_TYPE, size=best.file_size)
        smallest = min(size.file_size or 0 for size in message.photo)
        return Picture(None, PHOTO_TYPE, size=smallest)
    document = message.document
    if document is None:
        return None
    mime, name = (document.mime_type or "").lower(), document.file_name or ""
    if mime not in PICTURE_TYPES:
        return Picture(None, mime, name)
    if document.file_size is not None and document.file_size > max_bytes:
        return Picture(None, mime, name, document.file_size)
    return Picture(document.file_id, mime, name, document.file_size)


def _inbound_from_query(query: CallbackQuery) -> Inbound | None:
    """Describes a button press; its raw callback data still needs decoding."""
    if query.data is None:
        return None
    user, message = query.from_user, query.message
    chat = message.chat if message is not None else None
    group = chat is not None and chat.type in _GROUP_TYPES
    return Inbound(
        channel=Channel.TELEGRAM,
        chat_id=str(chat.id if chat is not None else user.id),
        user_id=str(user.id),
        button=query.data,
        chat_kind=ChatKind.GROUP if group else ChatKind.PRIVATE,
        locale_hint=user.language_code,
        display_name=user.full_name,
        extra={"message_id": str(message.message_id)} if message is not None else {},
        capabilities=CAPABILITIES,
        private_chat_id=private_chat_of(str(user.id)),
    )


def deep_link_for(username: str, code: str) -> str:
    """Builds the t.me link that opens the bot and sends `/start <code>`."""
    check_start_code(code)
    return f"https://t.me/{username}?start={code}"


def check_start_code(code: str) -> None:
    """Refuses what Telegram does not carry in a start parameter."""
    if not _START_PARAMETER.fullmatch(code):
        raise ValueError("a start code is 1-64 characters of A-Z, a-z, 0-9, _ and -")


class InOrderPerMember(BaseUpdateProcessor):
    """Processes updates concurrently, but one at a time and in order for each member."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Awaits `coroutine` once earlier updates of the same member are done."""
        key = _member_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        """Needs nothing."""

    async def shutdown(self) -> None:
        """Needs nothing."""


def _member_key(update: object) -> str:
    """Names whose conversation an update belongs to."""
    if isinstance(update, Update):
        if update.effective_user is not None:
            return f"user:{update.effective_user.id}"
        if update.effective_chat is not None:
            return f"chat:{update.effective_chat.id}"
    return "other"
