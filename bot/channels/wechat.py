"""The WeChat official account (公众号) channel: callback XML in, passive replies and pushes out.

wechatpy does the crypto (safe mode's AES and the message format) and parses messages; the HTTP
calls go through httpx.AsyncClient in `wechat_common.ApiClient`, with tokens in the database.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from starlette.routing import BaseRoute
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply

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
    common_failure,
    encrypted_field,
    render_numbered,
    shared_location,
    signed_parameters,
    split_text,
    start_command,
    xml_text,
)
from bot.channels.wechat_tokens import OfferedOptions, TokenStore, last_contact
from bot.config import ConfigError, Settings
from bot.core.clock import Clock
from bot.core.inbound import Channel, ChatKind, Inbound
from bot.core.ports import Core, DeliveryStatus, SendResult
from bot.core.reply import Reply
from bot.texts.translation import translator
from storage.engine import Database

logger = logging.getLogger(__name__)

PATH = "/wechat"
LABEL = "WeChat official account"
# Customer-service messages reach a member only within 48 hours of their last message.
SERVICE_WINDOW = timedelta(hours=48)
# The template must have one keyword named like this, e.g. "通知内容：{{content.DATA}}".
TEMPLATE_FIELD = "content"

OUT_OF_WINDOW = frozenset({45015, 45047})
NOT_FOLLOWING = frozenset({40003, 43004})
BAD_TEMPLATE = frozenset({40037})

_ECHO = re.compile(r"^[A-Za-z0-9+/=_-]{1,512}$")


def options_for(settings: Settings, database: Database, clock: Clock) -> OfferedOptions:
    """Returns the shared memory of offered numbered options, kept as long as a conversation."""
    return OfferedOptions(
        database, clock, ttl=timedelta(minutes=settings.conversation_timeout_minutes)
    )


def seconds_to_midnight(now: datetime) -> float:
    """Returns the seconds until the next local midnight, when the daily API quota resets."""
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((tomorrow - now).total_seconds(), 60.0)


class WeChatSender:
    """Pushes to followers: customer-service messages within 48 hours, else a template message."""

    channel = Channel.WECHAT

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database,
        clock: Clock,
        tokens: TokenStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not (settings.wechat_app_id and settings.wechat_app_secret):
            raise ConfigError(
                "GONGJIAN_WECHAT_APP_ID: the app id and secret are required to push messages"
            )
        self._database = database
        self._clock = clock
        self._template_id = settings.wechat_template_id
        self._default_locale = settings.default_locale
        self._options = options_for(settings, database, clock)
        self.api = ApiClient(
            label=LABEL,
            base_url=settings.wechat_api_base,
            token_name=f"wechat:{settings.wechat_app_id}",
            refresh_path="/cgi-bin/token",
            refresh_params={
                "grant_type": "client_credential",
                "appid": settings.wechat_app_id,
                "secret": settings.wechat_app_secret.get_secret_value(),
            },
            tokens=tokens or TokenStore(database, clock),
            transport=transport,
        )

    async def aclose(self) -> None:
        """Closes the HTTP client."""
        await self.api.aclose()

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Pushes `reply` to the follower `recipient` (an OpenID), within WeChat's rules."""
        last_seen, locale = await asyncio.to_thread(
            last_contact, self._database, channel=self.channel, external_id=recipient
        )
        rendered = render_numbered([reply], translator(locale or self._default_locale))
        if not rendered.texts:
            return SendResult(DeliveryStatus.UNDELIVERABLE, "empty reply")
        now = self._clock.now()
        if last_seen is not None and now - last_seen < SERVICE_WINDOW:
            result = await self._customer_service(recipient, rendered.texts)
        else:
            result = None
            logger.info("%s: member silent for 48 hours, customer-service window closed", LABEL)
        if result is None:
            result = await self._template(recipient, rendered.texts)
        if result.status is DeliveryStatus.SENT:
            await asyncio.to_thread(
                self._options.remember,
                channel=self.channel,
                user_id=recipient,
                options=list(rendered.options),
            )
        return result

    async def send_texts(self, recipient: str, texts: Sequence[str]) -> SendResult:
        """Sends texts as customer-service messages to a follower who just wrote to us."""
        result = await self._customer_service(recipient, texts)
        if result is None:
            return SendResult(DeliveryStatus.UNDELIVERABLE, "customer-service window closed")
        return result

    async def _customer_service(self, recipient: str, texts: Sequence[str]) -> SendResult | None:
        """Sends customer-service text messages; None when WeChat says the window is closed."""
        for text in texts:
            for piece in split_text(text):
                payload = {"touser": recipient, "msgtype": "text", "text": {"content": piece}}
                try:
                    await self.api.call("/cgi-bin/message/custom/send", payload)
                except ApiError as error:
                    if error.code in OUT_OF_WINDOW:
                        logger.info(
                            "%s refused a customer-service message (%d): outside the 48-hour"
                            " window or over the per-window count",
                            LABEL,
                            error.code,
                        )
                        return None
                    return self._failure(error)
        return SendResult(DeliveryStatus.SENT)

    async def _template(self, recipient: str, texts: Sequence[str]) -> SendResult:
        """Sends a template message, or reports that none is configured."""
        if not self._template_id:
            return SendResult(
                DeliveryStatus.UNDELIVERABLE,
                "outside the 48-hour customer-service window and no template configured"
                " (GONGJIAN_WECHAT_TEMPLATE_ID)",
            )
        text = split_text("\n\n".join(texts))[0]
        payload = {
            "touser": recipient,
            "template_id": self._template_id,
            "data": {TEMPLATE_FIELD: {"value": text}},
        }
        try:
            await self.api.call("/cgi-bin/message/template/send", payload)
        except ApiError as error:
            if error.code in BAD_TEMPLATE:
                logger.error("%s: GONGJIAN_WECHAT_TEMPLATE_ID is not a valid template", LABEL)
                return SendResult(DeliveryStatus.UNDELIVERABLE, f"invalid template ({error.code})")
            return self._failure(error)
        return SendResult(DeliveryStatus.SENT, "template message")

    def _failure(self, error: ApiError) -> SendResult:
        """Turns an API error into a send result."""
        if error.code in NOT_FOLLOWING:
            logger.info("%s: recipient does not follow the account (%d)", LABEL, error.code)
            return SendResult(DeliveryStatus.UNDELIVERABLE, f"not a follower ({error.code})")
        return common_failure(LABEL, error, quota_retry=seconds_to_midnight(self._clock.now()))


