"""Ticks and the scheduler around them: idempotent, one catch-up after downtime, quiet hours."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import typer
from apscheduler.triggers.cron import CronTrigger
from sqlmodel import select
from typer.testing import CliRunner

from bot.channels.console import ConsoleSender
from bot.channels.registry import push_senders
from bot.cli.reminders import register
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import MeetingKind
from bot.core.inbound import Channel
from scheduler.leader import FileLeadership
from scheduler.service import (
    DELIVERY_JOB,
    HOUSEKEEPING_JOB,
    LEADER_JOB,
    TICK_JOB,
    TICK_MISFIRE_GRACE,
    ReminderJobs,
    ReminderService,
    build_scheduler,
    plan_tick,
    preview,
    run_scheduler,
)
from storage.engine import Database
from storage.models import Member
from storage.reminders import OutboxMessage, OutboxStatus, ReminderSetting
from tests.factories import World
from tests.scheduler.test_rules import B1, EVERYONE, HOLIDAYS, add_meeting, at, give_accounts


def rows(database: Database) -> list[OutboxMessage]:
    """Lists the outbox rows."""
    with database.session() as session:
        return list(session.exec(select(OutboxMessage)).all())


def per_member(database: Database, world: World, rule: str) -> Counter[str]:
    """Counts the outbox rows of one rule per member name."""
    names = {member_id: name for name, member_id in world.members.items()}
    return Counter(names[row.member_id] for row in rows(database) if row.rule == rule)


def tick(database: Database, settings: Settings, moment: object) -> int:
    """Runs one tick at `moment` and returns how many pushes it queued."""
    return plan_tick(database, now=moment, holidays=HOLIDAYS, settings=settings).queued  # type: ignore[arg-type]


def test_the_same_tick_twice_queues_nothing_more(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    moment = at(2026, 11, 2, 19, 0)
    first = tick(database, settings, moment)
    assert first > len(EVERYONE)
    assert tick(database, settings, moment) == 0
    assert tick(database, settings, at(2026, 11, 2, 19, 1)) == 0
    keys = Counter(row.key for row in rows(database))
    assert len(keys) == first and set(keys.values()) == {1}
    assert {row.status for row in rows(database)} == {OutboxStatus.PENDING}


def test_catch_up_after_missing_one_fire_time(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    tick(database, settings, at(2026, 11, 2, 18, 0))
    assert per_member(database, world, "orglife") == Counter()
    # Down from 18:00 to 20:30, across the 19:00 reminder: one catch-up, once per member.
    tick(database, settings, at(2026, 11, 2, 20, 30))
    tick(database, settings, at(2026, 11, 2, 20, 31))
    assert per_member(database, world, "orglife") == Counter(dict.fromkeys(EVERYONE, 1))


def test_catch_up_after_missing_several_fire_times_sends_only_the_current_one(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    tick(database, settings, at(2026, 11, 2, 18, 0))
    # Down overnight, across the evening and the morning reminder: only the morning one goes.
    tick(database, settings, at(2026, 11, 3, 8, 0))
    assert per_member(database, world, "orglife") == Counter(dict.fromkeys(EVERYONE, 1))
    assert {row.period for row in rows(database) if row.rule == "orglife"} == {"2026-11-03-morning"}
    # Down from 15 November to 7 December, across three weekly joint-meeting nudges.
    tick(database, settings, at(2026, 11, 15, 12, 0))
    tick(database, settings, at(2026, 12, 7, 9, 30))
    nudges = [row for row in rows(database) if row.rule == "joint_meeting"]
    assert sorted((row.member_id, row.period) for row in nudges) == sorted(
        (world.members[name], "2026Q4-w3") for name in ("sec", "liaison")
    )


def test_quiet_hours_hold_a_tick_and_the_next_morning_sends(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    assert tick(database, settings, at(2026, 11, 2, 22, 30)) == 0
    assert tick(database, settings, at(2026, 11, 3, 7, 29)) == 0
    assert tick(database, settings, at(2026, 11, 3, 7, 30)) > 0
    assert per_member(database, world, "orglife") == Counter(dict.fromkeys(EVERYONE, 1))
    assert all(row.urgent for row in rows(database) if row.rule == "orglife")


def test_a_queued_push_no_longer_owed_is_not_sent(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    tick(database, settings, at(2026, 11, 16, 9, 0))
    assert per_member(database, world, "joint_meeting") == Counter({"sec": 1, "liaison": 1})
    # The joint meeting is recorded before the nudges went out (say, a channel was down).
    add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.JOINT_MEETING,
        held_on=date(2026, 12, 2),
        period="2026Q4",
        alliance_id=world.alliance_id,
    )
    report = plan_tick(database, now=at(2026, 11, 16, 9, 1), holidays=HOLIDAYS, settings=settings)
    assert report.retired == 2 and report.queued == 0
    statuses = {row.status for row in rows(database) if row.rule == "joint_meeting"}
    assert statuses == {OutboxStatus.OBSOLETE}
    # Rows of obligations still owed are left alone, sent ones too.
    assert all(
        row.status is OutboxStatus.PENDING for row in rows(database) if row.rule != "joint_meeting"
    )


def test_quiet_hours_keep_a_queued_push_until_a_later_one_replaces_it(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world, ("m1",))
    tick(database, settings, at(2026, 11, 2, 21, 59))
    [evening] = [row for row in rows(database) if row.rule == "orglife"]
    report = plan_tick(database, now=at(2026, 11, 2, 23, 0), holidays=HOLIDAYS, settings=settings)
    assert report.retired == 0
    tick(database, settings, at(2026, 11, 3, 7, 30))
    by_period = {row.period: row.status for row in rows(database) if row.rule == "orglife"}
    assert by_period == {
        evening.period: OutboxStatus.OBSOLETE,
        "2026-11-03-morning": OutboxStatus.PENDING,
    }


def test_muting_retires_queued_nudges_but_not_the_orglife_day(
    database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world, ("liaison",))
    tick(database, settings, at(2026, 11, 2, 20, 0))
    assert {row.rule for row in rows(database)} == {"orglife", "pairing_visits"}
    with database.session() as session:
        member = session.get_one(Member, world.members["liaison"])
        member.muted = True
        session.add(member)
    tick(database, settings, at(2026, 11, 2, 20, 1))
    by_rule = {row.rule: row.status for row in rows(database)}
    assert by_rule == {"orglife": OutboxStatus.PENDING, "pairing_visits": OutboxStatus.OBSOLETE}


def test_preview_records_nothing(database: Database, world: World, settings: Settings) -> None:
    give_accounts(database, world, B1)
    items = preview(database, at=at(2026, 11, 2, 20), holidays=HOLIDAYS, settings=settings)
    orglife = [item for item in items if item.rule == "orglife"]
    assert sorted(item.member for item in orglife) == sorted(B1)
    assert {item.channel for item in items} == {Channel.CONSOLE}
    assert all("09:00" in item.text for item in orglife)
    assert rows(database) == []
    assert preview(database, at=at(2026, 11, 2, 23), holidays=HOLIDAYS, settings=settings) == []
    # Once a tick queued them, they are no longer what would be pushed (unless asked).
    tick(database, settings, at(2026, 11, 2, 20))
    assert preview(database, at=at(2026, 11, 2, 20), holidays=HOLIDAYS, settings=settings) == []
    again = preview(
        database, at=at(2026, 11, 2, 20), holidays=HOLIDAYS, settings=settings, include_queued=True
    )
    assert [item.key for item in again] == [item.key for item in items]
    assert all(item.queued for item in again)


def test_the_scheduler_ticks_every_minute_and_catches_up_once(
    database: Database, clock: FrozenClock, settings: Settings, tmp_path: Path
) -> None:
    service = ReminderService(
        database=database,
        clock=clock,
        settings=settings,
        holidays=HOLIDAYS,
        senders=[ConsoleSender()],
        leadership=FileLeadership(tmp_path / "lock"),
    )
    scheduler = build_scheduler(service, tz=clock.tz)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {LEADER_JOB, TICK_JOB, DELIVERY_JOB, HOUSEKEEPING_JOB}
    tick_job = jobs[TICK_JOB]
    assert isinstance(tick_job.trigger, CronTrigger)
    assert str(tick_job.trigger.fields[-1]) == "0"  # second 0 of every minute
    assert tick_job.coalesce is True and tick_job.max_instances == 1
    assert tick_job.misfire_grace_time == TICK_MISFIRE_GRACE.total_seconds() >= 3600
    assert all(job.coalesce for job in jobs.values())
    # The leadership check runs at start: taking the lead ticks at once.
    assert jobs[LEADER_JOB].next_run_time is not None
    service.close()


def test_a_process_that_does_not_plan_only_delivers(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    service = ReminderService(
        database=database,
        clock=clock,
        settings=settings,
        holidays=HOLIDAYS,
        senders=[ConsoleSender()],
        plan=False,
    )
    scheduler = build_scheduler(service, tz=clock.tz)
    assert [job.id for job in scheduler.get_jobs()] == [DELIVERY_JOB]
    assert asyncio.run(service.tick()) is None
    assert asyncio.run(service.check_leader()) is False
    service.close()


async def test_running_jobs_push_the_due_reminders(
    database: Database, world: World, settings: Settings, tmp_path: Path
) -> None:
    give_accounts(database, world, B1)
    clock = FrozenClock(at(2026, 11, 2, 20, 0))
    arrived = asyncio.Event()
    pushed: list[str] = []

    def write(text: str) -> None:
        pushed.append(text)
        if len(pushed) >= len(B1):
            arrived.set()

    jobs = ReminderJobs(
        database=database,
        clock=clock,
        settings=settings,
        holidays=HOLIDAYS,
        senders=[ConsoleSender(write)],
        leadership=FileLeadership(tmp_path / "lock"),
    )
    await jobs.start()
    try:
        await asyncio.wait_for(arrived.wait(), timeout=10)
    finally:
        await jobs.stop()
    assert jobs.service.leading is False
    # Stopping let the round in flight finish: nothing is left half-sent.
    assert {row.status for row in rows(database)} == {OutboxStatus.SENT}
    orglife = {row.member_id for row in rows(database) if row.rule == "orglife"}
    assert orglife == {world.members[name] for name in B1}


async def test_run_scheduler_stops_when_told(
    database: Database, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(
        run_scheduler(
            database=database,
            clock=clock,
            settings=settings,
            holidays=HOLIDAYS,
            stop=stop,
            leadership=FileLeadership(tmp_path / "lock"),
        ),
        timeout=10,
    )
    lock = FileLeadership(tmp_path / "lock")
    assert lock.acquire()
    lock.dispose()


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[typer.Typer]:
    """A `gongjian`-like app with the reminder commands, on the test database."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("GONGJIAN_") and name != "GONGJIAN_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GONGJIAN_DATABASE_URL", database_url)
    app = typer.Typer()
    register(app)
    yield app


