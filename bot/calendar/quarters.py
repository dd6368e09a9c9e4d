"""Calendar quarters, month keys and local-day bounds."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["Quarter", "local_day_bounds", "month_key"]

_QUARTER_RE = re.compile(r"([0-9]{4})[- ]?[Qq]([1-4])")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, e.g. 2026Q4 (October to December 2026)."""

    year: int
    number: int

    def __post_init__(self) -> None:
        """Reject a quarter number outside 1..4 or a year outside 1..9999."""
        if not 1 <= self.number <= 4:
            raise ValueError(f"quarter number must be 1..4, got {self.number}")
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year must be 1..9999, got {self.year}")

    @classmethod
    def of(cls, d: date) -> Quarter:
        """Return the quarter containing `d`."""
        return cls(d.year, (d.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """Parse "2026Q4", "2026q4", "2026-Q4" or "2026 Q4"."""
        match = _QUARTER_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a quarter: {text!r} (expected e.g. 2026Q4)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        """Return the canonical form, e.g. "2026Q4"."""
        return f"{self.year:04d}Q{self.number}"

    @property
    def first_day(self) -> date:
        """Return the first day of the quarter."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        """Return the last day of the quarter."""
        month = 3 * self.number
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def number_of_days(self) -> int:
        """Return how many days the quarter has (90 to 92)."""
        return (self.last_day - self.first_day).days + 1

    @property
    def midpoint(self) -> date:
        """Return the first day of the quarter's second half, when it is "half gone"."""
        return self.first_day + timedelta(days=self.number_of_days // 2)

    def contains(self, d: date) -> bool:
        """Return whether `d` falls in the quarter."""
        return self.first_day <= d <= self.last_day

    def next(self) -> Quarter:
        """Return the following quarter."""
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        """Return the preceding quarter."""
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    def months(self) -> tuple[int, int, int]:
        """Return the quarter's three month numbers."""
        first = 3 * self.number - 2
        return (first, first + 1, first + 2)

    def days_left(self, d: date) -> int:
        """Return the days from `d` to the quarter's end, counting `d`: 0 after, all before it."""
        remaining = (self.last_day - d).days + 1
        return max(0, min(self.number_of_days, remaining))


def month_key(d: date) -> str:
    """Return the month of `d` as "YYYY-MM", e.g. "2026-11"."""
    return f"{d.year:04d}-{d.month:02d}"


def local_day_bounds(d: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the aware start and exclusive end of local day `d` in `tz`."""
    return _local_midnight(d, tz), _local_midnight(d + timedelta(days=1), tz)


def _local_midnight(d: date, tz: ZoneInfo) -> datetime:
    """Return the first instant of local day `d` in `tz`."""
    wall = datetime.combine(d, time(), tzinfo=tz)
    # Where a DST jump skips midnight, the UTC round trip lands on the day's real first instant.
    return wall.astimezone(UTC).astimezone(tz)
