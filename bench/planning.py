"""Reminder planning at city scale: the time to compute and enqueue one day's pushes.

The day is 2026-11-03, an organization-life day, in the generated city. The scheduler's tick
(`scheduler.service.plan_tick`: read the facts, run the rules, retire what is no longer owed,
insert the new pushes) runs at each moment of the day at which a reminder window opens with
the default settings (midnight, 07:30 morning reminders and end of quiet hours, 09:00 notices,
10:00 mobile members' weekly step, 19:00 evening reminders). The time of the ticks that queued
pushes is compared with the time Telegram needs to deliver those pushes at its 30 messages per
second. One more tick at noon, when nothing opens, measures what a full plan costs at any other
minute; the scheduler's own ticks after it (`TickState`: planned again only when a fact is
written or a window opens, closes or steps) measure what an idle minute costs.

Run: python -m bench.planning [--postgres URL]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from datetime import time as clock_time

from bench.cityscale import QUICK_CITY, SHANGHAI, TODAY, city_database
from bench.databases import backend_of, postgres_base_url
from bench.report import Result, settle_heap
from bot.calendar.holidays import HolidayCalendar
from bot.config import load_settings
from scheduler.service import TickReport, TickState, plan_tick
from storage.engine import Database

TELEGRAM_RATE = 30.0
TARGET = 0.01
# When reminder windows open on the benchmark day (ReminderConfig defaults, quiet hours end).
DAY_TICKS = (
    clock_time(0, 0),
    clock_time(7, 30),
    clock_time(9, 0),
    clock_time(10, 0),
    clock_time(19, 0),
)
IDLE_TICK = clock_time(12, 0)
# The scheduler's ticks after the noon one, one a minute: nothing written, nothing opens.
IDLE_MINUTES = (clock_time(12, 1), clock_time(12, 2), clock_time(12, 3))
IDLE_TARGET = 0.050
TICKS_PER_DAY = 24 * 60


def run_tick(
    database: Database,
    at: clock_time,
    holidays: HolidayCalendar,
    state: TickState | None = None,
) -> tuple[TickReport, float]:
    """Runs one tick at `at` on the benchmark day; returns its report and seconds."""
    settings = load_settings(database_url="sqlite://", _env_file=None)
    now = datetime.combine(TODAY, at, tzinfo=SHANGHAI)
    started = time.perf_counter()
    report = plan_tick(database, now=now, holidays=holidays, settings=settings, state=state)
    return report, time.perf_counter() - started


def measure(url: str, *, holidays: HolidayCalendar | None = None) -> list[Result]:
    """Plans the benchmark day's pushes on the city at `url`; compares with Telegram's 30/s."""
    holidays = holidays or HolidayCalendar.load()
    settle_heap()
    database = Database.connect(url, migrate=False)
    try:
        ticks = [(at, *run_tick(database, at, holidays)) for at in DAY_TICKS]
        state = TickState()
        idle, idle_seconds = run_tick(database, IDLE_TICK, holidays, state)
        minutes = [run_tick(database, at, holidays, state) for at in IDLE_MINUTES]
    finally:
        database.dispose()
    pushes = sum(report.queued for _, report, _ in ticks)
    # The day's pushes are computed and stored by the ticks that queued them; the others are
    # like any of the day's other minutes, whose cost the idle tick shows.
    seconds = sum(spent for _, report, spent in ticks if report.queued)
    delivery = pushes / TELEGRAM_RATE
    ratio = seconds / delivery if delivery else None
    per_tick = ", ".join(
        f"{at:%H:%M} {spent:.1f} s ({report.queued:,} new)" for at, report, spent in ticks
    )
    busy = idle_seconds * TICKS_PER_DAY
    quiet = max(spent for _, spent in minutes)
    slept = all(not report.planned for report, _ in minutes)
    idle_row = Result(
        name=f"idle reminder tick, city scale, {backend_of(url)}",
        figure=f"{quiet * 1000:.1f} ms" + ("" if slept else " (planned!)"),
        baseline=f"the full plan of the same minute: {idle_seconds:.2f} s",
        ratio=quiet / idle_seconds,
        target="< 50 ms",
        met=slept and quiet < IDLE_TARGET,
        notes=(
            f"the slowest of {len(minutes)} ticks a minute apart after the {IDLE_TICK:%H:%M} "
            f"plan, nothing written meanwhile; ticking every minute now costs "
            f"{quiet * TICKS_PER_DAY:,.1f} s of CPU a day plus one full plan per change",
        ),
    )
    return [
        idle_row,
        Result(
            name=f"reminder planning, city day, {backend_of(url)}",
            figure=f"{seconds:.1f} s for {pushes:,} pushes",
            baseline=f"Telegram at 30/s: {delivery:,.0f} s",
            ratio=ratio,
            target="< 1%",
            met=ratio is not None and ratio < TARGET,
            notes=(
                f"ticks: {per_tick}",
                f"a tick with nothing new ({IDLE_TICK:%H:%M}, {idle.queued} queued) takes "
                f"{idle_seconds:.1f} s: ticking every minute costs {busy:,.0f} s of CPU a day "
                f"({busy / 86_400:.1%} of a core) when every tick plans",
            ),
        ),
    ]


def main() -> None:
    """Builds a city (quick size) on each backend and plans its day."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if postgres_base_url(args.postgres) else [])
    for backend in backends:
        with city_database(backend, QUICK_CITY, postgres_base_url(args.postgres)) as (url, _):
            results = measure(url)
        for result in results:
            print(f"{result.name}: {result.figure}; {result.baseline}; ratio {result.ratio}")
            for note in result.notes:
                print(f"  {note}")


if __name__ == "__main__":
    main()
