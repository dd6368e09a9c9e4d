"""Helpers every `gongjian` sub-command shares: one-line failures, tables, JSON, --lang, --now."""

from __future__ import annotations

import functools
import json
import logging
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from bot.calendar.holidays import HolidayCalendar, HolidayFileError
from bot.calendar.quarters import Quarter
from bot.config import ConfigError, Settings, load_settings
from bot.core.clock import SystemClock
from bot.core.i18n import SUPPORTED_LOCALES, Translator, match_locale
from bot.core.records import OrgView
from bot.services.errors import ServiceError
from bot.services.stats import parse_quarter
from bot.services.use_cases import ReportTarget, Services
from bot.texts.attendance import quarter_ahead
from bot.texts.translation import translator
from handlers.errors import explain
from storage.engine import Database, UnitOfWork, unusable_reason

EXIT_USAGE = 2
# A rule refused the change (bad input, unknown code): nothing was written.
EXIT_REFUSED = 1
# Libraries that talk at INFO about their routine (APScheduler every job it runs, the delivery
# job every two seconds); WARNING and above still show.
QUIET_LOGGERS = ("alembic", "apscheduler", "uvicorn")
MIN_YEAR, MAX_YEAR = 1900, 2200
P = ParamSpec("P")
R = TypeVar("R")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LangOption = Annotated[
    str | None, typer.Option("--lang", help="Language of the output: zh_CN or en.")
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now", help="Pretend it is this ISO date and time (e.g. 2026-11-03T09:30), for demos."
    ),
]
OrgOption = Annotated[str, typer.Option("--org", help="The organization's code.")]
# Reports print text rather than a table, and their --now is for trying a date, not only demos.
ReportJsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ReportNowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this ISO date and time (e.g. 2026-11-03T09:30)."),
]
GroupOption = Annotated[
    str,
    typer.Option("--org", help="The code of an organization, or of an alliance or pairing."),
]
QuarterOption = Annotated[
    str | None, typer.Option("--quarter", help="The quarter, e.g. 2026Q4 (default: this one).")
]

_logging_ready = False


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Prints one line to stderr and exits (status 2 for usage and setup errors)."""
    typer.echo(message.replace("\n", " "), err=True)
    raise typer.Exit(code)


def friendly(function: Callable[P, R]) -> Callable[P, R]:
    """Turns configuration, holiday-file and database-connection errors into one line and exit 2."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except (ConfigError, HolidayFileError) as error:
            fail(str(error))
        except Exception as error:
            reason = unusable_reason(error)
            if reason is None:
                raise
            fail(f"GONGJIAN_DATABASE_URL: cannot use the database: {reason}")

    return wrapper


def pick_translator(settings: Settings, lang: str | None) -> Translator:
    """Returns the translator of `--lang`, or of the default locale."""
    if lang is None:
        return translator(settings.default_locale)
    locale = lang if lang in SUPPORTED_LOCALES else match_locale(lang)
    if locale is None:
        fail(f"--lang: unsupported language {lang!r}; choose one of {', '.join(SUPPORTED_LOCALES)}")
    return translator(locale)


def parse_now(
    settings: Settings,
    text: str | None,
    *,
    option: str = "--now",
    example: str = "2026-11-03T09:30",
) -> datetime:
    """Returns the current time, or the option's time read in the configured time zone."""
    if text is None:
        return SystemClock(settings.tz).now()
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option}: not an ISO date and time: {text!r} (e.g. {example})")
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.tz)
    return value.astimezone(settings.tz)


