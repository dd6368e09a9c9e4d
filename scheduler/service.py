"""The reminder service: APScheduler ticks that plan pushes into the outbox, and delivery rounds.

Run it inside `gongjian run` (with that process's channels as senders) or alone
(`gongjian scheduler`). Every process may deliver; only the leader ticks. A tick looks at what
is owed at `now`, so the first tick after any downtime catches up once, with no flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.calendar.holidays import HolidayCalendar
from bot.config import Settings
from bot.core.clock import Clock
from bot.core.inbound import Channel
from bot.core.metrics import LEADER, TICK_SECONDS
from bot.core.ports import Sender
from bot.services.holiday_data import missing_holiday_years, redate_org_life_days
from bot.services.obligations.facts import Facts, Part, load_facts
from bot.services.obligations.rules import Push, Rule, due_pushes, next_change, owed_stream
from bot.texts.reminders import render_push
from bot.texts.translation import translator
from scheduler.delivery import Delivery, DeliveryReport
from scheduler.housekeeping import HousekeepingReport, housekeep
from scheduler.leader import Leadership, leadership_for
from storage import outbox, reminders
from storage.engine import Database, Session
from storage.outbox import NewPush

log = logging.getLogger(__name__)

TICK_JOB = "reminders.tick"
DELIVERY_JOB = "reminders.deliver"
HOUSEKEEPING_JOB = "reminders.housekeeping"
LEADER_JOB = "reminders.leader"
# APScheduler drops a run that is later than this (its default is 1 s). A tick delayed by a
# stalled loop or a suspended machine must still run, once (coalesce), so the grace is a day.
TICK_MISFIRE_GRACE = timedelta(days=1)
LEADER_CHECK = timedelta(seconds=5)
DELIVERY_EVERY = timedelta(seconds=2)
# How long stopping waits for a running tick or delivery round to finish.
STOP_GRACE = timedelta(seconds=30)
# Delivery rounds per job run: bounded so a long backlog yields to the other jobs in between.
ROUNDS_PER_RUN = 20


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick found due and how much of it was new to the outbox."""

    at: datetime
    due: int
    queued: int
    retired: int = 0
    # False when nothing the rules read changed and no window moved since the last tick.
    planned: bool = True


@dataclass(slots=True)
class TickState:
    """What the last full tick of this process left for the next: when it must plan again."""

    planned_at: datetime | None = None
    wakes_at: datetime | None = None
    due: int = 0

    def idle_at(self, now: datetime) -> bool:
        """Tells whether, the facts unchanged, a tick at `now` would owe what the last one did."""
        if self.planned_at is None or self.wakes_at is None:
            return False
        return self.planned_at <= now < self.wakes_at


@dataclass(frozen=True, slots=True)
class PreviewItem:
    """One push the rules would make: to whom, through which channel, and what it says."""

    member_id: int
    member: str
    channel: Channel | None
    rule: str
    key: str
    urgent: bool
    text: str
    queued: bool = False


def render(facts: Facts, push: Push, cache: dict[tuple[str, ...], str] | None = None) -> str:
    """Writes a push in its recipient's language (the same words for everyone it concerns)."""
    locale = facts.locale_of(push.member_id)
    # The words depend on the obligation, its window and the language, never on the member.
    key = (locale, push.rule.value, push.subject, push.period)
    if cache is not None and key in cache:
        return cache[key]
    text = render_push(translator(locale), push)
    if cache is not None:
        cache[key] = text
    return text


# The outbox rows the rules plan (and retire once no longer owed); one-off notices stay.
PLANNED_RULES = frozenset(rule.value for rule in Rule)


def read_facts(
    session: Session,
    *,
    now: datetime,
    holidays: HolidayCalendar,
    settings: Settings,
    parts: Part = Part.ALL,
) -> Facts:
    """Reads the facts the rules need at `now`, with the configured quiet hours and language."""
    return load_facts(
        session,
        now=now,
        holidays=holidays,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        default_locale=settings.default_locale,
        parts=parts,
    )


