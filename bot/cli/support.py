"""Helpers every `gongjian` sub-command shares: one-line failures, tables, JSON, --lang, --now."""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from sqlalchemy.exc import OperationalError

from bot.calendar.holidays import HolidayFileError
from bot.config import ConfigError, Settings
from bot.core.clock import SystemClock
from bot.core.i18n import SUPPORTED_LOCALES, Translator, match_locale
from bot.services.errors import ServiceError
from bot.texts.translation import translator
from handlers.errors import explain
from storage.engine import Database

EXIT_USAGE = 2
# A rule refused the change (bad input, unknown code): nothing was written.
EXIT_REFUSED = 1
P = ParamSpec("P")
R = TypeVar("R")


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
        except OperationalError as error:
            reason = str(error.orig or error).strip().splitlines()[0]
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


def mounted_group(app: typer.Typer, name: str) -> typer.Typer:
    """Returns the sub-command group mounted on `app` under `name`."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    raise LookupError(name)
