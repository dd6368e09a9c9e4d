"""Replies out to Telegram: split under the length limit, buttons as inline keyboards, files."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
)
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.channels.telegram.limits import retry_after_of
from bot.channels.text import split_text, text_size, utf16_size
from bot.core.inbound import Inbound
from bot.core.ports import DeliveryStatus, SendResult
from bot.core.reply import Reply

logger = logging.getLogger(__name__)

MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)
_MENU_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


def split_message(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cuts text into messages Telegram accepts (it counts UTF-16 code units)."""
    return split_text(text, limit=limit, size=utf16_size)


def text_length(text: str) -> int:
    """Counts text as Telegram does, in UTF-16 code units."""
    return text_size(text, utf16_size)


class CallbackData:
    """Fits button data into Telegram's 64-byte callback_data, remembering longer data by digest."""

    PREFIX = "~"

    def __init__(self, capacity: int = 10_000) -> None:
        self._long: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def encode(self, data: str) -> str:
        """Returns callback data for `data`: itself when it fits, else a digest token."""
        if len(data.encode()) <= MAX_CALLBACK_DATA and not data.startswith(self.PREFIX):
            return data
        digest = hashlib.sha256(data.encode()).digest()
        token = self.PREFIX + base64.urlsafe_b64encode(digest).decode()[:32]
        logger.warning("Button data over %d bytes kept in memory only", MAX_CALLBACK_DATA)
        self._long[token] = data
        self._long.move_to_end(token)
        while len(self._long) > self._capacity:
            self._long.popitem(last=False)
        return token

    def decode(self, raw: str) -> str | None:
        """Returns the button data behind callback data; None when it is forgotten (expired)."""
        if not raw.startswith(self.PREFIX):
            return raw
        return self._long.get(raw)


def keyboard_for(reply: Reply, callback_data: CallbackData) -> InlineKeyboardMarkup | None:
    """Renders a reply's buttons as an inline keyboard, or None when it has none."""
    rows = [
        [
            InlineKeyboardButton(button.label, callback_data=callback_data.encode(button.data))
            for button in row
        ]
        for row in reply.buttons
        if row
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def chat_id_of(value: str) -> int | str:
    """Turns a stored chat id back into what the Bot API expects."""
    try:
        return int(value)
    except ValueError:
        return value


async def send_reply(
    bot: Bot,
    chat: str,
    reply: Reply,
    callback_data: CallbackData,
    *,
    quote: str | None = None,
    thread: str | None = None,
) -> None:
    """Sends one reply, split under the length limit, keyboard on the last part, then its file."""
    chunks = split_message(reply.text)
    if not chunks and reply.document is None:
        logger.warning("Skipping a reply without text")
        return
    keyboard = keyboard_for(reply, callback_data)
    for index, chunk in enumerate(chunks):
        await bot.send_message(
            chat_id=chat_id_of(chat),
            text=chunk,
            reply_markup=keyboard if index == len(chunks) - 1 else None,
            reply_parameters=(
                ReplyParameters(int(quote), allow_sending_without_reply=True)
                if quote and index == 0
                else None
            ),
            message_thread_id=int(thread) if thread else None,
        )
    if reply.document is not None:
        await bot.send_document(
            chat_id=chat_id_of(chat),
            document=InputFile(reply.document.content, filename=reply.document.filename),
            message_thread_id=int(thread) if thread else None,
        )


async def push_reply(bot: Bot, chat: str, reply: Reply, callback_data: CallbackData) -> SendResult:
    """Pushes a reply to a chat, reporting flood waits and blocked chats instead of raising."""
    try:
        await send_reply(bot, chat, reply, callback_data)
    except ChatMigrated as exc:
        # A group became a supergroup: deliver there and tell the outbox the new id.
        result = await push_reply(bot, str(exc.new_chat_id), reply, callback_data)
        return replace(result, detail=f"chat migrated to {exc.new_chat_id}")
    except RetryAfter as exc:
        return SendResult(DeliveryStatus.RETRY, "flood control", retry_after=retry_after_of(exc))
    except (Forbidden, BadRequest) as exc:
        return SendResult(DeliveryStatus.UNDELIVERABLE, exc.message)
    except TelegramError as exc:
        return SendResult(DeliveryStatus.RETRY, exc.message)
    return SendResult(DeliveryStatus.SENT)


async def mark_choice(message: Message, data: str | None) -> None:
    """Replaces a pressed keyboard with the chosen label (or removes it when that won't fit)."""
    label = pressed_label(message, data)
    try:
        if message.text and label and text_length(message.text) + len(label) + 3 <= MAX_TEXT:
            await message.edit_text(f"{message.text}\n\n✓ {label}", reply_markup=None)
        else:
            await message.edit_reply_markup(reply_markup=None)
    except TelegramError as exc:
        logger.debug("Could not mark the chosen button: %s", exc.message)


def pressed_label(message: Message, data: str | None) -> str | None:
    """Finds the label of the button whose callback data was pressed."""
    markup = message.reply_markup
    if markup is None or data is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def menu_commands(menu: list[tuple[str, str]]) -> list[BotCommand]:
    """Turns (command, description) pairs into Bot API commands, leaving invalid ones out."""
    commands = [
        BotCommand(command.removeprefix("/"), description[:256])
        for command, description in menu
        if _MENU_COMMAND.fullmatch(command.removeprefix("/")) and description
    ]
    if len(commands) != len(menu):
        logger.warning("Left %d invalid commands out of the menu", len(menu) - len(commands))
    return commands


class ReplyQueue:
    """Sends each update's replies in the background, in order per chat, as the limiter allows."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._pending: set[asyncio.Task[None]] = set()

    def add(self, inbound: Inbound, sending: Coroutine[Any, Any, None]) -> None:
        """Queues the sending of one update's replies behind earlier ones to the same chats."""
        # A group message's private replies go to the member's own chat: both keep their order.
        chats = {inbound.chat_id, inbound.user_id} if inbound.is_group else {inbound.chat_id}
        earlier = [self._tails[chat] for chat in chats if chat in self._tails]
        task = asyncio.create_task(self._after(earlier, sending))
        self._pending.add(task)
        for chat in chats:
            self._tails[chat] = task
        task.add_done_callback(lambda done: self._forget(done, chats))

    async def drain(self) -> None:
        """Waits until every queued reply has been sent (or has failed)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    @staticmethod
    async def _after(
        earlier: Sequence[asyncio.Task[None]], sending: Coroutine[Any, Any, None]
    ) -> None:
        """Sends once the earlier replies to the same chats are out; failures are logged."""
        if earlier:
            await asyncio.wait(earlier)
        try:
            await sending
        except Exception:
            logger.exception("Telegram replies could not be sent")

    def _forget(self, task: asyncio.Task[None], chats: set[str]) -> None:
        """Drops a finished sending from the queue."""
        self._pending.discard(task)
        for chat in chats:
            if self._tails.get(chat) is task:
                del self._tails[chat]
