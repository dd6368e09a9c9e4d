"""The composition root: builds the assistant from settings, a clock and the database."""

from __future__ import annotations

from bot.calendar.holidays import HolidayCalendar
from bot.config import Settings
from bot.core.clock import Clock, SystemClock
from bot.engine.assistant import Assistant
from handlers.routers import ROUTERS
from storage.engine import Database


def build_assistant(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
) -> Assistant:
    """Connects the database (upgrading its schema), loads holidays and wires the handlers."""
    database = database or Database.connect(settings.database_url)
    return Assistant(
        database=database,
        clock=clock or SystemClock(settings.tz),
        settings=settings,
        holidays=HolidayCalendar.load(settings.holidays_file),
        routers=ROUTERS,
    )
