"""The official account's callback URL: plain or safe mode, follows and scanned invite codes.

wechatpy parses messages and `bot.channels.weixin.crypto` does safe mode's AES; the endpoint
itself is `CallbackChannel`, shared with WeCom.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from wechatpy import parse_message
from wechatpy.messages import MESSAGE_TYPES

from bot.channels.wechat.sender import WeChatSender
from bot.channels.weixin.callback import CallbackChannel, CallbackKeys, message_of_type
from bot.channels.weixin.checks import (
    RefusedError,
    check_fresh,
    check_signature,
    signed_parameters,
)
from bot.channels.weixin.crypto import MessageCrypto
from bot.channels.weixin.render import start_command
from bot.channels.weixin.sender import PushSender
from bot.config import ConfigError, Settings
from bot.core.clock import Clock
from bot.core.inbound import Channel
from storage.engine import Database

PATH = "/wechat"

_ECHO = re.compile(r"^[A-Za-z0-9+/=_-]{1,512}$")


class WeChatChannel(CallbackChannel):
    """The official account's callback URL, plain or safe mode, with its sender for pushes."""

    channel = Channel.WECHAT
    path = PATH
    name = "wechat"
    crypto_owner: ClassVar[str] = "app id"
    # Whether plaintext messages are taken even with the AES key set (read by `_configure`).
    _compatible: bool

    def _configure(self, settings: Settings) -> CallbackKeys:
        """Reads the account's token and, for safe mode, its AES key and app id."""
        if settings.wechat_token is None or not settings.wechat_app_id:
            raise ConfigError("GONGJIAN_WECHAT_TOKEN: required for the WeChat official account")
        token = settings.wechat_token.get_secret_value()
        self._compatible = settings.wechat_compatible_mode
        crypto = (
            MessageCrypto(
                token=token,
                aes_key=settings.wechat_aes_key.get_secret_value(),
                receiver=settings.wechat_app_id,
            )
            if settings.wechat_aes_key is not None
            else None
        )
        return CallbackKeys(token, crypto)

    def _new_sender(self, settings: Settings, *, database: Database, clock: Clock) -> PushSender:
        """Builds the sender of customer-service and template messages."""
        return WeChatSender(settings, database=database, clock=clock)

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
        encrypted = self._encrypted(query)
        if encrypted and self._crypto is None:
            raise RefusedError(403, "safe-mode message, but GONGJIAN_WECHAT_AES_KEY is not set")
        if not encrypted and self._crypto is not None and not self._compatible:
            # A plaintext body is not covered by any signature: with the key set, anyone holding
            # a signed URL could post any message under any openid.
            raise RefusedError(403, "plaintext message in safe mode")

    def _encrypted(self, query: Mapping[str, str]) -> bool:
        """Tells whether a message comes in safe mode (`encrypt_type=aes`)."""
        return query.get("encrypt_type", "raw").lower() == "aes"

    def _parse(self, xml: str, fields: Mapping[str, str], *, flat: bool) -> Any:
        """Parses a message with wechatpy (a flat message, the usual text, from its fields)."""
        return message_of_type(MESSAGE_TYPES, fields, flat=flat) or parse_message(xml)

    def _message_text(self, kind: str, message: Any) -> str:
        """Returns a text message's content, or what the platform recognized in a voice message."""
        if kind == "voice" and message.recognition:
            return str(message.recognition).strip()
        return super()._message_text(kind, message)

    def _event_text(self, event: str, message: Any) -> str:
        """Follows start the bot (with a scanned invite code); menu clicks send their key."""
        if event == "subscribe":
            return "/start"
        if event in ("subscribe_scan", "scan"):
            return start_command(str(message.scene_id or ""))
        if event == "click":
            return str(message.key or "").strip()
        return ""