def test_cli_preview_tick_and_outbox(cli: typer.Typer, database: Database, world: World) -> None:
    give_accounts(database, world, ("m1",))
    runner = CliRunner()
    result = runner.invoke(cli, ["reminders", "preview", "--at", "2026-11-02T20:00", "--json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)
    assert (item["recipient"], item["channel"], item["rule"]) == ("m1", "console", "orglife")
    assert rows(database) == []
    text = runner.invoke(cli, ["reminders", "preview", "--at", "2026-11-02T20:00"])
    assert "[orglife] to m1 (#" in text.output and "via console" in text.output
    quiet = runner.invoke(cli, ["reminders", "preview", "--at", "2026-11-02T23:00"])
    assert "Nothing is due" in quiet.output

    result = runner.invoke(cli, ["reminders", "tick", "--at", "2026-11-02T20:00"])
    assert result.exit_code == 0 and "1 newly queued" in result.output
    result = runner.invoke(cli, ["reminders", "tick", "--at", "2026-11-02T20:00"])
    assert "0 newly queued" in result.output
    queued = runner.invoke(cli, ["reminders", "preview", "--at", "2026-11-02T20:00", "--all"])
    assert "(already queued)" in queued.output

    result = runner.invoke(cli, ["outbox", "--status", "pending", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["counts"]["pending"] == 1
    assert [row["rule"] for row in data["rows"]] == ["orglife"]
    plain = runner.invoke(cli, ["outbox"])
    assert "pending: 1" in plain.output and "orglife" in plain.output
    assert runner.invoke(cli, ["outbox", "--status", "dead"]).exit_code == 0
    requeued = runner.invoke(cli, ["outbox", "--requeue-dead"])
    assert "Requeued 0" in requeued.output


@pytest.mark.parametrize(
    "args",
    [
        ["reminders", "preview", "--at", "yesterday"],
        ["outbox", "--status", "lost"],
        ["reminders", "set", "orglife_eve_time", "7pm"],
        ["reminders", "set", "bogus", "1"],
        ["reminders", "set", "opinion_day", "20", "--scope", "branch:1"],
        ["reminders", "set", "opinion_day", "20", "--scope", "org:NOPE"],
        ["reminders", "set", "opinion_day", "20", "--scope", "alliance:999"],
    ],
)
def test_cli_refuses_bad_input(cli: typer.Typer, world: World, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2


def test_cli_sets_a_reminder_setting(cli: typer.Typer, database: Database, world: World) -> None:
    runner = CliRunner()
    scope = f"org:{world.orgs['B1']}"
    for value in ("18:00", "18:30"):
        result = runner.invoke(
            cli, ["reminders", "set", "orglife_eve_time", value, "--scope", scope]
        )
        assert result.exit_code == 0, result.output
    with database.session() as session:
        stored = session.exec(select(ReminderSetting)).all()
    assert [(s.scope, s.name, s.value) for s in stored] == [(scope, "orglife_eve_time", "18:30")]


async def test_push_senders_opens_nothing_without_channels(
    database: Database, settings: Settings, clock: FrozenClock, assistant: object
) -> None:
    async with push_senders(settings, assistant, database=database, clock=clock) as senders:  # type: ignore[arg-type]
        assert senders == []
