"""The Telegram channel: python-telegram-bot updates in, `Reply` objects out, nothing else."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeAlias

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, InlineKeyboardButtonLimit, MessageLimit
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackContext,
    ExtBot,
    TypeHandler,
)
from telegram.warnings import PTBDeprecationWarning

from bot.channels.http import refusals
from bot.channels.ratelimit import Limit, RateLimiter, Sleep
from bot.config import ConfigError, Settings
from bot.core.i18n import N_, SUPPORTED_LOCALES, Translator
from bot.core.inbound import Channel, ChatKind, Inbound, Location
from bot.core.ports import Core, DeliveryStatus, SendResult
from bot.core.reply import Reply

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "callback_query")
MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)

# Telegram's published limits: bots.faq "My bot is hitting limits, how do I avoid this?".
# We count a send when it leaves; Telegram counts it when it lands. A few per cent of slack in the
# windows keeps network jitter from squeezing 31 arrivals into one of Telegram's seconds (a 429).
OVERALL_LIMITS = (Limit(30, 1.035),)
PER_CHAT_LIMITS = (Limit(1, 1.02),)
PER_GROUP_LIMITS = (Limit(20, 61.0),)

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

_COMMAND = re.compile(
    r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]+))?(?P<rest>(?:\s.*)?)$", re.DOTALL
)
_MENU_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
_THROTTLED_PREFIXES = ("send", "copyMessage", "forwardMessage")


# --- logs -------------------------------------------------------------------------------------

_secrets: set[str] = set()


def redact_in_logs(*secrets: str) -> None:
    """Replaces each secret with `***` in every log record from now on, tracebacks included."""
    fresh = {secret for secret in secrets if secret} - _secrets
    if not fresh:
        return
    if not _secrets:
        _install_redacting_factory()
    _secrets.update(fresh)


def _redact(text: str) -> str:
    """Masks every known secret in `text`."""
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def _install_redacting_factory() -> None:
    """Wraps the log record factory so that no handler ever sees a secret."""
    previous = logging.getLogRecordFactory()
    plain = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's problem, not ours
            return record
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse a cached exc_text, so masking it here covers every handler.
            record.exc_text = _redact(plain.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)


def quiet_library_logs() -> None:
    """Silences loggers that would print the bot token (httpx URLs) or members' messages."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    library = logging.getLogger("telegram")
    if library.level < logging.INFO:
        library.setLevel(logging.INFO)


# --- pure adapters ----------------------------------------------------------------------------


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cuts text into chunks Telegram accepts, preferring paragraph, line and word breaks."""
    chunks: list[str] = []
    rest = text
    while _utf16_length(rest) > limit:
        fit = _fitting_prefix(rest, limit)
        window = rest[:fit]
        end, resume = fit, fit
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= fit // 2:
                end, resume = at, at + len(separator)
                break
        chunks.append(rest[:end])
        rest = rest[resume:]
    chunks.append(rest)
    return [chunk for chunk in (chunk.rstrip() for chunk in chunks) if chunk.strip()]


def _utf16_length(text: str) -> int:
    """Counts UTF-16 code units, the unit Telegram measures message length in."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _fitting_prefix(text: str, limit: int) -> int:
    """Returns how many characters of `text` fit into `limit` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


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
    # A photo, sticker, voice message or file sent in private gets a note of what the assistant
    # reads; in a group it is left alone, as are service messages (a pin, a timer change).
    unsupported = not text and location is None
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
    )


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
    )


def deep_link_for(username: str, code: str) -> str:
    """Builds the t.me link that opens the bot and sends `/start <code>`."""
    _check_start_code(code)
    return f"https://t.me/{username}?start={code}"


def _check_start_code(code: str) -> None:
    """Refuses what Telegram does not carry in a start parameter."""
    if not _START_PARAMETER.fullmatch(code):
        raise ValueError("a start code is 1-64 characters of A-Z, a-z, 0-9, _ and -")


def retry_after_of(error: BaseException) -> float | None:
    """Returns the seconds Telegram asked to wait, when `error` is a flood-control answer."""
    if not isinstance(error, RetryAfter):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_key(chat_id: object) -> tuple[str, bool]:
    """Returns a chat id as text and whether it names a group or channel (negative or @name)."""
    text = str(chat_id)
    return text, text.startswith(("-", "@"))


def _chat_id(value: str) -> int | str:
    """Turns a stored chat id back into what the Bot API expects."""
    try:
        return int(value)
    except ValueError:
        return value


def telegram_rate_limiter(
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    max_retries: int = 5,
) -> RateLimiter:
    """Builds a limiter with Telegram's published limits."""
    return RateLimiter(
        overall=OVERALL_LIMITS,
        per_chat=PER_CHAT_LIMITS,
        per_group=PER_GROUP_LIMITS,
        max_retries=max_retries,
        monotonic=monotonic,
        sleep=sleep,
    )


# --- python-telegram-bot plumbing -------------------------------------------------------------


