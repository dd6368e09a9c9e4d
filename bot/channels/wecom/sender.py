"""Pushes WeCom app messages to members through message/send, within the per-member limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import httpx

from bot.channels.ratelimit import Limit, RateLimiter
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

LABEL = "WeCom app"
# WeCom's published limit for app messages to one member.
MEMBER_LIMITS = (Limit(30, 60.0), Limit(1000, 3600.0))
# WeCom's frequency limits are per minute and per hour, not per day.
QUOTA_RETRY_SECONDS = 60.0

NOT_A_MEMBER = frozenset({60111, 81013})
BUSY = frozenset({45033})


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


class WeComSender(PushSender):
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
        super().__init__(
            database=database,
            clock=clock,
            default_locale=settings.default_locale,
            options_ttl=timedelta(minutes=settings.conversation_timeout_minutes),
        )
        self._agent_id = settings.wecom_agent_id
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

    async def _push(
        self, recipient: str, texts: Sequence[str], *, last_seen: datetime | None
    ) -> SendResult:
        """Sends app messages: WeCom has no service window."""
        return await self.send_texts(recipient, texts)

    async def send_texts(self, recipient: str, texts: Sequence[str]) -> SendResult:
        """Sends texts as app messages, each counted against the member's limits."""
        for text in texts:
            for piece in split_message(text):
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
