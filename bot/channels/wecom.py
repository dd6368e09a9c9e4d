"""The WeCom (企业微信) self-built app channel: encrypted callbacks in, replies and pushes out.

WeCom always encrypts callbacks (there is no plain mode); wechatpy.work does the crypto and
parses messages, httpx makes the API calls with the token shared through the database.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from starlette.routing import BaseRoute
from wechatpy.work import parse_message
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.replies import TextReply

from bot.channels.ratelimit import Limit, RateLimiter
from bot.channels.wechat import options_for
from bot.channels.wechat_common import (
    DEFAULT_REPLY_DEADLINE,
    MAX_BODY_BYTES,
    ApiClient,
    ApiError,
    CallbackChannel,
    RefusedError,
    Signed,
    check_fresh,
    check_signature,
    check_signature_format,
    common_failure,
    encrypted_field,
    render_numbered,
    shared_location,
    signed_parameters,
    split_text,
    xml_text,
)
from bot.channels.wechat_tokens import TokenStore, last_contact
from bot.config import ConfigError, Settings
from bot.core.clock import Clock
from bot.core.inbound import Channel, ChatKind, Inbound
from bot.core.ports import Core, DeliveryStatus, SendResult
from bot.core.reply import Reply
from bot.texts.translation import translator
from storage.engine import Database

logger = logging.getLogger(__name__)

PATH = "/wecom"
LABEL = "WeCom app"
# WeCom's published limit for app messages to one member.
MEMBER_LIMITS = (Limit(30, 60.0), Limit(1000, 3600.0))
# WeCom's frequency limits are per minute and per hour, not per day.
QUOTA_RETRY_SECONDS = 60.0

NOT_A_MEMBER = frozenset({60111, 81013})
BUSY = frozenset({45033})

_ECHO = re.compile(r"^[A-Za-z0-9+/=]{1,1024}$")


class _WouldWaitError(Exception):
    """A send would break a per-member limit; `seconds` says when it would fit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


async def _refuse_to_wait(seconds: float) -> None:
    """Stands in for `sleep` in the limiter: the outbox reschedules instead of blocking here."""
    raise _WouldWaitError(seconds)


def member_limiter(monotonic: Callable[[], float] = time.monotonic) -> RateLimiter:
    """Builds the per-member limiter (30 a minute, 1,000 an hour) that refuses instead of waiting."""
    return RateLimiter(per_chat=MEMBER_LIMITS, monotonic=monotonic, sleep=_refuse_to_wait)


class WeComSender:
    """Pushes app messages to members through message/send, within the per-member limits."""

    channel = Channel.WECOM

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database,
        clock: Clock,
        tokens: TokenStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if (
            not (settings.wecom_corp_id and settings.wecom_secret)
            or settings.wecom_agent_id is None
        ):
            raise ConfigError(
                "GONGJIAN_WECOM_CORP_ID: the corp id, agent id and secret are required to push"
            )
        self._database = database
        self._agent_id = settings.wecom_agent_id
        self._default_locale = settings.default_locale
        self._options = options_for(settings, database, clock)
        self._limiter = limiter or member_limiter()
        self.api = ApiClient(
            label=LABEL,
            base_url=settings.wecom_api_base,
            token_name=f"wecom:{settings.wecom_corp_id}:{settings.wecom_agent_id}",
            refresh_path="/cgi-bin/gettoken",
            refresh_params={
                "corpid": settings.wecom_corp_id,
                "corpsecret": settings.wecom_secret.get_secret_value(),
            },
            tokens=tokens or TokenStore(database, clock),
            transport=transport,
        )

    async def aclose(self) -> None:
        """Closes the HTTP client."""
        await self.api.aclose()

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Pushes `reply` to the member `recipient` (a WeCom UserID)."""
        _, locale = await asyncio.to_thread(
            last_contact, self._database, channel=self.channel, external_id=recipient
        )
        rendered = render_numbered([reply], translator(locale or self._default_locale))
        if not rendered.texts:
            return SendResult(DeliveryStatus.UNDELIVERABLE, "empty reply")
        result = await self.send_texts(recipient, rendered.texts)
        if result.status is DeliveryStatus.SENT:
            await asyncio.to_thread(
                self._options.remember,
                channel=self.channel,
                user_id=recipient,
                options=list(rendered.options),
            )
        return result

    async def send_texts(self, recipient: str, texts: Sequence[str]) -> SendResult:
        """Sends texts as app messages, each counted against the member's limits."""
        for text in texts:
            for piece in split_text(text):
                try:
                    await self._limiter.acquire(recipient)
                except _WouldWaitError as wait:
                    logger.info("%s: member over 30/min or 1,000/h, holding a push", LABEL)
                    return SendResult(
                        DeliveryStatus.RETRY, "per-member rate limit", retry_after=wait.seconds
                    )
                payload = {
                    "touser": recipient,
                    "msgtype": "text",
                    "agentid": self._agent_id,
                    "text": {"content": piece},
                }
                try:
                    answer = await self.api.call("/cgi-bin/message/send", payload)
                except ApiError as error:
                    return self._failure(error)
                if answer.get("invaliduser"):
                    logger.info("%s: recipient is not a member visible to the app", LABEL)
                    return SendResult(DeliveryStatus.UNDELIVERABLE, "invalid user")
        return SendResult(DeliveryStatus.SENT)

    def _failure(self, error: ApiError) -> SendResult:
        """Turns an API error into a send result."""
        if error.code in NOT_A_MEMBER:
            logger.info("%s: recipient is not in the app's visible range (%d)", LABEL, error.code)
            return SendResult(DeliveryStatus.UNDELIVERABLE, f"not a member ({error.code})")
        if error.code in BUSY:
            logger.warning("%s: too many concurrent calls (%d)", LABEL, error.code)
            return SendResult(DeliveryStatus.RETRY, f"busy ({error.code})", retry_after=5)
        return common_failure(LABEL, error, quota_retry=QUOTA_RETRY_SECONDS)


