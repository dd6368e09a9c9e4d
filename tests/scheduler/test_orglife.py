import calendar
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from bot.calendar.holidays import Holiday, HolidayCalendar
from bot.calendar.orglife import (
    HolidayPolicy,
    MoveReason,
    OrgLifeDay,
    nth_weekday,
    org_life_day,
    org_life_day_for,
    org_life_days,
)

TUESDAY = 1
KEEP = HolidayPolicy.KEEP
NEXT = HolidayPolicy.NEXT_WORKDAY


@pytest.fixture(scope="module")
def cal() -> HolidayCalendar:
    return HolidayCalendar.load(None)


def first_tuesday(year: int, month: int) -> date:
    """Independent computation through calendar.monthcalendar."""
    weeks = calendar.monthcalendar(year, month)
    day = weeks[0][calendar.TUESDAY] or weeks[1][calendar.TUESDAY]
    return date(year, month, day)


def package_next_workday(d: date) -> date:
    """Independent computation straight from chinesecalendar (first workday strictly after d)."""
    d += timedelta(days=1)
    while not chinese_calendar.is_workday(d):
        d += timedelta(days=1)
    return d


MONTHS_2020_2030 = [(y, m) for y in range(2020, 2031) for m in range(1, 13)]


@pytest.mark.parametrize(("year", "month"), MONTHS_2020_2030)
def test_every_month_2020_to_2030(cal: HolidayCalendar, year: int, month: int) -> None:
    original = first_tuesday(year, month)
    kept = org_life_day(year, month, holidays=cal)
    moved = org_life_day(year, month, holidays=cal, policy=NEXT)
    for day in (kept, moved):
        assert (day.year, day.month, day.original) == (year, month, original)
        assert day.original.weekday() == TUESDAY
        assert day.date >= day.original

    assert kept.date == original
    assert not kept.moved
    if not cal.knows(year):
        for day in (kept, moved):
            assert day.reason is MoveReason.CALENDAR_UNKNOWN
            assert day.date == original
            assert day.holiday is None
        return

    on_holiday = original in chinese_calendar.holidays
    assert moved.date.weekday() == TUESDAY or on_holiday
    assert cal.is_workday(moved.date)
    assert chinese_calendar.is_workday(moved.date)
    if on_holiday:
        assert kept.reason is MoveReason.KEPT_ON_HOLIDAY
        assert kept.holiday is not None
        assert moved.reason is MoveReason.MOVED_FOR_HOLIDAY
        assert moved.holiday == kept.holiday
        assert moved.date == package_next_workday(original)
        assert moved.moved
    else:
        assert kept.reason is None and moved.reason is None
        assert kept.holiday is None and moved.holiday is None
        assert moved.date == original
        assert not moved.moved


def test_first_tuesdays_on_holidays_2020_to_2026(cal: HolidayCalendar) -> None:
    """Regression table built by checking chinesecalendar 1.11.0 data by hand."""
    found = {
        (d.original, d.date, d.holiday)
        for year in range(2020, 2027)
        for d in org_life_days(year, holidays=cal, policy=NEXT)
        if d.moved
    }
    national, labour = Holiday.NATIONAL_DAY, Holiday.LABOUR_DAY
    assert found == {
        (date(2020, 5, 5), date(2020, 5, 6), labour),
        (date(2020, 10, 6), date(2020, 10, 9), national),
        (date(2021, 5, 4), date(2021, 5, 6), labour),
        (date(2021, 10, 5), date(2021, 10, 8), national),
        (date(2022, 2, 1), date(2022, 2, 7), Holiday.SPRING_FESTIVAL),
        (date(2022, 4, 5), date(2022, 4, 6), Holiday.TOMB_SWEEPING_DAY),
        (date(2022, 5, 3), date(2022, 5, 5), labour),
        (date(2022, 10, 4), date(2022, 10, 8), national),
        (date(2023, 5, 2), date(2023, 5, 4), labour),
        (date(2023, 10, 3), date(2023, 10, 7), national),
        (date(2024, 10, 1), date(2024, 10, 8), national),
        (date(2025, 2, 4), date(2025, 2, 5), Holiday.SPRING_FESTIVAL),
        (date(2025, 10, 7), date(2025, 10, 9), national),
        (date(2026, 5, 5), date(2026, 5, 6), labour),
        (date(2026, 10, 6), date(2026, 10, 8), national),
    }


def test_october_2024_national_day(cal: HolidayCalendar) -> None:
    kept = org_life_day(2024, 10, holidays=cal)
    assert kept == OrgLifeDay(
        2024,
        10,
        date(2024, 10, 1),
        date(2024, 10, 1),
        MoveReason.KEPT_ON_HOLIDAY,
        Holiday.NATIONAL_DAY,
    )
    moved = org_life_day(2024, 10, holidays=cal, policy=NEXT)
    assert moved == OrgLifeDay(
        2024,
        10,
        date(2024, 10, 8),
        date(2024, 10, 1),
        MoveReason.MOVED_FOR_HOLIDAY,
        Holiday.NATIONAL_DAY,
    )
    assert moved.moved and not kept.moved


def test_october_2025_national_day(cal: HolidayCalendar) -> None:
    moved = org_life_day(2025, 10, holidays=cal, policy=NEXT)
    assert moved.original == date(2025, 10, 7)
    assert moved.date == date(2025, 10, 9)  # Oct 8 is still off in 2025
    assert moved.holiday is Holiday.NATIONAL_DAY


def test_moved_onto_adjusted_workday_saturday(cal: HolidayCalendar) -> None:
    moved = org_life_day(2023, 10, holidays=cal, policy=NEXT)
    assert moved.original == date(2023, 10, 3)
    assert moved.date == date(2023, 10, 7)
    assert moved.date.weekday() == 5
    assert cal.is_adjusted_workday(moved.date)


