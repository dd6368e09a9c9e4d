"""Reading a day from what people type: ISO and Chinese dates, relative words, weekdays."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time, timedelta

# A day a member may name without a year is at most this many years back (leap days need 8).
_YEARS_BACK = 8
_MAX_DAYS_AGO = 100_000

_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEKDAYS_EN = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
_RELATIVE = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "昨天": 1,
    "昨日": 1,
    "yesterday": 1,
    "前天": 2,
    "大前天": 3,
}

_FULL = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})", re.ASCII)
_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII)
_MONTH_DAY = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})", re.ASCII)
_CHINESE = re.compile(r"(?:([0-9]{4})年)?([0-9]{1,2})月([0-9]{1,2})[日号]?", re.ASCII)
_DAY_ONLY = re.compile(r"([0-9]{1,2})[日号]", re.ASCII)
_DAYS_AGO = re.compile(r"([0-9]{1,6}) ?(?:天前|days? ago)", re.ASCII)
_WEEKDAY_ZH = re.compile(r"(上个?|本|这个?)?(?:周|星期|礼拜)([一二三四五六日天七])")
_WEEKDAY_EN = re.compile(r"(last |this )?([a-z]+)", re.ASCII)


class DateParseError(ValueError):
    """The text does not name a day this parser understands, or names one that does not exist."""


def parse_day(text: str, *, today: date) -> date:
    """Returns the day `text` names, reading year-less dates as the latest one up to `today`."""
    normal = _normalize(text)
    if not normal:
        raise DateParseError("empty")
    try:
        day = _read(normal, today)
    except OverflowError:
        raise DateParseError("out of range") from None
    if day is None:
        raise DateParseError(f"not a date: {text[:40]!r}")
    return day


def _normalize(text: str) -> str:
    """Folds full-width characters, case and spacing so that one pattern fits every variant."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return " ".join(folded.split())


def _read(text: str, today: date) -> date | None:
    """Tries each form in turn; None when none fits."""
    if text in _RELATIVE:
        return today - timedelta(days=_RELATIVE[text])
    if match := _FULL.fullmatch(text):
        return _exact(match[1], match[3], match[4])
    if match := _COMPACT.fullmatch(text):
        return _exact(match[1], match[2], match[3])
    if match := _CHINESE.fullmatch(text.replace(" ", "")):
        if match[1]:
            return _exact(match[1], match[2], match[3])
        return _latest(int(match[2]), int(match[3]), today)
    if match := _MONTH_DAY.fullmatch(text):
        return _latest(int(match[1]), int(match[3]), today)
    if match := _DAY_ONLY.fullmatch(text):
        return _latest_day_of_month(int(match[1]), today)
    if match := _DAYS_AGO.fullmatch(text):
        days = int(match[1])
        if days > _MAX_DAYS_AGO:
            raise DateParseError("too long ago")
        return today - timedelta(days=days)
    if match := _WEEKDAY_ZH.fullmatch(text.replace(" ", "")):
        return _weekday(_WEEKDAYS_ZH[match[2]], match[1] or "", today)
    if (match := _WEEKDAY_EN.fullmatch(text)) and match[2] in _WEEKDAYS_EN:
        return _weekday(_WEEKDAYS_EN[match[2]], (match[1] or "").strip(), today)
    return None


def _exact(year: str, month: str, day: str) -> date:
    """Builds a full date, refusing ones the calendar does not have."""
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise DateParseError(f"no such date: {year}-{month}-{day}") from None