class _LimitedRequests(BaseRateLimiter[None]):
    """Routes every Bot API call through our `RateLimiter`; only sends count against limits."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def initialize(self) -> None:
        """Needs nothing."""

    async def shutdown(self) -> None:
        """Needs nothing."""

    async def process_request(  # noqa: PLR0917 (PTB's signature)
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Waits for room, makes the call, and retries it after a 429."""
        chat_id = data.get("chat_id")
        chat, group = _chat_key(chat_id) if chat_id is not None else (None, False)
        return await self._limiter.run(
            lambda: callback(*args, **kwargs),
            chat=chat,
            group=group,
            # Edits and callback answers have no published per-chat limit: they only wait out
            # flood pauses.
            throttle=endpoint.startswith(_THROTTLED_PREFIXES),
            retry_after_of=retry_after_of,
        )


class _InOrderPerMember(BaseUpdateProcessor):
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


# --- replies after the acknowledgement -------------------------------------------------------


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


# --- the channel ------------------------------------------------------------------------------


class TelegramChannel:
    """Runs one Telegram bot: polling or webhook in, core replies out, pushes for the outbox."""

    name = "telegram"
    channel: Channel = Channel.TELEGRAM

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
            .rate_limiter(_LimitedRequests(limiter or telegram_rate_limiter()))
            .concurrent_updates(_InOrderPerMember(max_concurrent_updates))
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

    async def start(self) -> None:
        """Checks the token, sets the command menus, then polls or registers the webhook."""
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
        try:
            await self._send(recipient, reply)
        except ChatMigrated as exc:
            # A group became a supergroup: deliver there and tell the outbox the new id.
            result = await self.send(recipient=str(exc.new_chat_id), reply=reply)
            return replace(result, detail=f"chat migrated to {exc.new_chat_id}")
        except RetryAfter as exc:
            return SendResult(
                DeliveryStatus.RETRY, "flood control", retry_after=retry_after_of(exc)
            )
        except (Forbidden, BadRequest) as exc:
            return SendResult(DeliveryStatus.UNDELIVERABLE, exc.message)
        except TelegramError as exc:
            return SendResult(DeliveryStatus.RETRY, exc.message)
        return SendResult(DeliveryStatus.SENT)

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
        key = f"{self._bot_id}:{update.update_id}"
        answer = await asyncio.to_thread(self._core.answer, inbound, once=(key,))
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
                    # A member's user id is also their private chat's id on Telegram.
                    await self._send(inbound.user_id, reply)
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
        """Sends one reply, split under the length limit, keyboard on the last part, then its file."""
        chunks = split_text(reply.text)
        if not chunks and reply.document is None:
            logger.warning("Skipping a reply without text")
            return
        keyboard = keyboard_for(reply, self._callback_data)
        for index, chunk in enumerate(chunks):
            await self.bot.send_message(
                chat_id=_chat_id(chat),
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
            await self.bot.send_document(
                chat_id=_chat_id(chat),
                document=InputFile(reply.document.content, filename=reply.document.filename),
                message_thread_id=int(thread) if thread else None,
            )

    async def _ask_for_private_chat(self, inbound: Inbound, thread: str | None) -> None:
        """Tells a member in the group to open a private chat, since Telegram refused it."""
        t = await self._translator_for(inbound.user_id, inbound.locale_hint)
        button = InlineKeyboardButton(t(OPEN_PRIVATE_CHAT), url=f"https://t.me/{self._username}")
        await self.bot.send_message(
            chat_id=_chat_id(inbound.chat_id),
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
        label = _pressed_label(message, query.data)
        try:
            if message.text and label and _utf16_length(message.text) + len(label) + 3 <= MAX_TEXT:
                await message.edit_text(f"{message.text}\n\n✓ {label}", reply_markup=None)
            else:
                await message.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:
            logger.debug("Could not mark the chosen button: %s", exc.message)

    async def _set_commands(self) -> None:
        """Registers the command menu in every catalog language and as the default list."""
        languages: list[tuple[str | None, str]] = [(None, self._default_locale)]
        languages += [(locale.split("_")[0], locale) for locale in SUPPORTED_LOCALES]
        for language, locale in languages:
            menu = await asyncio.to_thread(self._core.command_menu, locale)
            commands = [
                BotCommand(command.removeprefix("/"), description[:256])
                for command, description in menu
                if _MENU_COMMAND.fullmatch(command.removeprefix("/")) and description
            ]
            if len(commands) != len(menu):
                logger.warning(
                    "Left %d invalid commands out of the menu", len(menu) - len(commands)
                )
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


def _pressed_label(message: Message, data: str | None) -> str | None:
    """Finds the label of the button whose callback data was pressed."""
    markup = message.reply_markup
    if markup is None or data is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def _file_url(base_url: str) -> str:
    """Derives the file download URL from the API URL (`.../bot` becomes `.../file/bot`)."""
    head, _, tail = base_url.rpartition("/")
    return f"{head}/file/{tail}" if head else base_url


async def deep_link(settings: Settings, code: str) -> str:
    """Returns https://t.me/<bot>?start=<code>, asking Telegram for the bot's username."""
    if settings.telegram_token is None:
        raise ConfigError("GONGJIAN_TELEGRAM_TOKEN: required for Telegram invite links")
    _check_start_code(code)
    token = settings.telegram_token.get_secret_value()
    redact_in_logs(token)
    quiet_library_logs()
    async with Bot(token, base_url=settings.telegram_base_url) as bot:
        return deep_link_for(bot.username, code)
