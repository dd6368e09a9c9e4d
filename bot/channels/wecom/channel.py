"""The WeCom (企业微信) app's callback URL: always encrypted, messages for this agent only.

WeCom always encrypts callbacks (there is no plain mode); `bot.channels.weixin.crypto` does the
AES and wechatpy.work parses messages; the endpoint itself is `CallbackChannel`, shared with the
official account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from wechatpy.work import parse_message
from wechatpy.work.messages import MESSAGE_TYPES

from bot.channels.wecom.sender import WeComSender
from bot.channels.weixin.callback import CallbackChannel, CallbackKeys, message_of_type
from bot.channels.weixin.checks import (
    RefusedError,
    check_fresh,
    check_signature,
    check_signature_format,
    signed_parameters,
)
from bot.channels.weixin.crypto import CryptoError, MessageCrypto
from bot.channels.weixin.sender import PushSender
from bot.config import ConfigError, Settings
from bot.core.clock import Clock
from bot.core.inbound import Channel
from storage.engine import Database

PATH = "/wecom"

_ECHO = re.compile(r"^[A-Za-z0-9+/=]{1,1024}$")


class WeComChannel(CallbackChannel):
    """The WeCom app's callback URL (always in safe mode), with its sender for pushes."""

    channel = Channel.WECOM
    path = PATH
    name = "wecom"
    crypto_owner: ClassVar[str] = "corp id"
    # The agent whose messages this URL takes (read from the settings by `_configure`).
    _agent_id: int

    def _configure(self, settings: Settings) -> CallbackKeys:
        """Reads the app's token, AES key, corp id and agent id (WeCom always encrypts)."""
        if (
            settings.wecom_token is None
            or settings.wecom_aes_key is None
            or not settings.wecom_corp_id
            or settings.wecom_agent_id is None
        ):
            raise ConfigError("GONGJIAN_WECOM_TOKEN: required for the WeCom app")
        token = settings.wecom_token.get_secret_value()
        self._agent_id = settings.wecom_agent_id
        crypto = MessageCrypto(
            token=token,
            aes_key=settings.wecom_aes_key.get_secret_value(),
            receiver=settings.wecom_corp_id,
        )
        return CallbackKeys(token, crypto)

    def _new_sender(self, settings: Settings, *, database: Database, clock: Clock) -> PushSender:
        """Builds the sender of app messages."""
        return WeComSender(settings, database=database, clock=clock)

    def _echo(self, query: Mapping[str, str]) -> str:
        """Answers the URL check: decrypts `echostr` when its signature holds."""
        timestamp, nonce = signed_parameters(query)
        echo = query.get("echostr", "")
        if not _ECHO.fullmatch(echo):
            raise RefusedError(400, "malformed echostr")
        signature = query.get("msg_signature", "")
        check_signature(signature, self._token, timestamp, nonce, echo)
        check_fresh(timestamp, self._clock.now())
        assert self._crypto is not None
        try:
            plain = self._crypto.decrypt(echo)
        except CryptoError:
            raise RefusedError(
                403, "echostr does not decrypt for this corp id and AES key"
            ) from None
        return plain

    def _check_url(self, query: Mapping[str, str]) -> None:
        """Checks that the URL carries a well-formed signature (it covers the body's payload)."""
        check_signature_format(query.get("msg_signature"))

    def _parse(self, xml: str, fields: Mapping[str, str], *, flat: bool) -> Any:
        """Parses a message with wechatpy.work, refusing messages for another app."""
        agent = fields.get("AgentID", "").strip()
        if agent and agent != str(self._agent_id):
            raise RefusedError(400, "message for another agent")
        return message_of_type(MESSAGE_TYPES, fields, flat=flat) or parse_message(xml)

    def _event_text(self, event: str, message: Any) -> str:
        """Follows start the bot; menu clicks send their key."""
        if event == "subscribe":
            return "/start"
        if event == "click":
            return str(message.key or "").strip()
        return ""
