import re
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from bot.calendar.holidays import Holiday, HolidayCalendar, HolidayFileError, package_years

SAMPLE = Path(__file__).resolve().parents[2] / "scheduler" / "holidays.sample.toml"
UNKNOWN_YEAR = 2099


@pytest.fixture(scope="module")
def cal() -> HolidayCalendar:
    return HolidayCalendar.load(None)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- package data -------------------------------------------------------------------------


@pytest.mark.skipif(chinese_calendar.__version__ != "1.11.0", reason="data of 1.11.0 only")
def test_chinesecalendar_1_11_knows_2004_to_2026() -> None:
    assert package_years() == frozenset(range(2004, 2027))


def test_known_years_match_what_chinesecalendar_accepts(cal: HolidayCalendar) -> None:
    years = package_years()
    for year in range(min(years) - 2, max(years) + 3):
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            accepted = False
        else:
            accepted = True
        assert cal.knows(year) == accepted, year


def test_agrees_with_chinesecalendar_on_every_known_day(cal: HolidayCalendar) -> None:
    years = package_years()
    d = date(min(years), 1, 1)
    end = date(max(years), 12, 31)
    while d <= end:
        on_holiday, _ = chinese_calendar.get_holiday_detail(d)
        assert cal.is_workday(d) == chinese_calendar.is_workday(d), d
        assert (cal.holiday(d) is not None) == (d in chinese_calendar.holidays), d
        assert cal.is_adjusted_workday(d) == (d in chinese_calendar.workdays), d
        assert cal.is_workday(d) != on_holiday, d
        d += timedelta(days=1)


def test_every_package_holiday_name_has_a_key() -> None:
    cal = HolidayCalendar.load(None)
    for d in chinese_calendar.holidays:
        assert cal.holiday(d) is not Holiday.OTHER, d


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 10, 1), Holiday.NATIONAL_DAY),
        (date(2024, 10, 5), Holiday.NATIONAL_DAY),  # a Saturday inside the holiday week
        (date(2025, 10, 6), Holiday.MID_AUTUMN_FESTIVAL),
        (date(2025, 1, 1), Holiday.NEW_YEARS_DAY),
        (date(2026, 2, 17), Holiday.SPRING_FESTIVAL),
        (date(2024, 4, 4), Holiday.TOMB_SWEEPING_DAY),
        (date(2026, 5, 5), Holiday.LABOUR_DAY),
        (date(2026, 6, 19), Holiday.DRAGON_BOAT_FESTIVAL),
        (date(2015, 9, 3), Holiday.ANTI_FASCIST_70TH_DAY),
        (date(2024, 10, 8), None),  # plain Tuesday
        (date(2024, 10, 19), None),  # plain Saturday
        (date(2024, 10, 12), None),  # adjusted workday
    ],
)
def test_holiday(cal: HolidayCalendar, day: date, expected: Holiday | None) -> None:
    assert cal.holiday(day) == expected


def test_is_workday(cal: HolidayCalendar) -> None:
    assert not cal.is_workday(date(2024, 10, 1))
    assert cal.is_workday(date(2024, 10, 8))
    assert not cal.is_workday(date(2024, 10, 19))
    assert cal.is_workday(date(2024, 10, 12))  # Saturday, 调休上班
    assert cal.is_adjusted_workday(date(2024, 10, 12))
    assert not cal.is_adjusted_workday(date(2024, 10, 8))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 9, 30), date(2024, 10, 8)),
        (date(2024, 10, 1), date(2024, 10, 8)),
        (date(2024, 10, 8), date(2024, 10, 9)),  # strictly after
        (date(2023, 10, 3), date(2023, 10, 7)),  # onto an adjusted-workday Saturday
        (date(2025, 10, 7), date(2025, 10, 9)),
        (date(2099, 1, 2), date(2099, 1, 5)),  # unknown year: Friday -> Monday
    ],
)
def test_next_workday(cal: HolidayCalendar, day: date, expected: date) -> None:
    assert cal.next_workday(day) == expected


@pytest.mark.parametrize("year", [1, 1900, 2003, 2027, UNKNOWN_YEAR, 9998])
def test_unknown_years_fall_back_to_monday_to_friday(cal: HolidayCalendar, year: int) -> None:
    if year in package_years():
        pytest.skip("the installed chinesecalendar knows this year")
    assert not cal.knows(year)
    first = date(year, 10, 1)
    for d in (first + timedelta(days=i) for i in range(14)):
        assert cal.holiday(d) is None
        assert cal.is_workday(d) == (d.weekday() < 5)
        assert not cal.is_adjusted_workday(d)
        assert cal.next_workday(d) > d


def test_last_known_year_rolls_into_unknown_year(cal: HolidayCalendar) -> None:
    last = max(package_years())
    assert cal.next_workday(date(last, 12, 31)).year == last + 1


# --- overrides file -----------------------------------------------------------------------

OVERRIDES_2027 = """
[[holiday]]
name = "national_day"
start = 2027-10-01
end = 2027-10-07

[[holiday]]
name = "new_years_day"
date = "2027-01-01"

[[workday]]
date = 2027-09-26
name = "national_day"

[[workday]]
date = 2027-10-09
"""


