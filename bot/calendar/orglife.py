"""The fixed organization-life day (固定组织生活日): by default the first Tuesday of every month."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from bot.calendar.holidays import Holiday, HolidayCalendar

__all__ = [
    "HolidayPolicy",
    "MoveReason",
    "OrgLifeDay",
    "nth_weekday",
    "org_life_day",
    "org_life_day_for",
    "org_life_days",
]

_ORDINALS = (1, 2, 3, 4, -1)


class HolidayPolicy(StrEnum):
    """What a branch does when its organization-life day is a statutory holiday."""

    KEEP = "keep"
    NEXT_WORKDAY = "next_workday"


class MoveReason(StrEnum):
    """Why the organization-life day differs from, or needs a note beside, the rule's date."""

    MOVED_FOR_HOLIDAY = "moved_for_holiday"
    KEPT_ON_HOLIDAY = "kept_on_holiday"
    CALENDAR_UNKNOWN = "calendar_unknown"


@dataclass(frozen=True)
class OrgLifeDay:
    """The organization-life day of one month: when it is held and why."""

    year: int
    month: int
    date: dt.date
    original: dt.date
    reason: MoveReason | None
    holiday: Holiday | None

    @property
    def moved(self) -> bool:
        """Return whether it is held on another day than the rule's date."""
        return self.date != self.original


def nth_weekday(year: int, month: int, ordinal: int, weekday: int) -> dt.date:
    """Return the `ordinal`-th (1..4, or -1 for last) `weekday` (Monday=0) of the month."""
    _validate(month, ordinal, weekday)
    if ordinal > 0:
        first = dt.date(year, month, 1)
        offset = (weekday - first.weekday()) % 7
        return first + dt.timedelta(days=offset + 7 * (ordinal - 1))
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def org_life_day(
    year: int,
    month: int,
    *,
    holidays: HolidayCalendar,
    ordinal: int = 1,
    weekday: int = 1,
    policy: HolidayPolicy = HolidayPolicy.KEEP,
) -> OrgLifeDay:
    """Return the organization-life day of a month under the branch's holiday policy."""
    original = nth_weekday(year, month, ordinal, weekday)
    if not holidays.knows(original.year):
        return OrgLifeDay(year, month, original, original, MoveReason.CALENDAR_UNKNOWN, None)
    holiday = holidays.holiday(original)
    if holiday is None:
        return OrgLifeDay(year, month, original, original, None, None)
    if policy is HolidayPolicy.NEXT_WORKDAY:
        held = holidays.next_workday(original)
        return OrgLifeDay(year, month, held, original, MoveReason.MOVED_FOR_HOLIDAY, holiday)
    return OrgLifeDay(year, month, original, original, MoveReason.KEPT_ON_HOLIDAY, holiday)


def org_life_days(
    year: int,
    *,
    holidays: HolidayCalendar,
    ordinal: int = 1,
    weekday: int = 1,
    policy: HolidayPolicy = HolidayPolicy.KEEP,
) -> list[OrgLifeDay]:
    """Return the twelve organization-life days of a year."""
    return [
        org_life_day(
            year, month, holidays=holidays, ordinal=ordinal, weekday=weekday, policy=policy
        )
        for month in range(1, 13)
    ]


def org_life_day_for(
    d: dt.date,
    *,
    holidays: HolidayCalendar,
    ordinal: int = 1,
    weekday: int = 1,
    policy: HolidayPolicy = HolidayPolicy.KEEP,
) -> OrgLifeDay | None:
    """Return the organization-life day held on `d`, if any."""
    previous = (d.year, d.month - 1) if d.month > 1 else (d.year - 1, 12)
    # A day moved past a holiday can spill into the next month, so check the previous month too.
    for year, month in ((d.year, d.month), previous):
        if year < 1:
            continue
        day = org_life_day(
            year, month, holidays=holidays, ordinal=ordinal, weekday=weekday, policy=policy
        )
        if day.date == d:
            return day
    return None


def _validate(month: int, ordinal: int, weekday: int) -> None:
    """Raise ValueError for a month, ordinal or weekday out of range."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    if ordinal not in _ORDINALS:
        raise ValueError(f"ordinal must be 1, 2, 3, 4 or -1 (last), got {ordinal}")
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0..6 (Monday=0, Tuesday=1), got {weekday}")
