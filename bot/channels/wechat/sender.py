"""Pushes to followers of the official account: customer-service messages, else a template."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from bot.channels.weixin.api import ApiClient, ApiError, common_failure
from bot.channels.weixin.render import split_message
from bot.channels.weixin.sender import PushSender
from bot.channels.weixin.tokens import TokenStore
from bot.config import ConfigError, Settings
from bot.core.clock import Clock
from bot.core.inbound import Channel
from bot.core.ports import DeliveryStatus, SendResult
from storage.engine import Database

logger = logging.getLogger(__name__)

LABEL = "WeChat official account"
# Customer-service messages reach a member only within 48 hours of their last message.
SERVICE_WINDOW = timedelta(hours=48)
# The template must have one keyword named like this, e.g. "通知内容：{{content.DATA}}".
TEMPLATE_FIELD = "content"

OUT_OF_WINDOW = frozenset({45015, 45047})
NOT_FOLLOWING = frozenset({40003, 43004})
BAD_TEMPLATE = frozenset({40037})


def seconds_to_midnight(now: datetime) -> float:
    """Returns the seconds until the next local midnight, when the daily API quota resets."""
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((tomorrow - now).total_seconds(), 60.0)


class WeChatSender(PushSender):
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
        super().__init__(
            database=database,
            clock=clock,
            default_locale=settings.default_locale,
            options_ttl=timedelta(minutes=settings.conversation_timeout_minutes),
        )
        self._template_id = settings.wechat_template_id
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

    async def _push(
        self, recipient: str, texts: Sequence[str], *, last_seen: datetime | None
    ) -> SendResult:
        """Sends customer-service messages within the 48-hour window, else a template message."""
        result = None
        if last_seen is not None and self._clock.now() - last_seen < SERVICE_WINDOW:
            result = await self._customer_service(recipient, texts)
        else:
            logger.info("%s: member silent for 48 hours, customer-service window closed", LABEL)
        if result is None:
            result = await self._template(recipient, texts)
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
            for piece in split_message(text):
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
        text = split_message("\n\n".join(texts))[0]
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
