from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.calendar.quarters import Quarter, local_day_bounds, month_key

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("text", ["2026Q4", "2026q4", "2026-Q4", "2026 Q4", " 2026Q4\n", "2026-q4"])
def test_parse_good(text: str) -> None:
    assert Quarter.parse(text) == Quarter(2026, 4)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026",
        "Q4",
        "2026Q5",
        "2026Q0",
        "26Q4",
        "2026--Q4",
        "2026_Q4",
        "2026Q4x",
        "Q4 2026",
        "２０２６Q4",
        "2026Q４",
        "2026  Q4",
        "20261Q4",
    ],
)
def test_parse_bad(text: str) -> None:
    with pytest.raises(ValueError, match="not a quarter"):
        Quarter.parse(text)


@pytest.mark.parametrize(("year", "number"), [(2026, 0), (2026, 5), (0, 1), (10000, 1)])
def test_invalid_quarter(year: int, number: int) -> None:
    with pytest.raises(ValueError):
        Quarter(year, number)


def test_str_round_trips() -> None:
    assert str(Quarter(2026, 4)) == "2026Q4"
    assert Quarter.parse(str(Quarter(987, 1))) == Quarter(987, 1)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 1), Quarter(2026, 1)),
        (date(2026, 3, 31), Quarter(2026, 1)),
        (date(2026, 4, 1), Quarter(2026, 2)),
        (date(2026, 6, 30), Quarter(2026, 2)),
        (date(2026, 7, 1), Quarter(2026, 3)),
        (date(2026, 9, 30), Quarter(2026, 3)),
        (date(2026, 10, 1), Quarter(2026, 4)),
        (date(2026, 12, 31), Quarter(2026, 4)),
    ],
)
def test_of(day: date, expected: Quarter) -> None:
    assert Quarter.of(day) == expected
    assert expected.contains(day)


def test_boundaries_cover_every_day_once() -> None:
    q = Quarter(2024, 1)
    day = date(2024, 1, 1)
    while day.year == 2024:
        assert Quarter.of(day) == q
        assert q.contains(day)
        assert not q.previous().contains(day) and not q.next().contains(day)
        assert day.month in q.months()
        day += timedelta(days=1)
        if not q.contains(day):
            assert day == q.last_day + timedelta(days=1) == q.next().first_day
            q = q.next()


@pytest.mark.parametrize(
    ("q", "first", "last", "days", "months"),
    [
        (Quarter(2026, 1), date(2026, 1, 1), date(2026, 3, 31), 90, (1, 2, 3)),
        (Quarter(2024, 1), date(2024, 1, 1), date(2024, 3, 31), 91, (1, 2, 3)),
        (Quarter(2026, 2), date(2026, 4, 1), date(2026, 6, 30), 91, (4, 5, 6)),
        (Quarter(2026, 3), date(2026, 7, 1), date(2026, 9, 30), 92, (7, 8, 9)),
        (Quarter(2026, 4), date(2026, 10, 1), date(2026, 12, 31), 92, (10, 11, 12)),
    ],
)
def test_days_and_months(
    q: Quarter, first: date, last: date, days: int, months: tuple[int, int, int]
) -> None:
    assert (q.first_day, q.last_day, q.number_of_days, q.months()) == (first, last, days, months)


@pytest.mark.parametrize(
    ("q", "midpoint"),
    [
        (Quarter(2026, 1), date(2026, 2, 15)),  # 90 days: +45
        (Quarter(2024, 1), date(2024, 2, 15)),  # 91 days: +45
        (Quarter(2026, 2), date(2026, 5, 16)),  # 91 days: +45
        (Quarter(2026, 3), date(2026, 8, 16)),  # 92 days: +46
        (Quarter(2026, 4), date(2026, 11, 16)),  # 92 days: +46
    ],
)
def test_midpoint(q: Quarter, midpoint: date) -> None:
    assert q.midpoint == midpoint
    assert q.contains(midpoint)
    first_half = (midpoint - q.first_day).days
    assert first_half == q.number_of_days // 2
    assert q.number_of_days - first_half >= first_half


def test_next_and_previous_across_years() -> None:
    assert Quarter(2026, 4).next() == Quarter(2027, 1)
    assert Quarter(2027, 1).previous() == Quarter(2026, 4)
    assert Quarter(2026, 2).next() == Quarter(2026, 3)
    assert Quarter(2026, 2).previous() == Quarter(2026, 1)
    q = Quarter(2025, 3)
    for _ in range(9):
        assert q.next().previous() == q
        assert q < q.next()
        q = q.next()
    assert q == Quarter(2027, 4)


def test_ordering() -> None:
    quarters = [Quarter(2027, 1), Quarter(2026, 4), Quarter(2026, 1)]
    assert sorted(quarters) == [Quarter(2026, 1), Quarter(2026, 4), Quarter(2027, 1)]


def test_days_left() -> None:
    q = Quarter(2026, 4)
    assert q.days_left(date(2026, 10, 1)) == 92
    assert q.days_left(date(2026, 12, 30)) == 2
    assert q.days_left(date(2026, 12, 31)) == 1
    assert q.days_left(date(2027, 1, 1)) == 0
    assert q.days_left(date(2026, 9, 1)) == 92


def test_month_key() -> None:
    assert month_key(date(2026, 11, 3)) == "2026-11"
    assert month_key(date(2027, 1, 31)) == "2027-01"


def test_local_day_bounds_shanghai() -> None:
    start, end = local_day_bounds(date(2026, 10, 1), SHANGHAI)
    assert start == datetime(2026, 10, 1, tzinfo=SHANGHAI)
    assert start.utcoffset() == timedelta(hours=8)
    assert start.astimezone(UTC) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    assert end.astimezone(UTC) == datetime(2026, 10, 1, 16, tzinfo=UTC)


def test_local_day_bounds_when_midnight_does_not_exist() -> None:
    # Brazil started DST at 00:00 on 2018-11-04: the day began at 01:00 -02:00.
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    start, end = local_day_bounds(date(2018, 11, 4), sao_paulo)
    assert start.astimezone(UTC) == datetime(2018, 11, 4, 3, tzinfo=UTC)
    assert (start.hour, start.utcoffset()) == (1, timedelta(hours=-2))
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