def test_tuesday_made_an_adjusted_workday_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text("[[workday]]\ndate = 2026-10-06\nname = 'national_day'\n", encoding="utf-8")
    cal = HolidayCalendar.load(path)
    for policy in HolidayPolicy:
        day = org_life_day(2026, 10, holidays=cal, policy=policy)
        assert day.date == day.original == date(2026, 10, 6)
        assert day.reason is None
        assert day.holiday is None


def test_saturday_rule_on_an_adjusted_workday_is_not_a_holiday(cal: HolidayCalendar) -> None:
    day = org_life_day(2023, 10, holidays=cal, weekday=5, policy=NEXT)
    assert day.date == day.original == date(2023, 10, 7)
    assert day.reason is None


@pytest.mark.parametrize("policy", list(HolidayPolicy))
def test_unknown_year_is_kept_with_a_note(cal: HolidayCalendar, policy: HolidayPolicy) -> None:
    day = org_life_day(2099, 10, holidays=cal, policy=policy)
    assert day == OrgLifeDay(
        2099, 10, date(2099, 10, 6), date(2099, 10, 6), MoveReason.CALENDAR_UNKNOWN, None
    )
    assert not day.moved


def test_overrides_make_2027_known_and_move_october(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(
        "[[holiday]]\nname = 'national_day'\nstart = 2027-10-01\nend = 2027-10-07\n",
        encoding="utf-8",
    )
    cal = HolidayCalendar.load(path)
    day = org_life_day(2027, 10, holidays=cal, policy=NEXT)
    assert day.reason is MoveReason.MOVED_FOR_HOLIDAY
    assert (day.original, day.date) == (date(2027, 10, 5), date(2027, 10, 8))
    assert org_life_day(2027, 11, holidays=cal, policy=NEXT).reason is None


def test_org_life_days_lists_twelve_months(cal: HolidayCalendar) -> None:
    days = org_life_days(2025, holidays=cal, policy=NEXT)
    assert [d.month for d in days] == list(range(1, 13))
    assert all(d.year == 2025 for d in days)


@pytest.mark.parametrize("ordinal", [1, 2, 3, 4, -1])
@pytest.mark.parametrize("weekday", range(7))
def test_nth_weekday_matches_monthcalendar(ordinal: int, weekday: int) -> None:
    for year, month in [(2024, 2), (2025, 2), (2026, 3), (2026, 9), (2027, 12)]:
        days = [w[weekday] for w in calendar.monthcalendar(year, month) if w[weekday]]
        expected = days[-1] if ordinal == -1 else days[ordinal - 1]
        assert nth_weekday(year, month, ordinal, weekday) == date(year, month, expected)


def test_moved_day_spills_into_next_month(cal: HolidayCalendar) -> None:
    # Last Tuesday of September 2008 fell in the National Day break (Sep 29 – Oct 5).
    day = org_life_day(2008, 9, holidays=cal, ordinal=-1, policy=NEXT)
    assert (day.year, day.month) == (2008, 9)
    assert (day.original, day.date) == (date(2008, 9, 30), date(2008, 10, 6))
    found = org_life_day_for(date(2008, 10, 6), holidays=cal, ordinal=-1, policy=NEXT)
    assert found == day
    assert org_life_day_for(date(2008, 9, 30), holidays=cal, ordinal=-1, policy=NEXT) is None
    kept = org_life_day_for(date(2008, 9, 30), holidays=cal, ordinal=-1)
    assert kept is not None and kept.reason is MoveReason.KEPT_ON_HOLIDAY


def test_moved_day_spills_into_next_year(cal: HolidayCalendar) -> None:
    # Last Monday of 2007 was the New Year's Day break; the next workday was 2008-01-02.
    found = org_life_day_for(date(2008, 1, 2), holidays=cal, ordinal=-1, weekday=0, policy=NEXT)
    assert found is not None
    assert (found.year, found.month, found.original) == (2007, 12, date(2007, 12, 31))


def test_org_life_day_for(cal: HolidayCalendar) -> None:
    day = org_life_day_for(date(2024, 10, 8), holidays=cal, policy=NEXT)
    assert day is not None and (day.year, day.month) == (2024, 10)
    assert org_life_day_for(date(2024, 10, 1), holidays=cal, policy=NEXT) is None
    assert org_life_day_for(date(2024, 10, 8), holidays=cal) is None
    assert org_life_day_for(date(2024, 11, 5), holidays=cal) is not None
    assert org_life_day_for(date(2024, 11, 6), holidays=cal) is None
    assert org_life_day_for(date(2026, 1, 6), holidays=cal) is not None
    unknown = org_life_day_for(date(2099, 1, 6), holidays=cal)
    assert unknown is not None and unknown.reason is MoveReason.CALENDAR_UNKNOWN


@pytest.mark.parametrize(
    ("ordinal", "weekday", "message"),
    [
        (0, 1, "ordinal"),
        (5, 1, "ordinal"),
        (-2, 1, "ordinal"),
        (1, 7, "weekday"),
        (1, -1, "weekday"),
    ],
)
def test_invalid_rule(cal: HolidayCalendar, ordinal: int, weekday: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        org_life_day(2026, 1, holidays=cal, ordinal=ordinal, weekday=weekday)
    with pytest.raises(ValueError, match=message):
        org_life_day_for(date(2026, 1, 6), holidays=cal, ordinal=ordinal, weekday=weekday)


@pytest.mark.parametrize("month", [0, 13])
def test_invalid_month(cal: HolidayCalendar, month: int) -> None:
    with pytest.raises(ValueError, match="month"):
        org_life_day(2026, month, holidays=cal)
