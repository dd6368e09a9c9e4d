"""The Telegram channel: python-telegram-bot updates in, `Reply` objects out, pushes for the outbox."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeAlias

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackContext, ExtBot, TypeHandler

from bot.channels.answers import answer_of
from bot.channels.http import refusals
from bot.channels.ratelimit import RateLimiter
from bot.channels.telegram.inbound import (
    ALLOWED_UPDATES,
    CAPABILITIES,
    InOrderPerMember,
    Picture,
    check_start_code,
    deep_link_for,
    inbound_from_update,
    picture_of,
)
from bot.channels.telegram.limits import LimitedRequests, telegram_rate_limiter
from bot.channels.telegram.logs import quiet_library_logs, redact_in_logs
from bot.channels.telegram.outbound import (
    CallbackData,
    ReplyQueue,
    chat_id_of,
    mark_choice,
    menu_commands,
    push_reply,
    send_reply,
)
from bot.config import ConfigError, Settings
from bot.core.i18n import N_, SUPPORTED_LOCALES, Translator
from bot.core.inbound import Channel, Inbound, InboundImage
from bot.core.ports import Core, SendResult
from bot.core.reply import Reply
from handlers.photos import UNFETCHED

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_HEADER = "X-Telegram-Bot-Api-Secret-Token"

APOLOGY = N_("Sorry, something went wrong. Please try again.")
BUTTON_EXPIRED = N_("This button has expired. Please start again.")
PRIVATE_CHAT_FIRST = N_(
    "I can't message you privately yet. Open a private chat with me, press Start, then try again."
)
OPEN_PRIVATE_CHAT = N_("Open private chat")

Context: TypeAlias = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]
TelegramApp: TypeAlias = Application[
    ExtBot[None], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]

_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class TelegramChannel:
    """Runs one Telegram bot: polling or webhook in, core replies out, pushes for the outbox."""

    name = "telegram"
    channel: Channel = Channel.TELEGRAM
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: Settings,
        core: Core,
        *,
        limiter: RateLimiter | None = None,
        poll_timeout: float = 30.0,
        max_concurrent_updates: int = 64,
    ) -> None:
        if settings.telegram_token is None:
            raise ConfigError("GONGJIAN_TELEGRAM_TOKEN: required for the Telegram channel")
        token = settings.telegram_token.get_secret_value()
        secret = settings.telegram_webhook_secret
        self._secret = secret.get_secret_value() if secret else ""
        if settings.telegram_webhook_url and not _WEBHOOK_SECRET.fullmatch(self._secret):
            raise ConfigError(
                "GONGJIAN_TELEGRAM_WEBHOOK_SECRET: use 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        redact_in_logs(token, self._secret)
        quiet_library_logs()
        self._core = core
        self._webhook_url = settings.telegram_webhook_url
        self._default_locale = settings.default_locale
        self._photo_max_bytes = settings.photo_max_bytes
        self._poll_timeout = poll_timeout
        self._callback_data = CallbackData()
        self._username = ""
        self._bot_id = 0
        self._ready = False
        self._outgoing = ReplyQueue()
        builder = (
            Application.builder()
            .token(token)
            .base_url(settings.telegram_base_url)
            .base_file_url(_file_url(settings.telegram_base_url))
            .rate_limiter(LimitedRequests(limiter or telegram_rate_limiter()))
            .concurrent_updates(InOrderPerMember(max_concurrent_updates))
            .job_queue(None)
        )
        if self._webhook_url:
            builder = builder.updater(None)
        self.application: TelegramApp = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    @property
    def bot(self) -> ExtBot[None]:
        """The python-telegram-bot client (initialized by `start`)."""
        return self.application.bot

    @property
    def sender(self) -> TelegramChannel:
        """Pushes through this bot (the channel sends its own pushes)."""
        return self

    @property
    def webhook_mode(self) -> bool:
        """Tells whether updates arrive by webhook rather than long polling."""
        return bool(self._webhook_url)

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """The HTTP routes this channel serves: the webhook, in webhook mode."""
        if not self.webhook_mode:
            return []
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    def deep_link(self, code: str) -> str:
        """Builds the invite link for `code` (after `start`)."""
        return deep_link_for(self._username, code)

    async def start(self, *, receive: bool = True) -> None:
        """Checks the token, sets the command menus, then polls or registers the webhook.

        Without `receive` only the Bot API client opens, for pushes.
        """
        if not receive:
            await self.application.initialize()
            return
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        logger.info(
            "Telegram bot @%s is up (%s)",
            self._username,
            "webhook" if self._webhook_url else "long polling",
        )

    async def _start(self) -> None:
        """Starts the application and the chosen way of receiving updates."""
        app = self.application
        await app.initialize()
        self._username, self._bot_id = self.bot.username, self.bot.id
        await self._set_commands()
        await app.start()
        if self._webhook_url:
            await self.bot.set_webhook(
                self._webhook_url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
            )
        else:
            assert app.updater is not None  # built with an updater whenever there is no webhook
            await app.updater.start_polling(
                timeout=timedelta(seconds=self._poll_timeout), allowed_updates=ALLOWED_UPDATES
            )
        self._ready = True

    async def stop(self) -> None:
        """Stops polling, finishes the updates in hand, sends their replies, closes the client."""
        self._ready = False
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await self._outgoing.drain()
        await app.shutdown()

    async def flush(self) -> None:
        """Waits until the replies of the updates handled so far have been sent."""
        await self._outgoing.drain()

    async def process(self, update: Update) -> None:
        """Handles one update like polled ones: in order per member, errors to the error handler."""
        app = self.application
        await app.update_processor.process_update(update, app.process_update(update))

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Pushes `reply` to a chat, reporting flood waits and blocked chats instead of raising."""
        return await push_reply(self.bot, recipient, reply, self._callback_data)

    # --- inbound --------------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        """Accepts one update from Telegram, only with the right secret token."""
        given = request.headers.get(WEBHOOK_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            refusals.note("telegram webhook (403): wrong secret token")
            return Response(status_code=403)
        if not self._ready:
            return Response(status_code=503)
        try:
            update = Update.de_json(json.loads(await request.body()), self.bot)
        except ClientDisconnect:
            refusals.note("client disconnected before the body was read")
            return Response(status_code=400)
        except Exception:
            refusals.note("telegram webhook (400): a body that is not an update")
            return Response(status_code=400)
        await self.process(update)
        return Response(status_code=200)

    async def _on_update(self, update: Update, context: Context) -> None:
        """Answers one update: deduplicates it, asks the core, delivers the replies."""
        query = update.callback_query
        data: str | None = None
        if query is not None and query.data is not None:
            data = self._callback_data.decode(query.data)
            if data is None:
                t = await self._translator(update.effective_user)
                await self._answer(query, t(BUTTON_EXPIRED))
                return
        if query is not None:
            await self._answer(query)
        inbound = inbound_from_update(update, bot_id=self._bot_id, bot_username=self._username)
        if inbound is None:
            return
        if query is not None and data is not None:
            inbound = replace(inbound, button=data)
        picture = picture_of(update.message, self._photo_max_bytes) if update.message else None
        if picture is not None:
            # Fetched before the core runs, in the member's turn (updates run in order per member).
            inbound = await self._with_picture(inbound, picture)
        key = f"{self._bot_id}:{update.update_id}"
        answer = await answer_of(self._core, inbound, once=(key,))
        if answer.repeat is not None:
            # Redelivered (after a crash, say): the answer stored with it goes out again.
            logger.info(
                "Telegram update %s already handled: replaying its answer", update.update_id
            )
            self._outgoing.add(inbound, self._deliver(inbound, answer.replies))
            return
        # The update's effect is committed: the webhook is answered now, and the replies wait
        # for the rate limiter in the queue, not in Telegram's connection.
        chosen = query if query is not None and data is not None else None
        self._outgoing.add(inbound, self._reply(inbound, answer.replies, chosen))

    async def _with_picture(self, inbound: Inbound, picture: Picture) -> Inbound:
        """Downloads a message's photo for the core; one over the limit or no picture stays unread.

        Only for a sender bound to a member: anyone else is answered "not bound" whatever the
        picture holds, and a stranger's file is not worth fetching.
        """
        bound = await asyncio.to_thread(
            self._core.bound, channel=Channel.TELEGRAM, user_id=inbound.user_id
        )
        if not bound:
            return replace(inbound, images=(InboundImage(b""),))
        if picture.file_id is None:
            image = InboundImage(b"", picture.mime_type, picture.filename, picture.size)
            return replace(inbound, images=(image,))
        try:
            file = await self.bot.get_file(picture.file_id)
            if file.file_size is not None and file.file_size > self._photo_max_bytes:
                image = InboundImage(b"", picture.mime_type, picture.filename, file.file_size)
                return replace(inbound, images=(image,))
            content = bytes(await file.download_as_bytearray())
        except (TelegramError, RuntimeError) as exc:
            # RuntimeError: a file without a download path (Telegram gives none past 20 MB).
            logger.warning("Could not fetch a photo from Telegram: %s", exc)
            return replace(
                inbound, images=(InboundImage(b""),), extra={**inbound.extra, UNFETCHED: "1"}
            )
        image = InboundImage(content, picture.mime_type, picture.filename, len(content))
        return replace(inbound, images=(image,))

    async def _reply(
        self, inbound: Inbound, replies: Sequence[Reply], chosen: CallbackQuery | None
    ) -> None:
        """Marks a pressed button's choice, then sends the replies."""
        if chosen is not None:
            await self._show_choice(chosen)
        await self._deliver(inbound, replies)

    async def _on_error(self, update: object, context: Context) -> None:
        """Logs a failed update with its context and apologises to the member."""
        if not isinstance(update, Update):
            logger.error("Telegram error outside an update", exc_info=context.error)
            return
        chat = update.effective_chat
        kind = "button" if update.callback_query else "message" if update.message else "other"
        logger.error(
            "Telegram update %s (%s in a %s chat) failed",
            update.update_id,
            kind,
            chat.type if chat else "unknown",
            exc_info=context.error,
        )
        if chat is None:
            return
        if update.callback_query is not None:
            await self._answer(update.callback_query)
        try:
            t = await self._translator(update.effective_user)
            text = t(APOLOGY)
        except Exception:
            logger.warning("No translator for the apology; sending it untranslated", exc_info=True)
            text = APOLOGY
        message = update.effective_message
        thread = message.message_thread_id if message and message.is_topic_message else None
        try:
            await self.bot.send_message(chat_id=chat.id, text=text, message_thread_id=thread)
        except Exception:
            logger.warning(
                "Could not apologise for Telegram update %s", update.update_id, exc_info=True
            )

    # --- outbound -------------------------------------------------------------------------

    async def _deliver(self, inbound: Inbound, replies: Sequence[Reply]) -> None:
        """Sends replies in order; private ones from a group go to the member's private chat."""
        private_refused = False
        quote = inbound.extra.get("message_id") if inbound.is_group else None
        thread = inbound.extra.get("thread_id")
        for reply in replies:
            to_private = reply.private and inbound.is_group
            if to_private and private_refused:
                continue
            try:
                if to_private:
                    await self._send(inbound.private_chat_id or inbound.user_id, reply)
                else:
                    await self._send(inbound.chat_id, reply, quote=quote, thread=thread)
                    quote = None
            except Forbidden:
                if not to_private:
                    logger.warning("Telegram refused a reply: the bot was blocked or removed")
                    return
                private_refused = True
                await self._ask_for_private_chat(inbound, thread)

    async def _send(
        self, chat: str, reply: Reply, *, quote: str | None = None, thread: str | None = None
    ) -> None:
        """Sends one reply to a chat (split, with its keyboard and file)."""
        await send_reply(self.bot, chat, reply, self._callback_data, quote=quote, thread=thread)

    async def _ask_for_private_chat(self, inbound: Inbound, thread: str | None) -> None:
        """Tells a member in the group to open a private chat, since Telegram refused it."""
        t = await self._translator_for(inbound.user_id, inbound.locale_hint)
        button = InlineKeyboardButton(t(OPEN_PRIVATE_CHAT), url=f"https://t.me/{self._username}")
        await self.bot.send_message(
            chat_id=chat_id_of(inbound.chat_id),
            text=t(PRIVATE_CHAT_FIRST),
            reply_markup=InlineKeyboardMarkup([[button]]),
            reply_parameters=(
                ReplyParameters(int(inbound.extra["message_id"]), allow_sending_without_reply=True)
                if "message_id" in inbound.extra
                else None
            ),
            message_thread_id=int(thread) if thread else None,
        )

    async def _answer(self, query: CallbackQuery, alert: str | None = None) -> None:
        """Stops the button's spinner; a second answer to the same press is harmless."""
        try:
            await query.answer(text=alert, show_alert=alert is not None)
        except TelegramError as exc:
            logger.debug("Could not answer a button press: %s", exc.message)

    async def _show_choice(self, query: CallbackQuery) -> None:
        """In a private chat, replaces the pressed keyboard with the chosen label."""
        message = query.message
        if not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
            return
        await mark_choice(message, query.data)

    async def _set_commands(self) -> None:
        """Registers the command menu in every catalog language and as the default list."""
        languages: list[tuple[str | None, str]] = [(None, self._default_locale)]
        languages += [(locale.split("_")[0], locale) for locale in SUPPORTED_LOCALES]
        for language, locale in languages:
            menu = await asyncio.to_thread(self._core.command_menu, locale)
            commands = menu_commands(menu)
            try:
                await self.bot.set_my_commands(commands, language_code=language)
            except TelegramError as exc:
                logger.warning("Could not set the %s command menu: %s", locale, exc.message)

    async def _translator(self, user: User | None) -> Translator:
        """Returns the translator for the member behind a Telegram account."""
        if user is None:
            return await self._translator_for("", None)
        return await self._translator_for(str(user.id), user.language_code)

    async def _translator_for(self, user_id: str, hint: str | None) -> Translator:
        """Asks the core, in a thread, for a member's translator."""
        return await asyncio.to_thread(
            self._core.translator_for, channel=Channel.TELEGRAM, user_id=user_id, hint=hint
        )


def _file_url(base_url: str) -> str:
    """Derives the file download URL from the API URL (`.../bot` becomes `.../file/bot`)."""
    head, _, tail = base_url.rpartition("/")
    return f"{head}/file/{tail}" if head else base_url


async def deep_link(settings: Settings, code: str) -> str:
    """Returns https://t.me/<bot>?start=<code>, asking Telegram for the bot's username."""
    if settings.telegram_token is None:
        raise ConfigError("GONGJIAN_TELEGRAM_TOKEN: required for Telegram invite links")
    check_start_code(code)
    token = settings.telegram_token.get_secret_value()
    redact_in_logs(token)
    quiet_library_logs()
    async with Bot(token, base_url=settings.telegram_base_url) as bot:
        return deep_link_for(bot.username, code)
