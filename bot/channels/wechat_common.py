"""What the official account and the WeCom app share: request checks, numbered options, the API.

Both platforms call one URL with signed XML, retry a message three times when no answer comes
within 5 seconds, take a passive reply in the HTTP answer, and push later messages through a
JSON API guarded by an access token. This module holds those parts; `wechat.py` and `wecom.py`
add what differs (signatures, crypto module, events, send endpoints and limits).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import xmltodict  # type: ignore[import-untyped,unused-ignore]
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.http import refusals
from bot.channels.wechat_tokens import TokenStore, TokenUnavailableError
from bot.core.clock import Clock
from bot.core.i18n import N_, Translator
from bot.core.inbound import Channel, Inbound, Location
from bot.core.ports import Core, DeliveryStatus, SendResult
from bot.core.reply import Reply
from bot.texts.translation import translator
from storage.deliveries import remember_keys
from storage.engine import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Platform callbacks are at most a few kilobytes; the shared server's 1 MiB cap is far looser.
MAX_BODY_BYTES = 64 * 1024
# How old (or how far in the future) a signed request may be; nonces are remembered this long.
TIMESTAMP_WINDOW = timedelta(minutes=5)
# WeChat gives up on an answer after 5 s and retries; answer well before that.
DEFAULT_REPLY_DEADLINE = 4.0
# Text messages, passive or pushed, are cut by the platforms at 2,048 bytes.
MAX_TEXT_BYTES = 2000
SUCCESS = "success"
HTTP_TIMEOUT = 10.0
# Threads that run the core for callbacks. SQLite takes one writer at a time: a second thread
# would only sleep in its busy handler. PostgreSQL overlaps round trips and commits, but every
# thread more also costs CPU in handing the interpreter lock around (measured: 4 threads use
# ~20% less CPU per callback than 8, with the same latency); the pool keeps one connection each.
SQLITE_CORE_WORKERS = 1
CORE_WORKERS = 4
# How many late-answered deliveries are remembered (their retries come within ~15 s).
PUSHED_REMEMBERED = 4096

OPTION_LINE = N_("Reply {number}: {label}")
APOLOGY = N_("Sorry, something went wrong. Please try again.")

# Error codes both platforms use, handled by name rather than retried blindly.
TOKEN_INVALID = frozenset({40001, 40014, 42001})
API_QUOTA = 45009
UNTRUSTED_IP = frozenset({40164, 60020})

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{40}$")
_SCENE = re.compile(r"^[A-Za-z0-9]{1,16}$")
# Characters XML 1.0 forbids; a reply containing one would be rejected by the platform.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- request checks ---------------------------------------------------------------------------


class RefusedError(Exception):
    """A callback request that must not be processed: answered with `status`, logged with why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Reads the request body, refusing it (413) as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RefusedError(413, "body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RefusedError(413, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def guard_xml(raw: bytes | str) -> str:
    """Returns the XML as text, refusing (400) non-UTF-8 bodies and any DTD or entity declaration.

    Refusing every DOCTYPE, before any parser sees the text, rules out entity expansion bombs and
    external entities whatever the parser does; decoding first means no other encoding (UTF-16,
    say) can hide the declaration from this check, and the parsers are then fed this text.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise RefusedError(400, "body is not UTF-8") from None
    if _declares(text):
        raise RefusedError(400, "XML with a DTD or entity declaration")
    return text


# Markup whose content is not markup: a member may well type "<!DOCTYPE" into a message.
_OPAQUE = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"))


def _declares(text: str) -> bool:
    """Tells whether XML text has a `<!` declaration (DOCTYPE, ENTITY, …) outside opaque sections.

    One left-to-right pass, as a parser reads it: comments, CDATA sections and processing
    instructions are skipped whole, and any other `<!` is a declaration (or not XML at all).
    An unterminated section runs to the end; one that starts with `<!` is refused.
    """
    position = 0
    while (start := text.find("<", position)) != -1:
        for opener, closer in _OPAQUE:
            if text.startswith(opener, start):
                end = text.find(closer, start + len(opener))
                if end == -1:
                    return opener.startswith("<!")
                position = end + len(closer)
                break
        else:
            if text.startswith("<!", start):
                return True
            position = start + 1
    return False


_ENCRYPT_OPEN = b"<Encrypt>"
_ENCRYPT_CLOSE = b"</Encrypt>"
_CDATA_OPEN = b"<![CDATA["
_CDATA_CLOSE = b"]]>"
# An encrypted message is base64 of at most a few kilobytes; nothing longer is looked at.
MAX_ENCRYPTED_BYTES = 16 * 1024
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


def encrypted_field(body: bytes, limit: int = MAX_ENCRYPTED_BYTES) -> str:
    """Finds the `<Encrypt>` value of a callback body without parsing it (400 when there is none).

    Two substring searches (linear, in C) and one bounded base64 match: the only work done on a
    body before its signature is checked. A forged signature over the value found is refused
    next, so which `<Encrypt>` element is found does not matter: only a signed one gets through.
    """
    start = body.find(_ENCRYPT_OPEN)
    if start == -1:
        raise RefusedError(400, "message without Encrypt")
    start += len(_ENCRYPT_OPEN)
    window = limit + len(_CDATA_OPEN) + len(_CDATA_CLOSE)
    end = body.find(_ENCRYPT_CLOSE, start, start + window + 1)
    if end == -1:
        raise RefusedError(400, "Encrypt unterminated or too long")
    value = body[start:end]
    if value.startswith(_CDATA_OPEN) and value.endswith(_CDATA_CLOSE):
        value = value[len(_CDATA_OPEN) : -len(_CDATA_CLOSE)]
    if not value or len(value) > limit or not _BASE64.fullmatch(value):
        raise RefusedError(400, "Encrypt is not base64")
    return value.decode("ascii")


def parse_envelope(text: str) -> dict[str, str]:
    """Parses flat callback XML (`<xml><Name>value</Name>…</xml>`) into a dict (400 if not)."""
    try:
        document = xmltodict.parse(text, disable_entities=True)
    except Exception:
        raise RefusedError(400, "malformed XML") from None
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise RefusedError(400, "XML without an <xml> root")
    return {key: value for key, value in root.items() if isinstance(value, str)}


def signature_of(*parts: str) -> str:
    """Computes the platforms' SHA-1 signature: the parts sorted, joined, hashed."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (their protocol)


def check_signature_format(given: str | None) -> str:
    """Refuses (403) a missing or malformed signature; returns it."""
    if not given or not _SIGNATURE.fullmatch(given):
        raise RefusedError(403, "missing or malformed signature")
    return given


def check_signature(given: str | None, token: str, *parts: str) -> None:
    """Refuses (403) unless `given` is the signature of the token and parts (constant time)."""
    given = check_signature_format(given)
    expected = signature_of(token, *parts)
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise RefusedError(403, "bad signature")


def signed_parameters(query: Mapping[str, str]) -> tuple[str, str]:
    """Returns the timestamp and nonce of a callback, refusing (403) malformed ones."""
    timestamp = query.get("timestamp", "")
    nonce = query.get("nonce", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce):
        raise RefusedError(403, "missing or malformed timestamp or nonce")
    return timestamp, nonce


def check_fresh(timestamp: str, now: datetime, window: timedelta = TIMESTAMP_WINDOW) -> None:
    """Refuses (403) a request whose timestamp lies outside the window around `now`."""
    if abs(now.timestamp() - int(timestamp)) > window.total_seconds():
        raise RefusedError(403, "timestamp outside the window")


# --- rendering --------------------------------------------------------------------------------


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
    for reply in replies:
        lines = [reply.text] if reply.text else []
        for button in reply.flat_buttons:
            options.append(button.data)
            lines.append(t(OPTION_LINE, number=len(options), label=button.label))
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


def xml_text(text: str) -> str:
    """Makes text safe inside a CDATA section: no illegal characters, no early `]]>`."""
    return _XML_ILLEGAL.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Cuts text into pieces of at most `limit` UTF-8 bytes, at line breaks where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest.encode()) > limit:
        fit = _fitting_prefix(rest, limit)
        cut = rest.rfind("\n", 0, fit)
        end = cut if cut >= fit // 2 else fit
        pieces.append(rest[:end].rstrip())
        rest = rest[end:].lstrip("\n")
    pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]