class WeComChannel(CallbackChannel):
    """The WeCom app's callback URL (always in safe mode), with its sender for pushes."""

    channel = Channel.WECOM
    path = PATH
    name = "wecom"

    def __init__(
        self,
        settings: Settings,
        core: Core,
        *,
        database: Database,
        clock: Clock,
        sender: WeComSender | None = None,
        reply_deadline: float = DEFAULT_REPLY_DEADLINE,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if (
            settings.wecom_token is None
            or settings.wecom_aes_key is None
            or not settings.wecom_corp_id
            or settings.wecom_agent_id is None
        ):
            raise ConfigError("GONGJIAN_WECOM_TOKEN: required for the WeCom app")
        super().__init__(
            core=core,
            clock=clock,
            reply_deadline=reply_deadline,
            max_body_bytes=max_body_bytes,
            database=database,
        )
        self._token = settings.wecom_token.get_secret_value()
        self._agent_id = settings.wecom_agent_id
        self._crypto = WeChatCrypto(
            self._token, settings.wecom_aes_key.get_secret_value(), settings.wecom_corp_id
        )
        self.sender = sender or WeComSender(settings, database=database, clock=clock)

    async def start(self) -> None:
        """Needs nothing: WeCom calls us."""

    async def stop(self) -> None:
        """Closes the sender's HTTP client and lets the core threads end."""
        await self.sender.aclose()
        self._stop_workers()

    async def push_texts(self, user_id: str, texts: Sequence[str]) -> SendResult:
        """Pushes a late answer as app messages."""
        return await self.sender.send_texts(user_id, texts)

    def _echo(self, query: Mapping[str, str]) -> str:
        """Answers the URL check: decrypts `echostr` when its signature holds."""
        timestamp, nonce = signed_parameters(query)
        echo = query.get("echostr", "")
        if not _ECHO.fullmatch(echo):
            raise RefusedError(400, "malformed echostr")
        signature = query.get("msg_signature", "")
        check_signature(signature, self._token, timestamp, nonce, echo)
        check_fresh(timestamp, self._clock.now())
        try:
            plain: str = self._crypto.check_signature(signature, timestamp, nonce, echo)
        except Exception:
            raise RefusedError(
                403, "echostr does not decrypt for this corp id and AES key"
            ) from None
        return plain

    def _check_url(self, query: Mapping[str, str]) -> None:
        """Checks that the URL carries a well-formed signature (it covers the body's payload)."""
        check_signature_format(query.get("msg_signature"))

    def _verify(self, query: Mapping[str, str], body: bytes) -> Signed:
        """Checks `msg_signature` over the encrypted payload found in the body."""
        timestamp, nonce = signed_parameters(query)
        encrypted = encrypted_field(body)
        msg_signature = query.get("msg_signature", "")
        check_signature(msg_signature, self._token, timestamp, nonce, encrypted)
        return Signed(timestamp, nonce, encrypted, msg_signature)

    def _decrypt(self, signed: Signed) -> str:
        """Decrypts the payload with the AES key, checking it names our corp id."""
        assert signed.encrypted is not None
        try:
            plain: str = self._crypto.decrypt_message(
                {"Encrypt": signed.encrypted}, signed.msg_signature, signed.timestamp, signed.nonce
            )
        except Exception:
            raise RefusedError(
                403, "payload does not decrypt for this corp id and AES key"
            ) from None
        return plain

    def _parse(self, xml: str, fields: Mapping[str, str]) -> Any:
        """Parses a message with wechatpy.work, refusing messages for another app."""
        agent = fields.get("AgentID", "").strip()
        if agent and agent != str(self._agent_id):
            raise RefusedError(400, "message for another agent")
        return parse_message(xml)

    def _inbound(self, message: Any) -> Inbound:
        """Turns texts, locations, menu clicks and follows into inbound messages; else unsupported."""
        user = str(message.source)
        kind = str(message.type)
        text, location = "", None
        if kind == "text":
            text = str(message.content or "").strip()
        elif kind == "location":
            location = shared_location(message.location_x, message.location_y, message.label)
        elif kind == "event":
            event = str(message.event)
            if event == "subscribe":
                text = "/start"
            elif event == "click":
                text = str(message.key or "").strip()
        return Inbound(
            channel=self.channel,
            chat_id=user,
            user_id=user,
            text=text,
            location=location,
            chat_kind=ChatKind.PRIVATE,
            extra={"event": str(message.event)} if kind == "event" else {},
            unsupported=not text and location is None,
        )

    def _reply_xml(self, message: Any, text: str) -> str:
        """Renders a passive text reply with wechatpy.work."""
        reply = TextReply(
            message=message, content=xml_text(text), time=int(self._clock.now().timestamp())
        )
        xml: str = reply.render()
        return xml

    def _encrypt(self, xml: str, signed: Signed) -> str:
        """Encrypts a passive reply."""
        encrypted: str = self._crypto.encrypt_message(
            xml, signed.nonce, str(int(self._clock.now().timestamp()))
        )
        return encrypted


def wecom_routes(
    settings: Settings, core: Core, *, database: Database, clock: Clock
) -> list[BaseRoute]:
    """Returns the `/wecom` callback route for the shared HTTP server."""
    return list(WeComChannel(settings, core, database=database, clock=clock).routes)


def wecom_sender(settings: Settings, *, database: Database, clock: Clock) -> WeComSender:
    """Builds the WeCom app's `Sender` for the outbox."""
    return WeComSender(settings, database=database, clock=clock)