class WeChatChannel(CallbackChannel):
    """The official account's callback URL, plain or safe mode, with its sender for pushes."""

    channel = Channel.WECHAT
    path = PATH
    name = "wechat"

    def __init__(
        self,
        settings: Settings,
        core: Core,
        *,
        database: Database,
        clock: Clock,
        sender: WeChatSender | None = None,
        reply_deadline: float = DEFAULT_REPLY_DEADLINE,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if settings.wechat_token is None or not settings.wechat_app_id:
            raise ConfigError("GONGJIAN_WECHAT_TOKEN: required for the WeChat official account")
        super().__init__(
            core=core,
            clock=clock,
            reply_deadline=reply_deadline,
            max_body_bytes=max_body_bytes,
            database=database,
        )
        self._token = settings.wechat_token.get_secret_value()
        self._compatible = settings.wechat_compatible_mode
        self._crypto = (
            WeChatCrypto(
                self._token, settings.wechat_aes_key.get_secret_value(), settings.wechat_app_id
            )
            if settings.wechat_aes_key is not None
            else None
        )
        self.sender = sender or WeChatSender(settings, database=database, clock=clock)

    async def start(self) -> None:
        """Needs nothing: WeChat calls us."""

    async def stop(self) -> None:
        """Closes the sender's HTTP client and lets the core threads end."""
        await self.sender.aclose()
        self._stop_workers()

    async def push_texts(self, user_id: str, texts: Sequence[str]) -> SendResult:
        """Pushes a late answer as customer-service messages."""
        return await self.sender.send_texts(user_id, texts)

    def _echo(self, query: Mapping[str, str]) -> str:
        """Answers the URL check: echoes `echostr` when the signature holds."""
        timestamp, nonce = signed_parameters(query)
        check_signature(query.get("signature"), self._token, timestamp, nonce)
        check_fresh(timestamp, self._clock.now())
        echo = query.get("echostr", "")
        if not _ECHO.fullmatch(echo):
            raise RefusedError(400, "malformed echostr")
        return echo

    def _check_url(self, query: Mapping[str, str]) -> None:
        """Checks `signature` (over the URL only) and that the mode is the one configured."""
        timestamp, nonce = signed_parameters(query)
        check_signature(query.get("signature"), self._token, timestamp, nonce)
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if encrypted and self._crypto is None:
            raise RefusedError(403, "safe-mode message, but GONGJIAN_WECHAT_AES_KEY is not set")
        if not encrypted and self._crypto is not None and not self._compatible:
            # A plaintext body is not covered by any signature: with the key set, anyone holding
            # a signed URL could post any message under any openid.
            raise RefusedError(403, "plaintext message in safe mode")

    def _verify(self, query: Mapping[str, str], body: bytes) -> Signed:
        """Checks, in safe mode, `msg_signature` over the encrypted payload found in the body."""
        timestamp, nonce = signed_parameters(query)
        if query.get("encrypt_type", "raw").lower() != "aes":
            return Signed(timestamp, nonce)
        encrypted = encrypted_field(body)
        msg_signature = query.get("msg_signature", "")
        check_signature(msg_signature, self._token, timestamp, nonce, encrypted)
        return Signed(timestamp, nonce, encrypted, msg_signature)

    def _decrypt(self, signed: Signed) -> str:
        """Decrypts a safe-mode payload with the AES key, checking it names our app id."""
        assert self._crypto is not None and signed.encrypted is not None
        try:
            plain: str = self._crypto.decrypt_message(
                {"Encrypt": signed.encrypted}, signed.msg_signature, signed.timestamp, signed.nonce
            )
        except Exception:
            raise RefusedError(
                403, "payload does not decrypt for this app id and AES key"
            ) from None
        return plain

    def _parse(self, xml: str, fields: Mapping[str, str]) -> Any:
        """Parses a message with wechatpy."""
        return parse_message(xml)

    def _inbound(self, message: Any) -> Inbound:
        """Turns texts, locations, menu clicks and follows into inbound messages; else unsupported."""
        user = str(message.source)
        kind = str(message.type)
        text, location = "", None
        if kind == "text":
            text = str(message.content or "").strip()
        elif kind == "voice" and message.recognition:
            text = str(message.recognition).strip()
        elif kind == "location":
            location = shared_location(message.location_x, message.location_y, message.label)
        elif kind == "event":
            text = _event_text(str(message.event), message)
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
        """Renders a passive text reply with wechatpy."""
        reply = TextReply(
            message=message, content=xml_text(text), time=int(self._clock.now().timestamp())
        )
        xml: str = reply.render()
        return xml

    def _encrypt(self, xml: str, signed: Signed) -> str:
        """Encrypts a passive reply for safe mode."""
        assert self._crypto is not None
        encrypted: str = self._crypto.encrypt_message(
            xml, signed.nonce, str(int(self._clock.now().timestamp()))
        )
        return encrypted


def _event_text(event: str, message: Any) -> str:
    """Returns what an event means as a command; empty for events that need no answer."""
    if event == "subscribe":
        return "/start"
    if event in ("subscribe_scan", "scan"):
        return start_command(str(message.scene_id or ""))
    if event == "click":
        return str(message.key or "").strip()
    return ""


def wechat_routes(
    settings: Settings, core: Core, *, database: Database, clock: Clock
) -> list[BaseRoute]:
    """Returns the `/wechat` callback route for the shared HTTP server."""
    return list(WeChatChannel(settings, core, database=database, clock=clock).routes)


def wechat_sender(settings: Settings, *, database: Database, clock: Clock) -> WeChatSender:
    """Builds the official account's `Sender` for the outbox."""
    return WeChatSender(settings, database=database, clock=clock)
