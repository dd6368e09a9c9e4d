"""Telegram's sending limits: 30 messages a second, one a second per chat, 20 a minute per group."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.channels.ratelimit import Limit, RateLimiter, Sleep

# Telegram's published limits: bots.faq "My bot is hitting limits, how do I avoid this?".
# We count a send when it leaves; Telegram counts it when it lands. A few per cent of slack in the
# windows keeps network jitter from squeezing 31 arrivals into one of Telegram's seconds (a 429).
OVERALL_LIMITS = (Limit(30, 1.035),)
PER_CHAT_LIMITS = (Limit(1, 1.02),)
PER_GROUP_LIMITS = (Limit(20, 61.0),)
_THROTTLED_PREFIXES = ("send", "copyMessage", "forwardMessage")


def retry_after_of(error: BaseException) -> float | None:
    """Returns the seconds Telegram asked to wait, when `error` is a flood-control answer."""
    if not isinstance(error, RetryAfter):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def chat_key(chat_id: object) -> tuple[str, bool]:
    """Returns a chat id as text and whether it names a group or channel (negative or @name)."""
    text = str(chat_id)
    return text, text.startswith(("-", "@"))


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


class LimitedRequests(BaseRateLimiter[None]):
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
        chat, group = chat_key(chat_id) if chat_id is not None else (None, False)
        return await self._limiter.run(
            lambda: callback(*args, **kwargs),
            chat=chat,
            group=group,
            # Edits and callback answers have no published per-chat limit: they only wait out
            # flood pauses.
            throttle=endpoint.startswith(_THROTTLED_PREFIXES),
            retry_after_of=retry_after_of,
        )
