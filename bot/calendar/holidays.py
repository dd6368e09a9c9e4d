"""China's statutory holidays and adjusted workdays (调休), with local overrides."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import chinese_calendar

__all__ = ["Holiday", "HolidayCalendar", "HolidayFileError", "package_years"]

# A holiday period in the file longer than this is almost surely a typo in `end`.
_MAX_RANGE_DAYS = 31


class Holiday(StrEnum):
    """Stable keys for China's statutory holidays (法定节假日)."""

    NEW_YEARS_DAY = "new_years_day"
    SPRING_FESTIVAL = "spring_festival"
    TOMB_SWEEPING_DAY = "tomb_sweeping_day"
    LABOUR_DAY = "labour_day"
    DRAGON_BOAT_FESTIVAL = "dragon_boat_festival"
    MID_AUTUMN_FESTIVAL = "mid_autumn_festival"
    NATIONAL_DAY = "national_day"
    ANTI_FASCIST_70TH_DAY = "anti_fascist_70th_day"
    # A one-off holiday that a newer chinesecalendar names but this enum does not know yet.
    OTHER = "other"


class HolidayFileError(ValueError):
    """The holiday overrides file cannot be read or is malformed."""


def _package_holiday(english: object) -> Holiday:
    """Map chinesecalendar's English holiday name to a Holiday key."""
    try:
        key = str(chinese_calendar.Holiday(english).name)
    except ValueError:
        return Holiday.OTHER
    try:
        return Holiday(key)
    except ValueError:
        return Holiday.OTHER


def _load_package() -> tuple[frozenset[int], dict[date, Holiday], frozenset[date]]:
    """Read chinesecalendar's data: its supported years, holidays and adjusted workdays."""
    raw_holidays: Mapping[Any, Any] = chinese_calendar.holidays
    raw_workdays: Mapping[Any, Any] = chinese_calendar.workdays
    holiday_dates = [d for d in raw_holidays if isinstance(d, date)]
    if not holiday_dates:
        return frozenset(), {}, frozenset()
    # Same rule chinesecalendar applies before raising NotImplementedError: every year from the
    # first to the last year that has holiday data is supported, nothing else.
    first, last = min(holiday_dates).year, max(holiday_dates).year
    years = frozenset(range(first, last + 1))
    holidays = {
        d: _package_holiday(name)
        for d, name in raw_holidays.items()
        if isinstance(d, date) and d.year in years
    }
    workdays = frozenset(d for d in raw_workdays if isinstance(d, date) and d.year in years)
    return years, holidays, workdays


_PACKAGE_YEARS, _PACKAGE_HOLIDAYS, _PACKAGE_WORKDAYS = _load_package()


def package_years() -> frozenset[int]:
    """Return the years the installed chinesecalendar has data for."""
    return _PACKAGE_YEARS


@dataclass(frozen=True)
class _Overrides:
    """Dates read from an overrides file."""

    holidays: dict[date, Holiday]
    workdays: frozenset[date]

    @property
    def years(self) -> frozenset[int]:
        """Return the years that have at least one entry."""
        return frozenset(d.year for d in (*self.holidays, *self.workdays))


class HolidayCalendar:
    """China's official holiday and adjusted-workday calendar, with local overrides."""

    def __init__(
        self,
        known_years: frozenset[int],
        holidays: Mapping[date, Holiday],
        workdays: frozenset[date],
    ) -> None:
        """Build a calendar from explicit data; use `load` in application code."""
        self._known_years = known_years
        self._holidays = dict(holidays)
        self._workdays = workdays

    @classmethod
    def load(cls, overrides: Path | None = None) -> HolidayCalendar:
        """Build the calendar from chinesecalendar, applying the overrides file if given."""
        holidays = dict(_PACKAGE_HOLIDAYS)
        workdays = set(_PACKAGE_WORKDAYS)
        known_years = set(_PACKAGE_YEARS)
        if overrides is not None:
            parsed = _read_overrides(overrides)
            for d, name in parsed.holidays.items():
                workdays.discard(d)
                holidays[d] = name
            for d in parsed.workdays:
                holidays.pop(d, None)
                workdays.add(d)
            known_years |= parsed.years
        return cls(frozenset(known_years), holidays, frozenset(workdays))

    @property
    def known_years(self) -> frozenset[int]:
        """Return the years whose holidays are known."""
        return self._known_years

    def knows(self, year: int) -> bool:
        """Return whether the holidays of `year` are known."""
        return year in self._known_years

    def unknown_years(self, first: date, last: date) -> list[int]:
        """Return the years from `first` to `last` whose holidays are not known, in order."""
        return [year for year in range(first.year, last.year + 1) if year not in self._known_years]

    def holiday(self, d: date) -> Holiday | None:
        """Return the statutory holiday `d` is a day off for, or None (also for plain weekends)."""
        return self._holidays.get(d)

    def is_workday(self, d: date) -> bool:
        """Return whether `d` is a working day (Mon–Fri only, for a year that is not known)."""
        if d in self._workdays:
            return True
        if d in self._holidays:
            return False
        return d.weekday() < 5

    def is_adjusted_workday(self, d: date) -> bool:
        """Return whether `d` is a weekend day worked in exchange for a holiday (调休上班)."""
        return d in self._workdays and d.weekday() >= 5

    def next_workday(self, d: date) -> date:
        """Return the first working day strictly after `d`."""
        day = d + timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day