def _fresh_pushes(facts: Facts, *, owed: set[str], known: set[str]) -> Iterator[NewPush]:
    """Renders the owed pushes not yet in the outbox, the first of each key; empties `owed`."""
    texts: dict[tuple[str, ...], str] = {}
    for key, push in owed_stream(facts):
        if key not in owed:
            continue  # a later push with the key of one already seen
        owed.discard(key)
        if push.held or key in known:
            continue
        yield NewPush(
            key=key,
            rule=push.rule.value,
            subject=push.subject,
            period=push.period,
            member_id=push.member_id,
            urgent=push.urgent,
            text=render(facts, push, texts),
        )


def plan_tick(
    database: Database,
    *,
    now: datetime,
    holidays: HolidayCalendar,
    settings: Settings,
    redate: bool = False,
    state: TickState | None = None,
) -> TickReport:
    """Runs the rules at `now` and stores the new pushes in the outbox (one transaction).

    With `redate`, first moves the stored org-life days still ahead to where the holiday data
    puts them, telling their members (the first tick after a start, when the data may be new).
    With `state`, a tick before the moment the last one computed, with no fact written since,
    reads one row and plans nothing: it would owe exactly what the last one did.
    """
    with database.session() as session:
        if (
            state is not None
            and not redate
            and state.idle_at(now)
            and not reminders.facts_changed(session)
        ):
            return TickReport(at=now, due=state.due, queued=0, planned=False)
        if redate:
            redate_org_life_days(
                session,
                holidays=holidays,
                now=now,
                default_locale=settings.default_locale,
                quiet_start=settings.quiet_hours_start,
                quiet_end=settings.quiet_hours_end,
            )
        # Before the facts are read: every write whose mark goes is in what they read.
        reminders.take_fact_changes(session)
        facts = read_facts(session, now=now, holidays=holidays, settings=settings)
        # At city scale ~100,000 pushes are owed: a first pass keeps only their keys, a second
        # renders and stores them a chunk at a time, so no push outlives its chunk.
        owed: set[str] = set()
        wanted: set[tuple[str, str]] = set()
        due = 0
        for key, push in owed_stream(facts):
            if key in owed:
                continue
            owed.add(key)
            if not push.held:
                due += 1
                wanted.add((push.rule.value, push.period))
        # A queued push that is no longer owed must not go out: the thing was done meanwhile,
        # a later reminder replaced it, or its member muted it.
        retired = outbox.retire(session, owed=owed, rules=PLANNED_RULES)
        # Skipping known keys first spares rendering and inserting what an earlier tick stored;
        # the UNIQUE key still settles any race with another tick.
        known = outbox.existing_keys(session, ((rule, period, "") for rule, period in wanted))
        fresh = _fresh_pushes(facts, owed=owed, known=known)
        queued = outbox.enqueue(session, fresh, now=now)
        wakes_at = next_change(facts) if state is not None else None
    if state is not None:
        # Only once the transaction has committed: a failed tick plans again next time.
        state.planned_at, state.wakes_at, state.due = now, wakes_at, due
    return TickReport(at=now, due=due, queued=queued, retired=retired)


def preview(
    database: Database,
    *,
    at: datetime,
    holidays: HolidayCalendar,
    settings: Settings,
    include_queued: bool = False,
) -> list[PreviewItem]:
    """Lists what the rules would push at `at` (not already in the outbox); records nothing."""
    with database.session() as session:
        facts = read_facts(
            session, now=at, holidays=holidays, settings=settings, parts=Part.ALL | Part.ACCOUNTS
        )
        pushes = due_pushes(facts)
        known = outbox.existing_keys(session, ((p.rule.value, p.period, p.key) for p in pushes))
        session.rollback()
    items = []
    texts: dict[tuple[str, ...], str] = {}
    for push in pushes:
        if push.key in known and not include_queued:
            continue
        account = facts.preferred_account(push.member_id)
        items.append(
            PreviewItem(
                member_id=push.member_id,
                member=facts.members[push.member_id].name,
                channel=account.channel if account else None,
                rule=push.rule.value,
                key=push.key,
                urgent=push.urgent,
                text=render(facts, push, texts),
                queued=push.key in known,
            )
        )
    return sorted(items, key=lambda item: (item.rule, item.key))


