"""The callback endpoint both platforms call: checked, decrypted, deduplicated, answered in time.

Both platforms call one URL with signed XML, retry a message three times when no answer comes
within 5 seconds, take a passive reply in the HTTP answer, and push later messages through a
JSON API. `CallbackChannel` is that endpoint; `bot.channels.wechat` and `bot.channels.wecom`
subclass it with what differs (settings and crypto, the URL checks, events, send endpoints
and limits).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.answers import answer_of, group_core, inbox, settle
from bot.channels.http import refusals
from bot.channels.weixin.api import ApiError
from bot.channels.weixin.checks import (
    MAX_BODY_BYTES,
    RefusedError,
    check_fresh,
    check_signature,
    delivery_key,
    encrypted_field,
    guard_xml,
    is_event,
    nonce_key,
    read_body,
    read_envelope,
    signed_parameters,
)
from bot.channels.weixin.crypto import CryptoError, MessageCrypto
from bot.channels.weixin.render import (
    MAX_TEXT_BYTES,
    Rendered,
    passive_text,
    render_numbered,
    shared_location,
)
from bot.channels.weixin.sender import PushSender
from bot.config import Settings
from bot.core.channel import Capabilities
from bot.core.clock import Clock
from bot.core.i18n import N_
from bot.core.inbound import Channel, ChatKind, Inbound, InboundImage
from bot.core.ports import Answer, Core, DeliveryStatus, SendResult
from bot.texts.translation import translator
from handlers.photos import UNFETCHED
from storage.deliveries import remember_keys
from storage.engine import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")

# WeChat gives up on an answer after 5 s and retries; answer well before that.
DEFAULT_REPLY_DEADLINE = 4.0
SUCCESS = "success"
# Threads that run the core for callbacks. SQLite takes one writer at a time: a second thread
# would only sleep in its busy handler. PostgreSQL overlaps round trips and commits, but every
# thread more also costs CPU in handing the interpreter lock around (measured: 4 threads use
# ~20% less CPU per callback than 8, with the same latency); the pool keeps one connection each.
SQLITE_CORE_WORKERS = 1
CORE_WORKERS = 4
# How many late-answered deliveries are remembered (their retries come within ~15 s).
PUSHED_REMEMBERED = 4096
# Plain text with numbered options, one account per chat: no files, no buttons, no groups.
CAPABILITIES = Capabilities(numbered_options=True)
# Where both platforms hand out the file of an image a member sent, by its MediaId.
MEDIA_PATH = "/cgi-bin/media/get"

APOLOGY = N_("Sorry, something went wrong. Please try again.")


@dataclass(frozen=True, slots=True)
class CallbackKeys:
    """What a platform signs and encrypts its callbacks with: the token, and the crypto (None in
    plain mode)."""

    token: str
    crypto: MessageCrypto | None


@dataclass(frozen=True, slots=True)
class Signed:
    """A callback whose signatures were checked: its timestamp, nonce and encrypted payload."""

    timestamp: str
    nonce: str
    encrypted: str | None = None
    msg_signature: str = ""


def message_of_type(types: Mapping[str, Any], fields: Mapping[str, str], *, flat: bool) -> Any:
    """Builds a wechatpy message (not an event) from flat fields; None when it needs the parser."""
    # wechatpy's parse_message reads the XML again and picks the class the same way; events
    # rename some of their fields first, so they go through it.
    kind = fields.get("MsgType", "").lower()
    if not flat or kind == "event" or kind.startswith("device_") or kind not in types:
        return None
    return types[kind](dict(fields))


class CallbackChannel(ABC):
    """A platform callback URL: checks, decrypts, deduplicates, answers within the deadline."""

    channel: Channel
    path: str
    name: str
    capabilities: ClassVar[Capabilities] = CAPABILITIES
    # What the platform's crypto checks the payload names.
    crypto_owner: ClassVar[str]

    def __init__(
        self,
        settings: Settings,
        core: Core,
        *,
        database: Database,
        clock: Clock,
        sender: PushSender | None = None,
        reply_deadline: float = DEFAULT_REPLY_DEADLINE,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        # Missing settings are refused before anything (a sender, threads) is built.
        keys = self._configure(settings)
        self._token = keys.token
        self._crypto = keys.crypto
        self._core = core
        self._photo_max_bytes = settings.photo_max_bytes
        self._database = database
        self._clock = clock
        self._deadline = reply_deadline
        self._max_body = max_body_bytes
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        # Deliveries whose answer goes out by push after the deadline: their retries get
        # "success", not the stored answer a second time.
        self._pushed: OrderedDict[str, None] = OrderedDict()
        self.sender = sender or self._new_sender(settings, database=database, clock=clock)
        self._workers = ThreadPoolExecutor(
            max_workers=SQLITE_CORE_WORKERS if database.dialect == "sqlite" else CORE_WORKERS,
            thread_name_prefix=f"{self.name}-core",
        )

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """The callback route on the shared HTTP server."""
        return [Route(self.path, self._endpoint, methods=["GET", "POST"])]

    async def start(self, *, receive: bool = True) -> None:
        """Needs nothing: the platform calls us, and pushes open their client on first use."""
        return

    async def stop(self) -> None:
        """Closes the sender's HTTP client and lets the core threads end."""
        await self.sender.aclose()
        self._workers.shutdown(wait=False)

    async def push_texts(self, user_id: str, texts: Sequence[str]) -> SendResult:
        """Pushes a late answer to a user who just wrote to us (no window or template applies)."""
        return await self.sender.send_texts(user_id, texts)

    # --- what each platform says ---------------------------------------------------------

    @abstractmethod
    def _configure(self, settings: Settings) -> CallbackKeys:
        """Reads the platform's settings (ConfigError when one is missing) and returns its keys."""

    @abstractmethod
    def _new_sender(self, settings: Settings, *, database: Database, clock: Clock) -> PushSender:
        """Builds the platform's sender for pushes and late answers."""

    @abstractmethod
    def _echo(self, query: Mapping[str, str]) -> str:
        """Checks a URL verification request and returns what to echo (raises RefusedError)."""

    @abstractmethod
    def _check_url(self, query: Mapping[str, str]) -> None:
        """Checks what the URL of a message alone shows, before its body is read (RefusedError)."""

    def _encrypted(self, query: Mapping[str, str]) -> bool:
        """Tells whether a message's body is encrypted (and signed by `msg_signature`)."""
        return True

    @abstractmethod
    def _parse(self, xml: str, fields: Mapping[str, str], *, flat: bool) -> Any:
        """Parses message XML (whose top-level `fields` are given) into a wechatpy message.

        `flat`: the fields are all the XML holds, so a message can be built from them alone.
        """

    @abstractmethod
    def _event_text(self, event: str, message: Any) -> str:
        """Returns what an event means as a command; empty for events that need no answer."""

    # --- what both platforms do alike ----------------------------------------------------

    def _verify(self, query: Mapping[str, str], body: bytes) -> Signed:
        """Checks `msg_signature` over an encrypted body's payload before anything parses it.

        A plain body is covered by no signature: `_check_url` decides whether one is taken.
        """
        timestamp, nonce = signed_parameters(query)
        if not self._encrypted(query):
            return Signed(timestamp, nonce)
        # Two substring searches, no parsing: the payload is only looked at, then checked in
        # constant time, before anything decodes, decrypts or parses the body.
        encrypted = encrypted_field(body)
        msg_signature = query.get("msg_signature", "")
        check_signature(msg_signature, self._token, timestamp, nonce, encrypted)
        return Signed(timestamp, nonce, encrypted, msg_signature)

    def _message_text(self, kind: str, message: Any) -> str:
        """Returns the text a message carries (a text message's content; events aside)."""
        return str(message.content or "").strip() if kind == "text" else ""

    def _inbound(self, message: Any, fields: Mapping[str, str], *, flat: bool) -> Inbound:
        """Turns texts, images, locations, menu clicks and follows into inbound messages.

        Anything else is unsupported. An image's file is fetched later (`_with_image`), in the
        member's turn, since the download may outlast the platform's deadline.
        """
        if flat and fields.get("MsgType", "").lower() == "text":
            # The message was built from these fields alone: read them without its descriptors.
            user = fields["FromUserName"]
            return Inbound(
                channel=self.channel,
                chat_id=user,
                user_id=user,
                text=fields.get("Content", ""),
                chat_kind=ChatKind.PRIVATE,
                capabilities=self.capabilities,
                private_chat_id=user,
            )
        user = str(message.source)
        kind = str(message.type)
        text, location = self._message_text(kind, message), None
        if kind == "location":
            location = shared_location(message.location_x, message.location_y, message.label)
        elif kind == "event":
            text = self._event_text(str(message.event), message)
        return Inbound(
            channel=self.channel,
            chat_id=user,
            user_id=user,
            text=text,
            location=location,
            chat_kind=ChatKind.PRIVATE,
            extra={"event": str(message.event)} if kind == "event" else {},
            # A text of blanks is still a text: it gets an answer, not the note on media.
            unsupported=kind not in ("text", "image") and not text and location is None,
            capabilities=self.capabilities,
            private_chat_id=user,
        )

    def _decrypt(self, signed: Signed) -> str:
        """Decrypts a safe-mode payload with the AES key, checking it names our app or corp."""
        assert self._crypto is not None and signed.encrypted is not None
        try:
            return self._crypto.decrypt(signed.encrypted)
        except CryptoError:
            raise RefusedError(
                403, f"payload does not decrypt for this {self.crypto_owner} and AES key"
            ) from None

    def _reply_xml(self, message: Any, text: str) -> str:
        """Renders a passive text reply to a message, from the account or app it was sent to."""
        agent = getattr(message, "agent", None)
        return passive_text(
            to=str(message.source),
            sender=str(message.target),
            at=int(self._clock.now().timestamp()),
            content=text,
            agent=str(agent) if agent else None,
        )

    def _encrypt(self, xml: str, signed: Signed) -> str:
        """Encrypts a passive reply for a safe-mode request."""
        assert self._crypto is not None
        return self._crypto.envelope(
            xml, nonce=signed.nonce, timestamp=str(int(self._clock.now().timestamp()))
        )

    # --- the endpoint --------------------------------------------------------------------

    async def _in_core(self, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Runs a blocking core call on the channel's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._workers, functools.partial(call, *args, **kwargs))

    async def _endpoint(self, request: Request) -> Response:
        """Serves the platform's GET verification and POST messages."""
        try:
            if request.method == "GET":
                return await self._verification(request)
            return await self._receive(request)
        except RefusedError as refused:
            refusals.note(f"{self.name} callback ({refused.status}): {refused.reason}")
            return PlainTextResponse("", status_code=refused.status)

    async def _verification(self, request: Request) -> Response:
        """Answers the URL check once: its nonce is recorded, so no POST can reuse its URL."""
        echo = self._echo(request.query_params)
        timestamp, nonce = signed_parameters(request.query_params)
        seen = await self._in_core(
            remember_keys,
            database=self._database,
            channel=self.channel,
            keys=(nonce_key(timestamp, nonce),),
            now=self._clock.now(),
        )
        if seen is not None:
            raise RefusedError(403, "replayed nonce")
        return PlainTextResponse(echo)

    async def _receive(self, request: Request) -> Response:
        """Checks one POSTed message, hands it to the core once, and answers or pushes later."""
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        query = request.query_params
        # Everything the URL alone can refuse is refused before the body is read.
        timestamp, _ = signed_parameters(query)
        check_fresh(timestamp, self._clock.now())
        self._check_url(query)
        body = await read_body(request, self._max_body)
        # Signatures before any parsing: only a signed payload is decoded, decrypted or parsed.
        signed = self._verify(query, body)
        if signed.encrypted is not None:
            plain = guard_xml(self._decrypt(signed))
        else:
            plain = guard_xml(body)
        fields, flat = read_envelope(plain)
        try:
            message = self._parse(plain, fields, flat=flat)
        except RefusedError:
            raise
        except Exception:
            raise RefusedError(400, "unparsable message") from None
        key = delivery_key(fields)
        if key is None:
            raise RefusedError(400, "message without sender")
        # Recorded with the answer, in its transaction, so that a request refused for any
        # reason (or failing midway) leaves nothing behind.
        used = nonce_key(signed.timestamp, signed.nonce)
        once: tuple[str, ...] = (used, key)
        if _is_image(fields):
            # An image is downloaded before the core sees the request: its nonce is recorded
            # first, so that a replay is refused before it costs a download.
            seen = await self._in_core(
                remember_keys,
                database=self._database,
                channel=self.channel,
                keys=(used,),
                now=self._clock.now(),
            )
            if seen is not None:
                raise RefusedError(403, "replayed nonce")
            once = (key,)
        inbound = self._inbound(message, fields, flat=flat)
        work = await self._start(inbound, fields, once)
        # The platform's 5 seconds run from its request, not from when the checks finished.
        left = max(self._deadline - (loop.time() - arrived), 0.0)
        if not await _ready(work, left):
            logger.info(
                "%s answer not ready within %gs: pushing it later", self.name, self._deadline
            )
            # A retry of a delivery already answered late: that first attempt pushes the answer.
            retried = key in self._pushed
            self._pushed[key] = None
            while len(self._pushed) > PUSHED_REMEMBERED:
                self._pushed.popitem(last=False)
            later = BackgroundTask(self._push_later, work, fields["FromUserName"], retried)
            return PlainTextResponse(SUCCESS, background=later)
        try:
            rendered = _rendered(work.result())
        except Exception:
            logger.exception("%s could not answer a message", self.name)
            return await self._apologise(message, signed, fields)
        if rendered.repeat == used:
            raise RefusedError(403, "replayed nonce")
        if rendered.repeat is not None and (key in self._pushed or not rendered.texts):
            logger.info("%s delivery retried by the platform: already handled", self.name)
            return PlainTextResponse(SUCCESS)
        if rendered.repeat is not None:
            # The first answer may have been lost with its connection: give the stored one again.
            logger.info("%s delivery retried by the platform: answer replayed", self.name)
        texts = rendered.texts
        if not texts:
            return PlainTextResponse(SUCCESS)
        text = "\n\n".join(texts)
        if len(text.encode()) > MAX_TEXT_BYTES:
            pushed = BackgroundTask(self.push_texts, fields["FromUserName"], texts)
            return PlainTextResponse(SUCCESS, background=pushed)
        reply = self._reply_xml(message, text)
        if signed.encrypted is not None:
            reply = self._encrypt(reply, signed)
        return Response(reply, media_type="application/xml")

    async def _apologise(self, message: Any, signed: Signed, fields: Mapping[str, str]) -> Response:
        """Answers a message that failed with an apology (events get no answer)."""
        if is_event(fields):
            return PlainTextResponse(SUCCESS)
        try:
            t = await self._in_core(
                self._core.translator_for, channel=self.channel, user_id=fields["FromUserName"]
            )
            text = t(APOLOGY)
        except Exception:
            logger.warning("%s has no translator for the apology", self.name, exc_info=True)
            text = APOLOGY
        reply = self._reply_xml(message, text)
        if signed.encrypted is not None:
            reply = self._encrypt(reply, signed)
        return Response(reply, media_type="application/xml")

    async def _start(
        self, inbound: Inbound, fields: Mapping[str, str], once: Sequence[str]
    ) -> asyncio.Future[Answer]:
        """Hands a delivery to the core, in order per user; the future holds the core's answer.

        The usual case, a message from a user with nothing else in flight here (no image to
        fetch first) and a core that commits groups, is queued for the core at once: the
        user's turn is taken now and given back when the answer comes, with no task between.
        """
        user = inbound.user_id
        core = group_core(self._core)
        if core is None or _is_image(fields) or user in self._waiting:
            return asyncio.ensure_future(self._answer(inbound, fields, once=once))
        # Held until the answer comes: a later message of this user waits in `_in_order`. A new
        # lock is free, so taking it does not wait.
        turn = self._locks[user] = asyncio.Lock()
        self._waiting[user] = 1
        await turn.acquire()
        try:
            queued = core.submit(inbound, once=once, numbered=True)
        except Exception as error:
            # Answered with the apology, as a failure in the core's own threads is.
            self._leave(user)
            failed: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            failed.set_exception(error)
            return failed
        posted = inbox()
        answered: asyncio.Future[Answer] = posted.loop.create_future()
        queued.add_done_callback(lambda done: posted.post(self._settle, user, done, answered))
        return answered

    def _settle(self, user: str, done: Future[Answer], answered: asyncio.Future[Answer]) -> None:
        """Gives the user's turn back and hands on the core's answer (on the event loop)."""
        self._leave(user)
        settle(done, answered)

    async def _answer(
        self, inbound: Inbound, fields: Mapping[str, str], *, once: Sequence[str]
    ) -> Answer:
        """Asks the core, in order per user, after fetching an image's file."""
        async with self._in_order(inbound.user_id):
            if _is_image(fields):
                inbound = await self._with_image(inbound, fields.get("MediaId", "").strip())
            return await answer_of(
                self._core, inbound, once=once, numbered=True, executor=self._workers
            )

    async def _with_image(self, inbound: Inbound, media_id: str) -> Inbound:
        """Downloads an image by its MediaId through the media API; the core judges its bytes.

        Only for a sender bound to a member: anyone else is answered "not bound" whatever the
        image holds, and a download costs the platform's daily API quota.
        """
        bound = await self._in_core(self._core.bound, channel=self.channel, user_id=inbound.user_id)
        if not bound:
            return replace(inbound, images=(InboundImage(b""),))
        try:
            if not media_id:
                raise ApiError(-1, "image without MediaId")
            media = await self.sender.api.download(
                MEDIA_PATH, {"media_id": media_id}, max_bytes=self._photo_max_bytes
            )
        except ApiError as error:
            logger.warning(
                "%s could not fetch an image: %d %s", self.name, error.code, error.message
            )
            return replace(
                inbound, images=(InboundImage(b""),), extra={**inbound.extra, UNFETCHED: "1"}
            )
        image = InboundImage(
            media.content, media.content_type, size=media.size, truncated=media.truncated
        )
        return replace(inbound, images=(image,))

    async def _push_later(
        self, work: asyncio.Future[Answer], user_id: str, retried: bool = False
    ) -> None:
        """Waits for a late answer and pushes it through the platform's message API."""
        try:
            rendered = _rendered(await work)
        except Exception:
            logger.exception("%s answer failed after the deadline", self.name)
            return
        if retried and rendered.repeat is not None:
            logger.info("%s late retry of a delivery already answered: not pushed again", self.name)
            return
        if rendered.texts:
            result = await self.push_texts(user_id, rendered.texts)
            if result.status is not DeliveryStatus.SENT:
                logger.warning("%s late answer not delivered: %s", self.name, result.detail)

    @asynccontextmanager
    async def _in_order(self, user_id: str) -> AsyncIterator[None]:
        """Runs one message of a user at a time, in arrival order, within this process."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._waiting[user_id] = self._waiting.get(user_id, 0) + 1
        try:
            await lock.acquire()
        except BaseException:
            self._forget(user_id)
            raise
        try:
            yield
        finally:
            self._leave(user_id)

    def _leave(self, user_id: str) -> None:
        """Ends a message's turn: the user's next message (if any) goes on."""
        self._locks[user_id].release()
        self._forget(user_id)

    def _forget(self, user_id: str) -> None:
        """Counts a message of the user out; the user's lock goes with the last one."""
        self._waiting[user_id] -= 1
        if not self._waiting[user_id]:
            del self._waiting[user_id], self._locks[user_id]


def _is_image(fields: Mapping[str, str]) -> bool:
    """Tells whether a callback is an image message (whose file is downloaded by MediaId)."""
    return fields.get("MsgType", "").strip().lower() == "image"


def _rendered(answer: Answer) -> Rendered:
    """Renders the core's replies as texts with numbered options (a repeat named as such)."""
    rendered = render_numbered(answer.replies, translator(answer.locale))
    if answer.repeat is not None:
        return Rendered(rendered.texts, rendered.options, repeat=answer.repeat)
    return rendered


async def _ready(work: asyncio.Future[Answer], seconds: float) -> bool:
    """Waits up to `seconds` for the answer; tells whether it came."""
    if work.done():
        return True
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        """Ends the wait, for the answer or the deadline, whichever comes first."""
        if not waiter.done():
            waiter.set_result(None)

    work.add_done_callback(wake)
    deadline = loop.call_later(seconds, wake)
    try:
        await waiter
    finally:
        deadline.cancel()
        work.remove_done_callback(wake)
    return work.done()
