"""Exactly one scheduler leads: a lock file on SQLite, an advisory lock on PostgreSQL."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.config import Settings
from bot.core.clock import FrozenClock
from scheduler.leader import FileLeadership, PostgresLeadership, leadership_for
from scheduler.service import ReminderService
from storage.engine import Database, make_engine
from storage.reminders import OutboxMessage
from tests.conftest import POSTGRES_ENV
from tests.factories import World
from tests.scheduler.test_rules import HOLIDAYS, at, give_accounts

POSTGRES_ONLY = pytest.param(
    "postgresql",
    marks=pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"set {POSTGRES_ENV}"),
)


def test_one_process_holds_the_sqlite_lock_file(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite.scheduler-lock"
    first, second = FileLeadership(path), FileLeadership(path)
    assert first.acquire()
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.dispose()
    assert FileLeadership(None).acquire()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_leadership_sits_beside_the_database(database: Database) -> None:
    leadership = leadership_for(database)
    assert isinstance(leadership, FileLeadership)
    assert leadership.path is not None and leadership.path.name.endswith(".scheduler-lock")
    assert leadership.acquire()
    assert not leadership_for(database).acquire()
    leadership.dispose()


def outbox_keys(database: Database) -> Counter[str]:
    """Counts outbox rows per key."""
    with database.session() as session:
        return Counter(row.key for row in session.exec(select(OutboxMessage)).all())


def terminate(url: str, pid: int) -> None:
    """Kills a server process from another connection and waits until it is gone."""
    admin = make_engine(url, pool=False)
    with admin.connect() as connection:
        ended = connection.execute(
            text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
        ).scalar_one()
    admin.dispose()
    assert ended


@pytest.mark.parametrize("database_url", [POSTGRES_ONLY], indirect=True)
async def test_two_schedulers_one_leads_and_the_other_takes_over(
    database_url: str, database: Database, world: World, settings: Settings
) -> None:
    give_accounts(database, world)
    clock = FrozenClock(at(2026, 11, 2, 19, 5))
    first_lock = leadership_for(database)
    second_lock = leadership_for(database)
    assert isinstance(first_lock, PostgresLeadership)
    assert isinstance(second_lock, PostgresLeadership)
    first, second = (
        ReminderService(
            database=database, clock=clock, settings=settings, holidays=HOLIDAYS, leadership=lock
        )
        for lock in (first_lock, second_lock)
    )
    try:
        # Taking the lead ticks at once (the catch-up); the same tick again adds nothing.
        assert await first.check_leader()
        queued = outbox_keys(database)
        assert queued and set(queued.values()) == {1}
        assert not await second.check_leader()
        assert await second.tick() is None
        again = await first.tick()
        assert again is not None and again.due == len(queued) and again.queued == 0

        pid = first_lock.backend_pid()
        assert pid is not None
        terminate(database_url, pid)
        # The second takes over on its next check, and ticks at once: nothing is duplicated.
        assert await second.check_leader()
        assert second.leading
        assert not await first.check_leader()
        assert not first.leading and await first.tick() is None
        assert outbox_keys(database) == queued

        clock.set(at(2026, 11, 3, 7, 31))
        morning = await second.tick()
        assert morning is not None and morning.queued > 0
        assert set(outbox_keys(database).values()) == {1}
    finally:
        first.close()
        second.close()
    # Once released, the lock is free for a newcomer.
    newcomer = leadership_for(database)
    assert newcomer.acquire()
    newcomer.dispose()


@pytest.mark.parametrize("database_url", [POSTGRES_ONLY], indirect=True)
def test_the_lock_is_per_schema_and_released_on_dispose(database: Database) -> None:
    lock = leadership_for(database)
    assert isinstance(lock, PostgresLeadership)
    assert lock.acquire() and lock.leading
    lock.release()
    assert not lock.leading
    assert lock.acquire()
    lock.dispose()
