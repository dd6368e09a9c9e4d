"""The shared token store, the offered-options memory and last contact, on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.channels.weixin.tokens import TokenStore, TokenUnavailableError
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel
from storage.channels import last_contact, recall_options, remember_offered
from storage.engine import Database
from storage.models import ChatAccount, OfferedOption
from tests.factories import World


class Fetcher:
    """Hands out numbered tokens, optionally held back by a gate or failing."""

    def __init__(self, lifetime: float = 7200.0) -> None:
        self.count = 0
        self.lifetime = lifetime
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None
        self.started = asyncio.Event()

    async def __call__(self) -> tuple[str, float]:
        self.count += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return f"T{self.count}", self.lifetime


def advancing(clock: FrozenClock):  # type: ignore[no-untyped-def]
    """A `sleep` that moves the frozen clock instead of waiting."""

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    return sleep


async def test_a_token_is_fetched_once_and_then_shared(
    database: Database, database_url: str, clock: FrozenClock
) -> None:
    fetch = Fetcher()
    store = TokenStore(database, clock)
    assert await store.get("wechat:app", fetch) == "T1"
    assert await store.get("wechat:app", fetch) == "T1"
    other_process = Database.connect(database_url, migrate=False)
    try:
        assert await TokenStore(other_process, clock).get("wechat:app", fetch) == "T1"
    finally:
        other_process.dispose()
    assert fetch.count == 1
    row = store.peek("wechat:app")
    assert row is not None
    assert row.expires_at == clock.now() + timedelta(seconds=7200)


async def test_tokens_are_refreshed_once_shortly_before_they_expire(
    database: Database, clock: FrozenClock
) -> None:
    fetch = Fetcher()
    store = TokenStore(database, clock)
    await store.get("t", fetch)
    clock.advance(timedelta(seconds=7200) - timedelta(minutes=6))
    assert await store.get("t", fetch) == "T1"
    clock.advance(timedelta(minutes=2))
    assert await store.get("t", fetch) == "T2"
    assert await store.get("t", fetch) == "T2"
    assert fetch.count == 2


async def test_two_processes_refreshing_at_once_fetch_one_token(
    database: Database, database_url: str, clock: FrozenClock
) -> None:
    fetch = Fetcher()
    fetch.gate = asyncio.Event()
    polls: list[float] = []

    async def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            assert fetch.gate is not None
            fetch.gate.set()
        await asyncio.sleep(0.01)

    other_process = Database.connect(database_url, migrate=False)
    try:
        first = TokenStore(database, clock, sleep=sleep)
        second = TokenStore(other_process, clock, sleep=sleep)
        winner = asyncio.create_task(first.get("t", fetch))
        await fetch.started.wait()
        tokens = await asyncio.gather(second.get("t", fetch), winner)
    finally:
        other_process.dispose()
    assert tokens == ["T1", "T1"]
    assert fetch.count == 1
    assert polls


async def test_an_invalidated_token_is_replaced_and_a_stale_invalidation_ignored(
    database: Database, clock: FrozenClock
) -> None:
    fetch = Fetcher()
    store = TokenStore(database, clock)
    await store.get("t", fetch)
    clock.advance(timedelta(minutes=10))
    await store.invalidate("t", "not-the-current-token")
    assert await store.get("t", fetch) == "T1"
    await store.invalidate("t", "T1")
    assert await store.get("t", fetch) == "T2"
    await store.invalidate("t", "T1")
    assert await store.get("t", fetch) == "T2"
    assert fetch.count == 2


async def test_while_another_process_refreshes_the_old_token_is_used_until_it_expires(
    database: Database, clock: FrozenClock
) -> None:
    fetch = Fetcher()
    store = TokenStore(database, clock, sleep=advancing(clock))
    await store.get("t", fetch)
    clock.advance(timedelta(seconds=7200) - timedelta(minutes=2))
    assert store._claim("t", clock.now())  # another process took the refresh and stalled
    assert await store.get("t", fetch) == "T1"
    assert fetch.count == 1
    clock.advance(timedelta(minutes=3))
    # The old token is dead and the other process never finished: after its lease, we refresh.
    assert await store.get("t", fetch) == "T2"
    assert fetch.count == 2


async def test_a_failed_fetch_is_not_retried_by_every_caller(
    database: Database, clock: FrozenClock
) -> None:
    fetch = Fetcher()
    fetch.error = RuntimeError("untrusted IP")

    async def no_time_passes(seconds: float) -> None:
        await asyncio.sleep(0)

    store = TokenStore(database, clock, sleep=no_time_passes)
    with pytest.raises(RuntimeError):
        await store.get("t", fetch)
    with pytest.raises(TokenUnavailableError):
        await store.get("t", fetch)
    assert fetch.count == 1
    clock.advance(timedelta(seconds=31))
    fetch.error = None
    assert await store.get("t", fetch) == "T2"


def recall(database: Database, clock: FrozenClock, channel: Channel, user_id: str) -> list[str]:
    """Reads the options offered last, as the core does when a number comes in."""
    with database.session() as session:
        return recall_options(session, channel=channel, user_id=user_id, now=clock.now()) or []


async def test_offered_options_are_remembered_per_account_until_they_expire(
    database: Database, clock: FrozenClock
) -> None:
    def remember(channel: Channel, user_id: str, options: list[str]) -> None:
        now = clock.now()
        remember_offered(
            database,
            channel=channel,
            user_id=user_id,
            options=options,
            now=now,
            expires_at=now + timedelta(minutes=30),
        )

    remember(Channel.WECHAT, "o1", ["study", "visit"])
    remember(Channel.WECOM, "o1", ["other"])
    assert recall(database, clock, Channel.WECHAT, "o1") == ["study", "visit"]
    assert recall(database, clock, Channel.WECOM, "o1") == ["other"]
    assert recall(database, clock, Channel.WECHAT, "o2") == []
    remember(Channel.WECHAT, "o1", ["confirm"])
    assert recall(database, clock, Channel.WECHAT, "o1") == ["confirm"]
    remember(Channel.WECHAT, "o1", [])
    assert recall(database, clock, Channel.WECHAT, "o1") == []
    clock.advance(timedelta(minutes=31))
    assert recall(database, clock, Channel.WECOM, "o1") == []


async def test_garbled_option_rows_read_as_no_options(
    database: Database, clock: FrozenClock
) -> None:
    with database.session() as session:
        session.add(
            OfferedOption(
                channel=Channel.WECHAT,
                user_id="o9",
                options="{not json",
                expires_at=clock.now() + timedelta(hours=1),
            )
        )
    assert recall(database, clock, Channel.WECHAT, "o9") == []


def test_last_contact_reads_the_bound_members_last_message_and_language(
    database: Database, clock: FrozenClock, world: World
) -> None:
    assert last_contact(database, channel=Channel.WECHAT, external_id="o-unknown") == (None, None)
    seen = clock.now() - timedelta(hours=3)
    with database.session() as session:
        session.add(
            ChatAccount(
                channel=Channel.WECHAT,
                external_id="o-m1",
                member_id=world.members["m1"],
                created_at=seen,
                last_seen_at=seen,
            )
        )
    assert last_contact(database, channel=Channel.WECHAT, external_id="o-m1") == (seen, None)