def test_overrides_make_a_year_known(tmp_path: Path) -> None:
    cal = HolidayCalendar.load(write(tmp_path, OVERRIDES_2027))
    assert cal.knows(2027)
    assert not cal.knows(2028)
    assert cal.holiday(date(2027, 10, 5)) is Holiday.NATIONAL_DAY
    assert cal.holiday(date(2027, 1, 1)) is Holiday.NEW_YEARS_DAY
    assert cal.holiday(date(2027, 10, 8)) is None
    assert cal.is_workday(date(2027, 9, 26))  # Sunday
    assert cal.is_workday(date(2027, 10, 9))  # Saturday
    assert not cal.is_workday(date(2027, 10, 10))
    assert cal.next_workday(date(2027, 9, 30)) == date(2027, 10, 8)
    # The package data is untouched.
    assert cal.holiday(date(2024, 10, 1)) is Holiday.NATIONAL_DAY


def test_overrides_win_over_the_package(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[workday]]
        date = 2026-10-06

        [[holiday]]
        date = 2026-10-10
        name = "other"
        """,
    )
    cal = HolidayCalendar.load(path)
    assert cal.is_workday(date(2026, 10, 6))
    assert cal.holiday(date(2026, 10, 6)) is None
    assert not cal.is_workday(date(2026, 10, 10))
    assert cal.holiday(date(2026, 10, 10)) is Holiday.OTHER
    assert not cal.is_adjusted_workday(date(2026, 10, 10))
    assert cal.holiday(date(2026, 10, 7)) is Holiday.NATIONAL_DAY


def test_empty_overrides_file_changes_nothing(tmp_path: Path) -> None:
    cal = HolidayCalendar.load(write(tmp_path, "# nothing yet\n"))
    assert cal.known_years == package_years()


def test_sample_file_loads_and_adds_nothing_as_shipped() -> None:
    assert HolidayCalendar.load(SAMPLE).known_years == package_years()


def test_sample_file_example_is_valid_once_uncommented(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^# (?=\[\[|\w+ = )", "", text)
    assert uncommented != text
    cal = HolidayCalendar.load(write(tmp_path, uncommented))
    assert cal.knows(2027)
    assert cal.holiday(date(2027, 10, 5)) is Holiday.NATIONAL_DAY
    assert cal.is_workday(date(2027, 10, 9))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[holiday]]\ndate = 2027-13-01\nname = 'national_day'\n", "not valid TOML"),
        ("[[holiday]]\ndate = '2027-02-30'\nname = 'national_day'\n", "[[holiday]] #1"),
        ("[[holiday]]\ndate = 'soon'\nname = 'national_day'\n", "date must be a date"),
        ("[[holiday]]\ndate = 20271001\nname = 'national_day'\n", "date must be a date"),
        ("[[holiday]]\ndate = 2027-10-01T09:00:00\nname = 'national_day'\n", "must be a date"),
        ("[[holiday]]\ndate = 2027-10-01\nname = 'natonal_day'\n", "unknown holiday name"),
        ("[[holiday]]\ndate = 2027-10-01\nname = 3\n", "unknown holiday name"),
        ("[[holiday]]\ndate = 2027-10-01\n", "missing name"),
        ("[[holiday]]\nname = 'national_day'\n", "missing date"),
        ("[[holiday]]\nname = 'national_day'\nstart = 2027-10-01\n", "missing date"),
        (
            "[[holiday]]\nname = 'national_day'\ndate = 2027-10-01\nend = 2027-10-02\n",
            "either date or start and end",
        ),
        (
            "[[holiday]]\nname = 'national_day'\nstart = 2027-10-07\nend = 2027-10-01\n",
            "end is before start",
        ),
        (
            "[[holiday]]\nname = 'national_day'\nstart = 2027-10-01\nend = 2028-10-07\n",
            "too long",
        ),
        ("[[holiday]]\nname = 'national_day'\ndate = 2027-10-01\nnote = 'x'\n", "'note'"),
        ("[[workday]]\ndate = 2027-10-09\nname = 'workday'\n", "unknown holiday name"),
        ("holiday = 3\n", "[[holiday]] entries"),
        ("[holidays]\n", "unknown key 'holidays'"),
        (
            "[[holiday]]\nname = 'national_day'\nstart = 2027-10-01\nend = 2027-10-07\n"
            "[[workday]]\ndate = 2027-10-03\n",
            "both a holiday and a workday",
        ),
        (
            "[[holiday]]\nname = 'national_day'\ndate = 2027-10-01\n"
            "[[holiday]]\nname = 'mid_autumn_festival'\ndate = 2027-10-01\n",
            "already listed in [[holiday]] #1",
        ),
        ("[[workday]]\ndate = 2027-10-09\n[[workday]]\ndate = 2027-10-09\n", "already listed"),
    ],
)
def test_malformed_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HolidayFileError) as info:
        HolidayCalendar.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert fragment in message
    assert isinstance(info.value, ValueError)


def test_malformed_entry_message_names_the_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[[holiday]]\nname = 'national_day'\ndate = 2027-10-01\n"
        "[[holiday]]\nname = 'labor_day'\ndate = 2027-05-01\n",
    )
    with pytest.raises(HolidayFileError, match=r"\[\[holiday\]\] #2 \(name = 'labor_day', date = "):
        HolidayCalendar.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HolidayFileError, match="cannot read"):
        HolidayCalendar.load(tmp_path / "absent.toml")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_bytes("# 节假日\n".encode("gbk"))
    with pytest.raises(HolidayFileError, match="UTF-8"):
        HolidayCalendar.load(path)