def _fitting_prefix(text: str, limit: int) -> int:
    """Returns how many characters of `text` fit into `limit` UTF-8 bytes."""
    used = 0
    for index, char in enumerate(text):
        used += len(char.encode())
        if used > limit:
            return index
    return len(text)


# --- the platform API -------------------------------------------------------------------------


class ApiError(Exception):
    """The platform answered a call with a non-zero `errcode` (or could not be reached: -1)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class ApiClient:
    """JSON calls to the WeChat or WeCom API with a shared access token, refreshed once on 40001."""

    def __init__(
        self,
        *,
        label: str,
        base_url: str,
        token_name: str,
        refresh_path: str,
        refresh_params: Mapping[str, str],
        tokens: TokenStore,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.label = label
        self._base_url = base_url.rstrip("/")
        self._token_name = token_name
        self._refresh_path = refresh_path
        self._refresh_params = dict(refresh_params)
        self._tokens = tokens
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client, created on first use (inside the running event loop)."""
        if self._client is None:
            # httpx logs request URLs at INFO, and ours carry the access token.
            logging.getLogger("httpx").setLevel(logging.WARNING)
            self._client = httpx.AsyncClient(
                base_url=self._base_url, timeout=HTTP_TIMEOUT, transport=self._transport
            )
        return self._client

    async def aclose(self) -> None:
        """Closes the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def token(self) -> str:
        """Returns a valid access token from the shared store."""
        try:
            return await self._tokens.get(self._token_name, self._fetch_token)
        except TokenUnavailableError:
            raise ApiError(-1, "access token is being refreshed by another process") from None

    async def call(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POSTs `payload` to `path`; on an invalid or expired token refreshes once and retries once."""
        token = await self.token()
        try:
            return await self._post(path, token, payload)
        except ApiError as error:
            if error.code not in TOKEN_INVALID:
                raise
            logger.warning(
                "%s refused the access token (%d %s): refreshing it once and retrying",
                self.label,
                error.code,
                error.message,
            )
        await self._tokens.invalidate(self._token_name, token)
        return await self._post(path, await self.token(), payload)

    async def _post(self, path: str, token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Makes one call; raises ApiError for an error answer."""
        # The platforms show \\u escapes literally in some messages: send real UTF-8.
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            response = await self.client.post(
                path,
                params={"access_token": token},
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise ApiError(-1, f"unreachable: {type(exc).__name__}") from None
        return _answer(response)

    async def _fetch_token(self) -> tuple[str, float]:
        """Fetches a new access token and its lifetime in seconds."""
        try:
            response = await self.client.get(self._refresh_path, params=self._refresh_params)
        except httpx.HTTPError as exc:
            raise ApiError(-1, f"unreachable: {type(exc).__name__}") from None
        data = _answer(response)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise ApiError(-1, "token answer without access_token")
        return token, float(data.get("expires_in") or 7200)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """Decodes a platform answer, raising ApiError for an HTTP or `errcode` failure."""
    if response.status_code != 200:
        raise ApiError(-1, f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise ApiError(-1, "answer is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(-1, "answer is not a JSON object")
    code = int(data.get("errcode") or 0)
    if code:
        raise ApiError(code, str(data.get("errmsg", "")))
    return data


def common_failure(label: str, error: ApiError, *, quota_retry: float) -> SendResult:
    """Turns an API error both platforms share into a send result, with a clear log line."""
    if error.code in UNTRUSTED_IP:
        logger.error(
            "%s refused this server's IP address (%d): add it to the platform's IP allowlist",
            label,
            error.code,
        )
        return SendResult(DeliveryStatus.RETRY, f"untrusted IP ({error.code})", retry_after=3600)
    if error.code == API_QUOTA:
        logger.error("%s API quota exhausted (45009): holding pushes", label)
        return SendResult(DeliveryStatus.RETRY, "API quota exhausted (45009)", quota_retry)
    if error.code in TOKEN_INVALID:
        logger.error("%s still refused a freshly fetched token (%d)", label, error.code)
        return SendResult(DeliveryStatus.RETRY, f"access token refused ({error.code})", 60)
    logger.warning("%s push failed: %d %s", label, error.code, error.message)
    return SendResult(DeliveryStatus.RETRY, f"{error.code} {error.message}")


# --- the callback endpoint --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signed:
    """A callback whose signatures were checked: its timestamp, nonce and encrypted payload."""

    timestamp: str
    nonce: str
    encrypted: str | None = None
    msg_signature: str = ""


class CallbackChannel(ABC):
    """A platform callback URL: checks, decrypts, deduplicates, answers within the deadline."""

    channel: Channel
    path: str
    name: str

    def __init__(
        self,
        *,
        core: Core,
        clock: Clock,
        reply_deadline: float,
        max_body_bytes: int,
        database: Database,
    ) -> None:
        self._core = core
        self._database = database
        self._clock = clock
        self._deadline = reply_deadline
        self._max_body = max_body_bytes
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        # Deliveries whose answer goes out by push after the deadline: their retries get
        # "success", not the stored answer a second time.
        self._pushed: OrderedDict[str, None] = OrderedDict()
        self._workers = ThreadPoolExecutor(
            max_workers=SQLITE_CORE_WORKERS if database.dialect == "sqlite" else CORE_WORKERS,
            thread_name_prefix=f"{self.name}-core",
        )

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """The callback route on the shared HTTP server."""
        return [Route(self.path, self._endpoint, methods=["GET", "POST"])]

    # --- what each platform says ---------------------------------------------------------

    @abstractmethod
    def _echo(self, query: Mapping[str, str]) -> str:
        """Checks a URL verification request and returns what to echo (raises RefusedError)."""

    @abstractmethod
    def _check_url(self, query: Mapping[str, str]) -> None:
        """Checks what the URL of a message alone shows, before its body is read (RefusedError)."""

    @abstractmethod
    def _verify(self, query: Mapping[str, str], body: bytes) -> Signed:
        """Checks a message's signatures before anything parses its body (raises RefusedError)."""

    @abstractmethod
    def _decrypt(self, signed: Signed) -> str:
        """Decrypts a safe-mode payload into message XML (raises RefusedError)."""

    @abstractmethod
    def _parse(self, xml: str, fields: Mapping[str, str]) -> Any:
        """Parses message XML (whose top-level `fields` are given) into a wechatpy message."""

    @abstractmethod
    def _inbound(self, message: Any) -> Inbound:
        """Describes a message for the core, flagged unsupported when it has nothing to read."""

    @abstractmethod
    def _reply_xml(self, message: Any, text: str) -> str:
        """Renders a passive text reply to `message`."""

    @abstractmethod
    def _encrypt(self, xml: str, signed: Signed) -> str:
        """Encrypts a passive reply for a safe-mode request."""

    @abstractmethod
    async def push_texts(self, user_id: str, texts: Sequence[str]) -> SendResult:
        """Pushes texts to a user who just wrote to us (no window or template applies)."""

    # --- the endpoint --------------------------------------------------------------------

    async def _in_core(self, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Runs a blocking core call on the channel's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._workers, functools.partial(call, *args, **kwargs))

    def _stop_workers(self) -> None:
        """Lets the core threads end once their work is done."""
        self._workers.shutdown(wait=False)

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
        fields = parse_envelope(plain)
        try:
            message = self._parse(plain, fields)
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
        inbound = self._inbound(message)
        work = asyncio.ensure_future(self._answer(inbound, fields, once=(used, key)))
        # The platform's 5 seconds run from its request, not from when the checks finished.
        left = max(self._deadline - (loop.time() - arrived), 0.0)
        done, _ = await asyncio.wait({work}, timeout=left)
        if not done:
            logger.info(
                "%s answer not ready within %gs: pushing it later", self.name, self._deadline
            )
            self._pushed[key] = None
            while len(self._pushed) > PUSHED_REMEMBERED:
                self._pushed.popitem(last=False)
            later = BackgroundTask(self._push_later, work, fields["FromUserName"])
            return PlainTextResponse(SUCCESS, background=later)
        try:
            rendered = work.result()
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
        if _is_event(fields):
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

    async def _answer(
        self, inbound: Inbound, fields: Mapping[str, str], *, once: Sequence[str]
    ) -> Rendered:
        """Asks the core (in order per user) and renders its replies with numbered options."""
        async with self._in_order(inbound.user_id):
            return await self._in_core(self._converse, inbound, once)

    def _converse(self, inbound: Inbound, once: Sequence[str]) -> Rendered:
        """Runs the core on one delivery and renders its replies as numbered options (blocking)."""
        answer = self._core.answer(inbound, once=once, numbered=True)
        rendered = render_numbered(answer.replies, translator(answer.locale))
        if answer.repeat is not None:
            return Rendered(rendered.texts, rendered.options, repeat=answer.repeat)
        return rendered

    async def _push_later(self, work: asyncio.Future[Rendered], user_id: str) -> None:
        """Waits for a late answer and pushes it through the platform's message API."""
        try:
            rendered = await work
        except Exception:
            logger.exception("%s answer failed after the deadline", self.name)
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
            async with lock:
                yield
        finally:
            self._waiting[user_id] -= 1
            if not self._waiting[user_id]:
                del self._waiting[user_id], self._locks[user_id]


def nonce_key(timestamp: str, nonce: str) -> str:
    """Names a signed request's nonce as a delivery key: any second use of it is refused."""
    return f"nonce:{timestamp}:{nonce}"


def delivery_key(fields: Mapping[str, str]) -> str | None:
    """Names one delivery for deduplication: its MsgId, else sender, time and event."""
    sender = fields.get("FromUserName", "")
    if not sender:
        return None
    msg_id = fields.get("MsgId", "").strip()
    if msg_id and msg_id != "0":
        return f"msg:{msg_id}"
    event = fields.get("Event", "").lower()
    return f"event:{sender}:{fields.get('CreateTime', '')}:{event}"


def _is_event(fields: Mapping[str, str]) -> bool:
    """Tells whether a message is an event (which, unlike a message, expects no reply)."""
    return fields.get("MsgType", "").lower() == "event"
