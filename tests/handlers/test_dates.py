"""Reading days from typed text: every accepted form, the refusals, and random input."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.dates import DateParseError, parse_day

# A Tuesday: the first Tuesday of November 2026.
TODAY = date(2026, 11, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-02", date(2026, 11, 2)),
        ("2026/11/02", date(2026, 11, 2)),
        ("2026.11.2", date(2026, 11, 2)),
        ("20261102", date(2026, 11, 2)),
        ("2026-11-20", date(2026, 11, 20)),  # a full date is taken as given, even in the future
        ("11-02", date(2026, 11, 2)),
        ("11/2", date(2026, 11, 2)),
        ("11-20", date(2025, 11, 20)),  # without a year: the latest one not after today
        ("11/03", date(2026, 11, 3)),
        ("11月20日", date(2025, 11, 20)),
        ("11月2号", date(2026, 11, 2)),
        ("10月31", date(2026, 10, 31)),
        ("2026年11月20日", date(2026, 11, 20)),
        ("2026年 11月 2日", date(2026, 11, 2)),
        ("2月29日", date(2024, 2, 29)),
        ("29号", date(2026, 10, 29)),
        ("3日", date(2026, 11, 3)),
        ("31号", date(2026, 10, 31)),
        ("今天", TODAY),
        ("昨天", date(2026, 11, 2)),
        ("前天", date(2026, 11, 1)),
        ("today", TODAY),
        (" Yesterday ", date(2026, 11, 2)),
        ("上周二", date(2026, 10, 27)),
        ("上星期二", date(2026, 10, 27)),
        ("上礼拜二", date(2026, 10, 27)),
        ("上周日", date(2026, 11, 1)),
        ("上周一", date(2026, 10, 26)),
        ("周二", TODAY),  # the latest Tuesday, today included
        ("星期二", TODAY),
        ("周一", date(2026, 11, 2)),
        ("星期三", date(2026, 10, 28)),
        ("周日", date(2026, 11, 1)),
        ("本周一", date(2026, 11, 2)),
        ("这周二", TODAY),
        ("3天前", date(2026, 10, 31)),
        ("0天前", TODAY),
        ("3 days ago", date(2026, 10, 31)),
        ("last tuesday", date(2026, 10, 27)),
        ("Last Monday", date(2026, 11, 2)),
        ("tuesday", TODAY),
        ("fri", date(2026, 10, 30)),
        ("２０２６－１１－０２", date(2026, 11, 2)),
        ("１１月２日", date(2026, 11, 2)),
        ("３天前", date(2026, 10, 31)),
    ],
)
def test_accepted_forms(text: str, expected: date) -> None:
    assert parse_day(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "明天",
        "tomorrow",
        "2月30日",
        "2026-02-30",
        "2026-13-01",
        "20261301",
        "13/01",
        "0/12",
        "00-00",
        "32号",
        "0号",
        "2026-11/02",
        "11-20-2026",
        "2026年13月1日",
        "上周八",
        "last funday",
        "99999999天前",
        "three days ago",
        "0000-01-01",
        "11月",
        "2026",
    ],
)
def test_refused_forms(text: str) -> None:
    with pytest.raises(DateParseError):
        parse_day(text, today=TODAY)


def test_last_weekday_in_english_is_before_today() -> None:
    wednesday = date(2026, 11, 4)
    assert parse_day("last tuesday", today=wednesday) == TODAY
    assert parse_day("last wednesday", today=wednesday) == date(2026, 10, 28)
    assert parse_day("wednesday", today=wednesday) == wednesday


def test_year_less_leap_day_goes_back_to_a_leap_year() -> None:
    assert parse_day("2月29日", today=date(2028, 2, 28)) == date(2024, 2, 29)
    assert parse_day("2/29", today=date(2028, 3, 1)) == date(2028, 2, 29)


def test_day_of_month_skips_short_months() -> None:
    assert parse_day("31号", today=date(2026, 3, 30)) == date(2026, 1, 31)


def test_date_parse_error_is_a_value_error() -> None:
    assert issubclass(DateParseError, ValueError)


def test_edges_of_the_calendar_are_refused_not_crashed() -> None:
    with pytest.raises(DateParseError):
        parse_day("昨天", today=date.min)
    with pytest.raises(DateParseError):
        parse_day("5天前", today=date(1, 1, 3))
    with pytest.raises(DateParseError):
        parse_day("本周日", today=date.max)


DATE_ALPHABET = st.sampled_from(
    [
        *"0123456789０１２３４５６７８９-/.年月日号天前周星期礼拜上本这个一二三四五六日 ",
        *("last ", "this ", "tuesday", "days ago", "今天", "昨天", "today"),
    ]
)


@given(text=st.text(), today=st.dates())
def test_random_text_only_raises_date_parse_error(text: str, today: date) -> None:
    try:
        day = parse_day(text, today=today)
    except DateParseError:
        return
    assert isinstance(day, date)


@given(parts=st.lists(DATE_ALPHABET, max_size=12), today=st.dates())
def test_date_like_text_only_raises_date_parse_error(parts: list[str], today: date) -> None:
    try:
        day = parse_day("".join(parts), today=today)
    except DateParseError:
        return
    assert isinstance(day, date)


@given(day=st.dates(), today=st.dates())
def test_every_date_round_trips_from_iso(day: date, today: date) -> None:
    assert parse_day(day.isoformat(), today=today) == day
    assert parse_day(f"{day.year:04d}{day.month:02d}{day.day:02d}", today=today) == day