class ReminderService:
    """The scheduler's jobs: keep or take leadership, tick when leading, deliver the outbox."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        settings: Settings,
        holidays: HolidayCalendar,
        senders: Iterable[Sender] = (),
        leadership: Leadership | None = None,
        plan: bool = True,
        delivery: Delivery | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings
        self.holidays = holidays
        self.plan = plan
        self.leadership: Leadership = leadership or leadership_for(database)
        senders = list(senders)
        self.delivery = delivery or (
            Delivery(
                database=database,
                clock=clock,
                senders=senders,
                quiet_hours=(settings.quiet_hours_start, settings.quiet_hours_end),
            )
            if senders
            else None
        )
        self.scheduler: AsyncIOScheduler | None = None
        self.leading = False
        self.stopping = False
        self._tick_lock = asyncio.Lock()
        # The holiday data is read at start: the first tick re-dates the org-life days by it.
        self._redate = True
        # What the last tick left for the next; a process that takes the lead starts afresh,
        # since the leader before it took the marks of what changed meanwhile.
        self._plan_state = TickState()
        self._busy: set[asyncio.Task[object]] = set()

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        """Tracks the running job, so stopping can let it finish its round."""
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._busy.discard(task)

    async def settle(self, grace: float) -> None:
        """Stops starting new rounds and waits (up to `grace` s) for running jobs to finish."""
        self.stopping = True
        current = asyncio.current_task()
        busy = [task for task in self._busy if task is not current]
        if busy:
            await asyncio.wait(busy, timeout=grace)

    async def check_leader(self) -> bool:
        """Keeps or takes leadership; on taking it, ticks at once to catch up."""
        if not self.plan or self.stopping:
            return False
        with self._working():
            return await self._check_leader()

    async def _check_leader(self) -> bool:
        """Checks or takes the lock and ticks after taking it."""
        leading = await asyncio.to_thread(self.leadership.acquire)
        became = leading and not self.leading
        if became:
            self._plan_state = TickState()
        if self.leading and not leading:
            log.warning("scheduler leadership lost; another process takes over")
        self.leading = leading
        LEADER.set(1.0 if leading else 0.0)
        if became:
            await self.tick()
        return leading

    async def tick(self) -> TickReport | None:
        """Plans the pushes due now, if this process leads; wakes delivery when some are new."""
        if not self.plan or self.stopping:
            return None
        with self._working():
            return await self._tick()

    async def _tick(self) -> TickReport | None:
        """Runs one tick under the tick lock."""
        async with self._tick_lock:
            leading = await asyncio.to_thread(self.leadership.acquire)
            if leading and not self.leading:
                self._plan_state = TickState()
            self.leading = leading
            LEADER.set(1.0 if self.leading else 0.0)
            if not self.leading:
                return None
            now = self.clock.now()
            started = time.perf_counter()
            report = await asyncio.to_thread(
                plan_tick,
                self.database,
                now=now,
                holidays=self.holidays,
                settings=self.settings,
                redate=self._redate,
                state=self._plan_state,
            )
            TICK_SECONDS.observe(time.perf_counter() - started)
            self._redate = False
        if report.queued:
            log.info("queued %d reminder pushes", report.queued)
            self.wake_delivery()
        return report

    async def deliver(self) -> DeliveryReport:
        """Runs delivery rounds until nothing is due (bounded per run)."""
        if self.delivery is None or self.stopping:
            return DeliveryReport()
        with self._working():
            return await self.delivery.drain(max_rounds=ROUNDS_PER_RUN, stop=lambda: self.stopping)

    def wake_delivery(self) -> None:
        """Asks the delivery job to run now instead of at its next interval."""
        if self.scheduler is None or self.delivery is None:
            return
        job = self.scheduler.get_job(DELIVERY_JOB)
        if job is not None:
            job.modify(next_run_time=datetime.now(self.clock.tz))

    async def housekeep(self) -> HousekeepingReport | None:
        """Runs the daily housekeeping, if this process leads."""
        if not self.plan or self.stopping or not self.leading:
            return None
        with self._working():
            return await asyncio.to_thread(
                housekeep, self.database, now=self.clock.now(), settings=self.settings
            )

    def close(self) -> None:
        """Gives up leadership and its connection."""
        self.leadership.dispose()
        self.leading = False
        LEADER.set(0.0)


def build_scheduler(service: ReminderService, *, tz: ZoneInfo) -> AsyncIOScheduler:
    """Wires the service's jobs into an APScheduler 3 AsyncIOScheduler (not yet started)."""
    scheduler = AsyncIOScheduler(timezone=tz)
    now = datetime.now(tz)
    if service.plan:
        scheduler.add_job(
            service.check_leader,
            IntervalTrigger(seconds=LEADER_CHECK.total_seconds(), timezone=tz),
            id=LEADER_JOB,
            next_run_time=now,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(LEADER_CHECK.total_seconds()),
        )
        scheduler.add_job(
            service.tick,
            CronTrigger(second=0, timezone=tz),
            id=TICK_JOB,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(TICK_MISFIRE_GRACE.total_seconds()),
        )
        scheduler.add_job(
            service.housekeep,
            CronTrigger(hour=3, minute=17, timezone=tz),
            id=HOUSEKEEPING_JOB,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(timedelta(days=1).total_seconds()),
        )
    if service.delivery is not None:
        scheduler.add_job(
            service.deliver,
            IntervalTrigger(seconds=DELIVERY_EVERY.total_seconds(), timezone=tz),
            id=DELIVERY_JOB,
            next_run_time=now,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(TICK_MISFIRE_GRACE.total_seconds()),
        )
    service.scheduler = scheduler
    return scheduler