def _latest(month: int, day: int, today: date) -> date:
    """Returns the latest date with this month and day that is not after `today`."""
    try:
        date(2000, month, day)  # a leap year: any real month-day exists in it
    except ValueError:
        raise DateParseError(f"no such date: {month}-{day}") from None
    for year in range(today.year, today.year - _YEARS_BACK - 1, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    raise DateParseError("out of range")


def _latest_day_of_month(day: int, today: date) -> date:
    """Returns the latest date with this day of the month that is not after `today`."""
    if not 1 <= day <= 31:
        raise DateParseError(f"no such day of the month: {day}")
    year, month = today.year, today.month
    for _ in range(12):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate <= today:
            return candidate
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    raise DateParseError("out of range")


def _weekday(weekday: int, which: str, today: date) -> date:
    """Resolves a weekday: of last week, of this week, the last one before today, or the latest."""
    monday = today - timedelta(days=today.weekday())
    if which in ("上", "上个"):
        return monday - timedelta(days=7 - weekday)
    if which in ("本", "这", "这个", "this"):
        return monday + timedelta(days=weekday)
    if which == "last":
        # English "last Tuesday" means the latest Tuesday before today.
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    return today - timedelta(days=(today.weekday() - weekday) % 7)


_AHEAD = {"今天": 0, "今日": 0, "today": 0, "明天": 1, "明日": 1, "tomorrow": 1, "后天": 2}
_NEXT_WEEKDAY_ZH = re.compile(r"(下个?|本|这个?)?(?:周|星期|礼拜)([一二三四五六日天七])")
_NEXT_WEEKDAY_EN = re.compile(r"(next |this )?([a-z]+)", re.ASCII)
# Something that reads like a date, even when no date can be made of it ("2月30日", "13-40").
_DATE_LIKE = re.compile(
    r"^(?:\d{1,4}\s*[-/.年月日号]|\d{8}$|(?:下个?|本|这个?)?(?:周|星期|礼拜)|[今明后]天|今日|明日)"
)


def looks_like_day(text: str) -> bool:
    """Tells whether a word was meant as a date (so it must not be taken for anything else)."""
    normal = _normalize(text)
    if _DATE_LIKE.match(normal) or normal in _AHEAD:
        return True
    match = _NEXT_WEEKDAY_EN.fullmatch(normal)
    return match is not None and match[2] in _WEEKDAYS_EN


def parse_coming_day(text: str, *, today: date) -> date | None:
    """Reads a day ahead: a date (one without a year is the next to come), 明天, 下周二, friday."""
    normal = _normalize(text)
    if normal in _AHEAD:
        return today + timedelta(days=_AHEAD[normal])
    compact = normal.replace(" ", "")
    try:
        if match := _FULL.fullmatch(normal):
            return _exact(match[1], match[3], match[4])
        if match := _COMPACT.fullmatch(normal):
            return _exact(match[1], match[2], match[3])
        if match := _CHINESE.fullmatch(compact):
            if match[1]:
                return _exact(match[1], match[2], match[3])
            return _coming(int(match[2]), int(match[3]), today)
        if match := _MONTH_DAY.fullmatch(normal):
            return _coming(int(match[1]), int(match[3]), today)
    except DateParseError:
        return None
    if match := _NEXT_WEEKDAY_ZH.fullmatch(compact):
        return _coming_weekday(_WEEKDAYS_ZH[match[2]], match[1] or "", today)
    if (match := _NEXT_WEEKDAY_EN.fullmatch(normal)) and match[2] in _WEEKDAYS_EN:
        return _coming_weekday(_WEEKDAYS_EN[match[2]], (match[1] or "").strip(), today)
    return None


def _coming(month: int, day: int, today: date) -> date:
    """Returns the first date with this month and day that is not before `today`."""
    for year in (today.year, today.year + 1, today.year + 4):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise DateParseError(f"no such date: {month}-{day}")


def _coming_weekday(weekday: int, which: str, today: date) -> date:
    """Resolves a weekday ahead: of next week (下周, next), of this week, or the next to come."""
    monday = today - timedelta(days=today.weekday())
    if which in ("下", "下个", "next"):
        return monday + timedelta(days=7 + weekday)
    if which in ("本", "这", "这个", "this"):
        return monday + timedelta(days=weekday)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


_CLOCK = re.compile(
    r"(?P<part>上午|早上|下午|晚上|中午)?(?P<hour>[0-9]{1,2})"
    r"(?:[:：](?P<minute>[0-9]{2})|点(?:(?P<half>半)|(?P<min2>[0-9]{1,2})分?)?|时)"
)
_CLOCK_LIKE = re.compile(r"^(?:上午|早上|下午|晚上|中午)?[0-9]{1,2}\s*[:：点时]")


def looks_like_time(text: str) -> bool:
    """Tells whether a word was meant as a time of day (25:00 was, 党群服务中心 was not)."""
    return bool(_CLOCK_LIKE.match(_normalize(text)))


def parse_clock(text: str) -> time | None:
    """Reads a time of day: 14:30, 14：30, 14点, 2点半, 下午2点30分; None when it is no time."""
    match = _CLOCK.fullmatch(_normalize(text).replace(" ", ""))
    if match is None:
        return None
    hour = int(match["hour"])
    minute = 30 if match["half"] else int(match["minute"] or match["min2"] or 0)
    if match["part"] in ("下午", "晚上") and 1 <= hour < 12:
        hour += 12
    if match["part"] == "中午" and hour < 3:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)
