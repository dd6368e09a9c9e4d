"""Time as a dependency: the system clock in production, a frozen one in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Anything that can say what time it is now."""

    @property
    def tz(self) -> ZoneInfo:
        """The configured local time zone."""
        ...

    def now(self) -> datetime:
        """Returns the current aware time in the local time zone."""
        ...


class SystemClock:
    """The real clock, in the configured time zone."""

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz

    @property
    def tz(self) -> ZoneInfo:
        """The configured local time zone."""
        return self._tz

    def now(self) -> datetime:
        """Returns the current aware time in the local time zone."""
        return datetime.now(self._tz)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime, tz: ZoneInfo | None = None) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._tz = tz or ZoneInfo("Asia/Shanghai")
        self._now = at.astimezone(self._tz)

    @property
    def tz(self) -> ZoneInfo:
        """The configured local time zone."""
        return self._tz

    def now(self) -> datetime:
        """Returns the frozen time."""
        return self._now

    def set(self, at: datetime) -> None:
        """Moves the clock to `at`."""
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = at.astimezone(self._tz)

    def advance(self, delta: timedelta) -> None:
        """Moves the clock forward by `delta`."""
        self._now = self._now + delta


def today(clock: Clock) -> date:
    """Returns the local calendar date of `clock`."""
    return clock.now().date()


def utcnow(clock: Clock) -> datetime:
    """Returns the clock's time in UTC, for storage."""
    return clock.now().astimezone(UTC)
