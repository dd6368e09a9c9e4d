"""`gongjian calendar`: an organization's organization-life days of a year."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import MoveReason, OrgLifeDay
from bot.cli.support import (
    JsonOption,
    LangOption,
    NowOption,
    OrgOption,
    check_year,
    emit_json,
    fail,
    find_org,
    friendly,
    parse_now,
    pick_translator,
    render_table,
    settings_from_env,
    use_cases,
)
from bot.core.i18n import Translator
from bot.services.holiday_data import missing_holiday_years
from bot.services.meetings import OrgLifeYear
from bot.texts.phrases import HOLIDAY_POLICIES, HOLIDAYS, ORDINALS
from bot.texts.reminders import holiday_data_warning


def register(app: typer.Typer) -> None:
    """Mounts `gongjian calendar` on the app."""
    app.command("calendar")(calendar)


@friendly
def calendar(
    org: OrgOption,
    year: Annotated[int, typer.Option("--year", help="The year, e.g. 2026.")],
    json_output: JsonOption = False,
    lang: LangOption = None,
    now: NowOption = None,
) -> None:
    """Lists an organization's organization-life days of a year, with holiday moves."""
    settings = settings_from_env()
    t = pick_translator(settings, lang)
    today = parse_now(settings, now).date()
    check_year(t, year)
    holidays = HolidayCalendar.load(settings.holidays_file)
    with use_cases(settings, holidays=holidays) as services:
        target = find_org(services, t, org)
        try:
            plan = services.org_life_year(target, year)
        except ValueError as error:
            fail(
                t(
                    "The organization-life rule of {code} is not valid: {reason}",
                    code=target.code,
                    reason=str(error),
                )
            )
    if json_output:
        emit_json(
            [
                {
                    "month": day.month,
                    "date": day.date.isoformat(),
                    "original": day.original.isoformat(),
                    "reason": day.reason.value if day.reason else None,
                    "holiday": day.holiday.value if day.holiday else None,
                }
                for day in plan.days
            ]
        )
        _warn_holiday_data(t, holidays, today)
        return
    typer.echo(render_calendar(t, plan))
    _warn_holiday_data(t, holidays, today)


def _warn_holiday_data(t: Translator, holidays: HolidayCalendar, today: date) -> None:
    """Warns (on stderr) when the next three months lie past the official holiday data."""
    warning = holiday_data_warning(t, missing_holiday_years(holidays, today))
    if warning:
        typer.echo(warning, err=True)


def render_calendar(t: Translator, plan: OrgLifeYear) -> str:
    """Describes a year's organization-life days, one line per month."""
    org = plan.org
    weekday_name = t.weekday(date(2024, 1, 1) + timedelta(days=plan.weekday))
    lines = [
        t(
            "{org} ({code}): organization-life days of {year}",
            org=org.name,
            code=org.code,
            year=plan.year,
        ),
        t(
            "Rule: the {ordinal} {weekday} of every month at {time}; on a public holiday: {policy}.",
            ordinal=t(ORDINALS.get(plan.ordinal, ORDINALS[1])),
            weekday=weekday_name,
            time=plan.time,
            policy=t(HOLIDAY_POLICIES[plan.policy]),
        ),
        "",
    ]
    rows = [
        [t.date(day.date, "long"), t.weekday(day.date), describe_day(t, day)] for day in plan.days
    ]
    lines.append(render_table([t("Date"), t("Weekday"), t("Note")], rows))
    return "\n".join(lines)


def describe_day(t: Translator, day: OrgLifeDay) -> str:
    """Says why an organization-life day moved, or what to know about it."""
    holiday = t(HOLIDAYS.get(day.holiday.value, HOLIDAYS["other"])) if day.holiday else ""
    if day.reason is MoveReason.MOVED_FOR_HOLIDAY:
        return t(
            "moved from {date} ({holiday})", date=t.date(day.original, "medium"), holiday=holiday
        )
    if day.reason is MoveReason.KEPT_ON_HOLIDAY:
        return t("falls on {holiday}; the branch keeps the day", holiday=holiday)
    if day.reason is MoveReason.CALENDAR_UNKNOWN:
        return t("holidays of {year} not published yet; check nearer the time", year=day.year)
    return ""
