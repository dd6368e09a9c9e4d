"""The outbox: one row per idempotency key, claims that never overlap, recorded outcomes."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.core.inbound import Channel
from storage import outbox
from storage.engine import Database
from storage.outbox import NewPush
from storage.reminders import OutboxMessage, OutboxStatus
from tests.conftest import POSTGRES_ENV
from tests.factories import World
from tests.scheduler.test_rules import at

NOW = at(2026, 11, 2, 20)
POSTGRES_ONLY = pytest.param(
    "postgresql",
    marks=pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"set {POSTGRES_ENV}"),
)
LEASE = timedelta(minutes=10)


def push(world: World, name: str, key: str, *, urgent: bool = False) -> NewPush:
    """Builds a rendered push for a member of the test world."""
    return NewPush(
        key=f"test:{key}:m{world.members[name]}",
        rule="test",
        subject="s",
        period=key,
        member_id=world.members[name],
        urgent=urgent,
        text=f"hello {name} {key}",
    )


def rows(database: Database) -> list[OutboxMessage]:
    """Lists every outbox row by id."""
    with database.session() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def enqueue(database: Database, pushes: list[NewPush]) -> int:
    """Stores pushes in one transaction."""
    with database.session() as session:
        return outbox.enqueue(session, pushes, now=NOW)


def test_a_key_is_stored_once(database: Database, world: World) -> None:
    batch = [push(world, "m1", "a"), push(world, "m2", "a")]
    assert enqueue(database, batch) == 2
    assert enqueue(database, batch) == 0
    assert enqueue(database, [push(world, "m1", "a"), push(world, "m3", "a")]) == 1
    stored = rows(database)
    assert len(stored) == 3
    assert {row.status for row in stored} == {OutboxStatus.PENDING}
    with database.session() as session:
        known = outbox.existing_keys(session, [("test", "a", stored[0].key), ("test", "b", "x")])
    assert known == {row.key for row in stored}


def test_large_batches_are_chunked(database: Database, world: World) -> None:
    many = [push(world, "m1", f"k{index}") for index in range(outbox.INSERT_CHUNK + 17)]
    assert enqueue(database, many) == len(many)
    assert enqueue(database, many) == 0


def test_claim_takes_due_rows_once_urgent_first(database: Database, world: World) -> None:
    enqueue(database, [push(world, "m1", "a"), push(world, "m2", "b", urgent=True)])
    with database.session() as session:
        first = outbox.claim(session, now=NOW, worker="w1", limit=1, lease=LEASE)
    assert [row.member_id for row in first] == [world.members["m2"]]
    with database.session() as session:
        second = outbox.claim(session, now=NOW, worker="w2", limit=10, lease=LEASE)
        again = outbox.claim(session, now=NOW, worker="w3", limit=10, lease=LEASE)
    assert [row.member_id for row in second] == [world.members["m1"]]
    assert again == []
    assert {(row.status, row.claimed_by) for row in rows(database)} == {
        (OutboxStatus.SENDING, "w1"),
        (OutboxStatus.SENDING, "w2"),
    }


def test_urgent_only_holds_the_rest(database: Database, world: World) -> None:
    enqueue(database, [push(world, "m1", "a"), push(world, "m2", "b", urgent=True)])
    with database.session() as session:
        claimed = outbox.claim(
            session, now=NOW, worker="w", limit=10, lease=LEASE, urgent_only=True
        )
    assert [row.member_id for row in claimed] == [world.members["m2"]]


def test_an_abandoned_claim_is_taken_again_after_its_lease(
    database: Database, world: World
) -> None:
    enqueue(database, [push(world, "m1", "a")])
    with database.session() as session:
        [row] = outbox.claim(session, now=NOW, worker="dead", limit=10, lease=LEASE)
    later = NOW + LEASE - timedelta(seconds=1)
    with database.session() as session:
        assert outbox.claim(session, now=later, worker="w", limit=10, lease=LEASE) == []
    with database.session() as session:
        [again] = outbox.claim(session, now=NOW + LEASE, worker="w", limit=10, lease=LEASE)
    assert again.id == row.id
    with database.session() as session:
        # The first claimant lost the row: its late record does not count.
        assert not outbox.mark_sent(
            session, row_id=row.id, worker="dead", now=NOW, channel=Channel.CONSOLE
        )
        assert outbox.mark_sent(
            session, row_id=row.id, worker="w", now=NOW + LEASE, channel=Channel.CONSOLE
        )
    [stored] = rows(database)
    assert (stored.status, stored.channel, stored.sent_at) == (
        OutboxStatus.SENT,
        Channel.CONSOLE,
        NOW + LEASE,
    )


def test_failures_wait_for_their_retry_time(database: Database, world: World) -> None:
    enqueue(database, [push(world, "m1", "a")])
    with database.session() as session:
        [row] = outbox.claim(session, now=NOW, worker="w", limit=10, lease=LEASE)
        retry_at = NOW + timedelta(minutes=1)
        assert outbox.mark_failed(
            session, row_id=row.id, worker="w", reason="timeout", attempts=1, retry_at=retry_at
        )
    with database.session() as session:
        assert outbox.claim(session, now=NOW, worker="w", limit=10, lease=LEASE) == []
        [again] = outbox.claim(session, now=retry_at, worker="w", limit=10, lease=LEASE)
        assert again.attempts == 1
        assert outbox.mark_failed(
            session, row_id=row.id, worker="w", reason="timeout", attempts=2, retry_at=None
        )
    [stored] = rows(database)
    assert (stored.status, stored.attempts, stored.last_error) == (
        OutboxStatus.DEAD,
        2,
        "timeout",
    )
    with database.session() as session:
        assert outbox.claim(session, now=NOW + LEASE * 10, worker="w", limit=9, lease=LEASE) == []
        assert outbox.count_by_status(session)[OutboxStatus.DEAD] == 1
        assert [v.id for v in outbox.list_outbox(session, statuses=[OutboxStatus.DEAD])] == [row.id]
        assert outbox.list_outbox(session, statuses=[OutboxStatus.SENT]) == []
        assert outbox.requeue_dead(session, now=NOW) == 1
    [stored] = rows(database)
    assert (stored.status, stored.attempts) == (OutboxStatus.PENDING, 0)


def test_release_puts_a_row_back_without_an_attempt(database: Database, world: World) -> None:
    enqueue(database, [push(world, "m1", "a")])
    with database.session() as session:
        [row] = outbox.claim(session, now=NOW, worker="w", limit=10, lease=LEASE)
        assert outbox.release(
            session, row_id=row.id, worker="w", at=NOW + timedelta(seconds=3), reason="429"
        )
        assert not outbox.release(session, row_id=row.id, worker="w", at=NOW, reason="twice")
    [stored] = rows(database)
    assert (stored.status, stored.attempts, stored.next_attempt_at) == (
        OutboxStatus.PENDING,
        0,
        NOW + timedelta(seconds=3),
    )


def test_undeliverable_is_final(database: Database, world: World) -> None:
    enqueue(database, [push(world, "m1", "a")])
    with database.session() as session:
        [row] = outbox.claim(session, now=NOW, worker="w", limit=10, lease=LEASE)
        assert outbox.mark_undeliverable(
            session, row_id=row.id, worker="w", reason="blocked", channel=Channel.TELEGRAM
        )
    with database.session() as session:
        assert outbox.claim(session, now=NOW + LEASE * 2, worker="w", limit=10, lease=LEASE) == []
    assert rows(database)[0].status is OutboxStatus.UNDELIVERABLE


@pytest.mark.parametrize("database_url", [POSTGRES_ONLY], indirect=True)
def test_concurrent_claims_skip_locked_rows(database: Database, world: World) -> None:
    enqueue(database, [push(world, "m1", f"k{index}") for index in range(6)])
    # Two senders claim at once: the first has not committed when the second asks.
    with database.session() as first, database.session() as second:
        mine = outbox.claim(first, now=NOW, worker="a", limit=4, lease=LEASE)
        theirs = outbox.claim(second, now=NOW, worker="b", limit=4, lease=LEASE)
    assert len(mine) == 4 and len(theirs) == 2
    assert not {row.id for row in mine} & {row.id for row in theirs}