async def run_scheduler(
    *,
    database: Database,
    clock: Clock,
    settings: Settings,
    holidays: HolidayCalendar,
    senders: Iterable[Sender] = (),
    plan: bool | None = None,
    stop: asyncio.Event | None = None,
    leadership: Leadership | None = None,
) -> None:
    """Runs the reminder jobs until `stop` is set or the task is cancelled."""
    # `plan` defaults to settings.scheduler_enabled; pass the process's channels as `senders`
    # so it delivers too: every process may deliver, only the leader plans.
    jobs = ReminderJobs(
        database=database,
        clock=clock,
        settings=settings,
        holidays=holidays,
        senders=senders,
        plan=plan,
        leadership=leadership,
    )
    await jobs.start()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await jobs.stop()


class ReminderJobs:
    """The reminder jobs as a service `gongjian run` starts and stops with its channels."""

    name = "reminders"
    routes: tuple[()] = ()

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        settings: Settings,
        holidays: HolidayCalendar,
        senders: Iterable[Sender] = (),
        plan: bool | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.service = ReminderService(
            database=database,
            clock=clock,
            settings=settings,
            holidays=holidays,
            senders=senders,
            leadership=leadership,
            plan=settings.scheduler_enabled if plan is None else plan,
        )
        self.scheduler = build_scheduler(self.service, tz=clock.tz)

    async def start(self) -> None:
        """Starts the jobs on the running event loop, warning when the holiday data runs out."""
        service = self.service
        years = missing_holiday_years(service.holidays, service.clock.now().date())
        if years:
            log.warning(
                "the official holiday calendar of %s is not known and the next three months"
                " reach into it: org-life days there are not moved for holidays; add a holiday"
                " file (GONGJIAN_HOLIDAYS_FILE) or update chinesecalendar",
                ", ".join(str(year) for year in years),
            )
        self.scheduler.start()

    async def stop(self) -> None:
        """Lets the running round finish (briefly), stops the jobs and gives up leadership."""
        if self.scheduler.running:
            self.scheduler.pause()
            await self.service.settle(STOP_GRACE.total_seconds())
            self.scheduler.shutdown(wait=False)
        await asyncio.to_thread(self.service.close)