def display_width(text: str) -> int:
    """Returns how many terminal columns a text takes (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Lays out rows in aligned columns under a header."""
    widths = [display_width(cell) for cell in header]
    for row in rows:
        widths = [max(width, display_width(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [header, ["-" * width for width in widths], *rows]:
        cells = [
            cell + " " * (width - display_width(cell))
            for cell, width in zip(row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def emit_json(data: object) -> None:
    """Prints data as JSON (UTF-8, not escaped)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def settings_from_env() -> Settings:
    """Loads the settings once and sets up logging from them."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return settings


def configure_logging(level_name: str) -> None:
    """Configures stdlib logging to stderr once per process."""
    global _logging_ready  # noqa: PLW0603 (one configuration per process)
    level = logging.getLevelName(level_name.strip().upper())
    if not isinstance(level, int):
        raise ConfigError(
            f"GONGJIAN_LOG_LEVEL: unknown level {level_name!r} (DEBUG, INFO, WARNING or ERROR)"
        )
    if _logging_ready:
        return
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if level > logging.DEBUG:
        # Alembic announces its context on every start; only worth seeing when debugging.
        for noisy in QUIET_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    _logging_ready = True


def open_database(settings: Settings) -> Database:
    """Opens the configured database, bringing its schema up to date."""
    return Database.connect(settings.database_url)


def check_year(t: Translator, year: int) -> int:
    """Refuses a year the calendar cannot sensibly answer for."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        fail(t("The year must be between {first} and {last}.", first=MIN_YEAR, last=MAX_YEAR))
    return year


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[UnitOfWork]:
    """Opens the database (upgrading its schema) for one transaction, then closes it."""
    database = open_database(settings)
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


def run_use_case(settings: Settings, t: Translator, use_case: Callable[[Any], R]) -> R:
    """Runs one use case in one transaction; a refusal prints its translated reason and exits 1."""
    database = Database.connect(settings.database_url)
    try:
        with database.session() as session:
            return use_case(session)
    except ServiceError as error:
        fail(explain(t, error), code=EXIT_REFUSED)
    finally:
        database.dispose()


@contextmanager
def use_cases(
    settings: Settings, *, now: datetime | None = None, holidays: HolidayCalendar | None = None
) -> Iterator[Services]:
    """Opens one unit of work and yields the use cases the chat calls too."""
    with unit_of_work(settings) as session:
        yield Services(
            session,
            now=now or SystemClock(settings.tz).now(),
            tz=settings.tz,
            holidays=holidays
            if holidays is not None
            else HolidayCalendar.load(settings.holidays_file),
            settings=settings,
        )


def run_services(
    settings: Settings,
    t: Translator,
    use_case: Callable[[Services], R],
    *,
    now: datetime | None = None,
) -> R:
    """Runs use cases in one unit of work; a refusal prints its translated reason and exits 1."""
    try:
        with use_cases(settings, now=now) as services:
            return use_case(services)
    except ServiceError as error:
        fail(explain(t, error), code=EXIT_REFUSED)


def find_org(services: Services, t: Translator, code: str) -> OrgView:
    """Returns the organization with `code`, or fails naming it."""
    org = services.org_by_code(code)
    if org is None:
        fail(t("No organization has the code {code}. See: gongjian org list", code=code))
    return org


@dataclass(frozen=True, slots=True)
class Run:
    """What a report command needs: settings, translator, the moment, the holiday calendar."""

    settings: Settings
    t: Translator
    now: datetime
    holidays: HolidayCalendar

    @property
    def today(self) -> date:
        """The local date of the run."""
        return self.now.date()


def start(lang: str | None, now: str | None) -> Run:
    """Loads the settings and reads `--lang` and `--now`, failing with one line on a bad one."""
    settings = load_settings()
    return Run(
        settings,
        pick_translator(settings, lang),
        parse_now(settings, now),
        HolidayCalendar.load(settings.holidays_file),
    )


@contextmanager
def run_use_cases(run: Run) -> Iterator[Services]:
    """Opens the use cases of a report run, at its moment and with its holiday calendar."""
    with use_cases(run.settings, now=run.now, holidays=run.holidays) as services:
        yield services


def read_quarter(run: Run, text: str | None) -> Quarter:
    """Reads `--quarter` (this quarter when absent), refusing one that has not begun."""
    quarter = parse_quarter(text or "", run.today)
    if quarter is None:
        fail(run.t("--quarter: not a quarter: {text} (e.g. 2026Q4)", text=text))
    if quarter > Quarter.of(run.today):
        fail(quarter_ahead(run.t, quarter))
    return quarter


def find_target(services: Services, t: Translator, code: str) -> ReportTarget:
    """Finds an organization by code, else an alliance or a pairing, or fails naming the code."""
    target = services.report_target(code)
    if target is None:
        fail(t("No organization, alliance or pairing has the code {code}.", code=code))
    return target


def output_path(output: Path | None, filename: str) -> Path:
    """Resolves `-o`: nothing means the file's own name here, a folder means its name in there."""
    if output is None:
        return Path(filename)
    if output.is_dir():
        return output / filename
    return output


def mounted_group(app: typer.Typer, name: str) -> typer.Typer:
    """Returns the sub-command group mounted on `app` under `name`."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    raise LookupError(name)


# Summaries start when the assistant's records can: no year before this one has any.
FIRST_SUMMARY_YEAR = 2000


def read_summary_year(run: Run, year: int | None) -> int:
    """Reads `--year` for a year-end summary (this year when absent), refusing one out of range."""
    the_year = run.today.year if year is None else year
    if not FIRST_SUMMARY_YEAR <= the_year <= run.today.year:
        fail(
            run.t(
                "The year must be between {first} and {last}.",
                first=FIRST_SUMMARY_YEAR,
                last=run.today.year,
            )
        )
    return the_year