def _read_overrides(path: Path) -> _Overrides:
    """Parse and validate an overrides file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise HolidayFileError(f"{path}: cannot read holiday file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise HolidayFileError(f"{path}: holiday file is not UTF-8 text") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HolidayFileError(
            f"{path}: not valid TOML (dates are written 2027-10-01): {exc}"
        ) from exc

    unknown = sorted(set(data) - {"holiday", "workday"})
    if unknown:
        raise HolidayFileError(
            f"{path}: unknown key {unknown[0]!r} (expected [[holiday]] and [[workday]] entries)"
        )
    holidays: dict[date, Holiday] = {}
    workdays: set[date] = set()
    seen: dict[date, str] = {}
    for table in ("holiday", "workday"):
        entries = data.get(table, [])
        if not isinstance(entries, list):
            raise HolidayFileError(f"{path}: {table!r} must be written as [[{table}]] entries")
        for index, entry in enumerate(entries, start=1):
            label = f"[[{table}]] #{index}"
            if not isinstance(entry, dict):
                raise HolidayFileError(f"{path}: {label}: must be a table")
            where = f"{path}: {label} ({_describe(entry)})"
            dates, name = _parse_entry(entry, table, where)
            for d in dates:
                if d in seen:
                    if seen[d].startswith(f"[[{table}]]"):
                        problem = f"{d.isoformat()} is already listed in {seen[d]}"
                    else:
                        problem = f"{d.isoformat()} is both a holiday and a workday (see {seen[d]})"
                    raise HolidayFileError(f"{where}: {problem}")
                seen[d] = label
                if name is not None and table == "holiday":
                    holidays[d] = name
                else:
                    workdays.add(d)
    return _Overrides(holidays=holidays, workdays=frozenset(workdays))


def _describe(entry: dict[str, Any]) -> str:
    """Render an entry on one line for error messages."""
    parts = []
    for key, value in entry.items():
        shown = value.isoformat() if isinstance(value, date) else repr(value)
        parts.append(f"{key} = {shown}")
    return ", ".join(parts)[:200]


def _parse_entry(
    entry: dict[str, Any], table: str, where: str
) -> tuple[list[date], Holiday | None]:
    """Validate one [[holiday]] or [[workday]] entry and return its dates and holiday name."""
    extra = sorted(set(entry) - {"date", "start", "end", "name"})
    if extra:
        raise HolidayFileError(f"{where}: unknown key {extra[0]!r} (use date, start/end, name)")

    name: Holiday | None = None
    if "name" in entry:
        raw_name = entry["name"]
        try:
            name = Holiday(raw_name) if isinstance(raw_name, str) else None
        except ValueError:
            name = None
        if name is None:
            allowed = ", ".join(h.value for h in Holiday)
            raise HolidayFileError(
                f"{where}: unknown holiday name {raw_name!r} (one of: {allowed})"
            )
    elif table == "holiday":
        raise HolidayFileError(f'{where}: missing name, e.g. name = "national_day"')

    if "date" in entry:
        if "start" in entry or "end" in entry:
            raise HolidayFileError(f"{where}: give either date or start and end, not both")
        return [_parse_date(entry["date"], "date", where)], name
    if "start" not in entry or "end" not in entry:
        raise HolidayFileError(f"{where}: missing date (or start and end)")
    start = _parse_date(entry["start"], "start", where)
    end = _parse_date(entry["end"], "end", where)
    if end < start:
        raise HolidayFileError(f"{where}: end is before start")
    days = (end - start).days + 1
    if days > _MAX_RANGE_DAYS:
        raise HolidayFileError(
            f"{where}: range of {days} days is too long (at most {_MAX_RANGE_DAYS})"
        )
    return [start + timedelta(days=i) for i in range(days)], name


def _parse_date(value: object, key: str, where: str) -> date:
    """Accept a TOML date or an ISO `YYYY-MM-DD` string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if len(value) == 10:
                return parsed
    raise HolidayFileError(f"{where}: {key} must be a date like 2027-10-01, got {value!r}")
