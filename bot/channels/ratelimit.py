"""Outgoing rate limits: sliding windows per bot, per chat and per group, plus flood-wait pauses."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
RetryAfterOf = Callable[[BaseException], float | None]

# Sweeping idle windows keeps memory bounded when a bot talks to many chats.
_SWEEP_EVERY = 1024


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` sends within any `period` seconds."""

    count: int
    period: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.period <= 0:
            raise ValueError("a limit needs count >= 1 and period > 0")


class _Window:
    """The send times still inside the longest period of a set of limits."""

    __slots__ = ("limits", "times")

    def __init__(self, limits: Sequence[Limit]) -> None:
        self.limits = tuple(limits)
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Returns how long until one more send fits every limit (0 when it fits now)."""
        longest = max(limit.period for limit in self.limits)
        while self.times and now - self.times[0] >= longest:
            self.times.popleft()
        wait = 0.0
        for limit in self.limits:
            inside = [t for t in self.times if now - t < limit.period]
            if len(inside) >= limit.count:
                wait = max(wait, inside[-limit.count] + limit.period - now)
        return wait

    def idle(self, now: float) -> bool:
        """Tells whether no recorded send still counts against any limit."""
        longest = max(limit.period for limit in self.limits)
        return not self.times or now - self.times[-1] >= longest


class RateLimiter:
    """Spaces sends so they stay under every limit and waits out the platform's flood pauses."""

    def __init__(
        self,
        *,
        overall: Sequence[Limit] = (),
        per_chat: Sequence[Limit] = (),
        per_group: Sequence[Limit] = (),
        max_retries: int = 5,
        max_wait: float = 300.0,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._overall = _Window(overall) if overall else None
        self._per_chat = tuple(per_chat)
        self._per_group = tuple(per_group)
        self._chats: dict[str, _Window] = {}
        self._groups: dict[str, _Window] = {}
        self._paused_until: dict[str | None, float] = {}
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._monotonic = monotonic
        self._sleep = sleep
        self._acquired = 0

    def _windows(self, chat: str | None, group: bool) -> list[_Window]:
        """Returns the windows a send to `chat` counts against."""
        windows = [self._overall] if self._overall else []
        if chat is None:
            return windows
        if self._per_chat:
            windows.append(self._chats.setdefault(chat, _Window(self._per_chat)))
        if group and self._per_group:
            windows.append(self._groups.setdefault(chat, _Window(self._per_group)))
        return windows

    def _pause_left(self, chat: str | None, now: float) -> float:
        """Returns how much of a flood pause on the bot or on `chat` is left."""
        left = self._paused_until.get(None, now) - now
        if chat is not None:
            left = max(left, self._paused_until.get(chat, now) - now)
        return max(left, 0.0)

    async def acquire(
        self, chat: str | None = None, *, group: bool = False, throttle: bool = True
    ) -> None:
        """Waits until a send to `chat` fits every limit, then counts it."""
        while True:
            now = self._monotonic()
            wait = self._pause_left(chat, now)
            windows = self._windows(chat, group) if throttle else []
            for window in windows:
                wait = max(wait, window.wait(now))
            if wait <= 0:
                # Checking and recording without an await in between makes this atomic.
                for window in windows:
                    window.times.append(now)
                self._sweep(now)
                return
            await self._sleep(wait)

    def pause(self, seconds: float, chat: str | None = None) -> None:
        """Holds every send to `chat` (or every send, when None) for `seconds`."""
        until = self._monotonic() + seconds
        self._paused_until[chat] = max(self._paused_until.get(chat, until), until)

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        chat: str | None = None,
        group: bool = False,
        throttle: bool = True,
        retry_after_of: RetryAfterOf,
    ) -> T:
        """Makes `call` within the limits; on a flood answer waits as told and tries again."""
        attempt = 0
        while True:
            await self.acquire(chat, group=group, throttle=throttle)
            try:
                return await call()
            except Exception as exc:
                retry_after = retry_after_of(exc)
                if retry_after is None:
                    raise
                attempt += 1
                self.pause(retry_after, chat)
                if attempt > self._max_retries or retry_after > self._max_wait:
                    raise
                logger.warning("Flood control: retrying in %gs (attempt %d)", retry_after, attempt)

    def _sweep(self, now: float) -> None:
        """Forgets windows and pauses that no longer hold anything back."""
        self._acquired += 1
        if self._acquired % _SWEEP_EVERY:
            return
        for windows in (self._chats, self._groups):
            for key in [key for key, window in windows.items() if window.idle(now)]:
                del windows[key]
        for chat in [chat for chat, until in self._paused_until.items() if until <= now]:
            del self._paused_until[chat]
