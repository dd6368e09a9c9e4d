"""Delivery: every push arrives (at least once), limits hold, failures retry then dead-letter."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.channels.console_sender import ConsoleSender
from bot.channels.ratelimit import Limit, RateLimiter
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import MemberStatus
from bot.core.inbound import Channel
from bot.core.ports import DeliveryStatus, SendResult
from bot.core.reply import Reply
from scheduler.delivery import NO_CHANNEL, Delivery, RetryPolicy
from scheduler.service import plan_tick
from storage import outbox
from storage.engine import Database
from storage.models import ChatAccount, Member
from storage.outbox import NewPush
from storage.reminders import OutboxMessage, OutboxStatus
from tests.factories import World
from tests.scheduler.test_rules import EVERYONE, HOLIDAYS, at, give_accounts

EVENING = at(2026, 11, 2, 20)


def statuses(database: Database) -> Counter[OutboxStatus]:
    """Counts outbox rows per status."""
    with database.session() as session:
        return Counter(row.status for row in session.exec(select(OutboxMessage)).all())


def stored(database: Database) -> list[OutboxMessage]:
    """Lists the outbox rows by id."""
    with database.session() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


class ScriptedSender:
    """A sender whose answers are scripted per recipient; it records every call."""

    def __init__(self, channel: Channel, answers: dict[str, list[SendResult]] | None = None):
        self.channel = channel
        self.answers = {key: deque(value) for key, value in (answers or {}).items()}
        self.calls: list[tuple[str, str]] = []

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Records the call and gives the next scripted answer (sent when none is left)."""
        self.calls.append((recipient, reply.text))
        queue = self.answers.get(recipient)
        if queue:
            answer = queue.popleft()
            if isinstance(answer, Exception):
                raise answer
            return answer
        return SendResult(DeliveryStatus.SENT)


def delivery(
    database: Database, clock: FrozenClock, *senders: object, **options: object
) -> Delivery:
    """Builds a delivery loop over the given senders."""
    return Delivery(database=database, clock=clock, senders=senders, **options)  # type: ignore[arg-type]


async def test_planned_pushes_reach_every_member_once(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    give_accounts(database, world)
    clock.set(EVENING)
    planned = plan_tick(database, now=EVENING, holidays=HOLIDAYS, settings=settings)
    console = ConsoleSender()
    report = await delivery(database, clock, console, batch=3).drain()
    assert report.sent == report.claimed == planned.queued > len(EVERYONE)
    orglife = [who for who, reply in console.sent if "09:00" in reply.text]
    assert sorted(orglife) == sorted(EVERYONE)
    assert statuses(database) == Counter({OutboxStatus.SENT: planned.queued})
    assert {row.channel for row in stored(database)} == {Channel.CONSOLE}
    assert (await delivery(database, clock, console).drain()).claimed == 0
    assert len(console.sent) == planned.queued


async def test_pushes_use_the_members_language(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    give_accounts(database, world, ("m1",))
    with database.session() as session:
        member = session.get_one(Member, world.members["m1"])
        member.locale = "en"
        session.add(member)
    plan_tick(database, now=EVENING, holidays=HOLIDAYS, settings=settings)
    assert len(stored(database)) == 1
    console = ConsoleSender()
    await delivery(database, clock, console).drain()
    assert console.to("m1") == [
        "Reminder: tomorrow, Tuesday November 3, 2026, is the organization-life day of 第1支部,"
        " starting at 09:00."
    ]


async def test_the_most_recently_used_account_comes_first_then_the_next(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    with database.session() as session:
        for channel, seen in ((Channel.TELEGRAM, at(2026, 11, 1)), (Channel.CONSOLE, None)):
            session.add(
                ChatAccount(
                    channel=channel,
                    external_id=f"{channel.value}-m1",
                    member_id=world.members["m1"],
                    created_at=at(2026, 1, 1),
                    last_seen_at=seen,
                )
            )
    plan_tick(database, now=EVENING, holidays=HOLIDAYS, settings=settings)
    blocked = ScriptedSender(
        Channel.TELEGRAM,
        {"telegram-m1": [SendResult(DeliveryStatus.UNDELIVERABLE, "bot was blocked")]},
    )
    console = ConsoleSender()
    report = await delivery(database, clock, blocked, console).drain()
    assert [who for who, _ in blocked.calls] == ["telegram-m1"]
    assert console.to("console-m1") and report.sent == 1
    [row] = stored(database)
    assert (row.status, row.channel) == (OutboxStatus.SENT, Channel.CONSOLE)


async def test_no_pushable_account_is_undeliverable(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    with database.session() as session:
        session.add(
            ChatAccount(
                channel=Channel.WECOM,
                external_id="wecom-m1",
                member_id=world.members["m1"],
                created_at=at(2026, 1, 1),
            )
        )
        session.add(
            ChatAccount(
                channel=Channel.TELEGRAM,
                external_id="tg-m2",
                member_id=world.members["m2"],
                created_at=at(2026, 1, 1),
            )
        )
    plan_tick(database, now=EVENING, holidays=HOLIDAYS, settings=settings)
    telegram = ScriptedSender(
        Channel.TELEGRAM, {"tg-m2": [SendResult(DeliveryStatus.UNDELIVERABLE, "chat not found")]}
    )
    report = await delivery(database, clock, telegram, ConsoleSender()).drain()
    assert report.undeliverable == 2
    errors = {row.member_id: row.last_error for row in stored(database)}
    assert errors == {
        world.members["m1"]: NO_CHANNEL,
        world.members["m2"]: "telegram: chat not found",
    }
    assert statuses(database) == Counter({OutboxStatus.UNDELIVERABLE: 2})


async def test_failures_back_off_exponentially_then_dead_letter(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    give_accounts(database, world, ("m1",))
    clock.set(EVENING)
    plan_tick(database, now=EVENING, holidays=HOLIDAYS, settings=settings)
    failing = ScriptedSender(
        Channel.CONSOLE,
        {
            "m1": [
                SendResult(DeliveryStatus.RETRY, "timeout"),
                RuntimeError("socket closed"),
                SendResult(DeliveryStatus.RETRY, "timeout"),
            ]
        },
    )
    loop = delivery(
        database,
        clock,
        failing,
        retry=RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=30)),
    )
    assert (await loop.run_once()).retried == 1
    [row] = stored(database)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        OutboxStatus.FAILED,
        1,
        EVENING + timedelta(seconds=30),
    )
    # Not yet due: nothing is sent early.
    clock.advance(timedelta(seconds=29))
    assert (await loop.run_once()).claimed == 0
    clock.advance(timedelta(seconds=1))
    assert (await loop.run_once()).retried == 1
    [row] = stored(database)
    assert row.attempts == 2 and row.last_error == "console: RuntimeError: socket closed"
    assert row.next_attempt_at == EVENING + timedelta(seconds=90)
    clock.advance(timedelta(seconds=60))
    assert (await loop.run_once()).dead == 1
    assert statuses(database) == Counter({OutboxStatus.DEAD: 1})
    clock.advance(timedelta(hours=5))
    assert (await loop.run_once()).claimed == 0
    with database.session() as session:
        outbox.requeue_dead(session, now=clock.now())
    assert (await loop.run_once()).sent == 1
    assert len(failing.calls) == 4


def test_retry_policy_caps_the_delay() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=30), max_delay=timedelta(minutes=5))
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 9)] == [
        30,
        60,
        120,
        240,
        300,
        300,
    ]


async def test_quiet_hours_hold_all_but_urgent_pushes(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    give_accounts(database, world, ("m1", "m2"))
    night = at(2026, 11, 2, 23)
    with database.session() as session:
        outbox.enqueue(
            session,
            [
                NewPush("a:m1", "a", "s", "p", world.members["m1"], False, "later"),
                NewPush("b:m2", "b", "s", "p", world.members["m2"], True, "now"),
            ],
            now=night,
        )
    clock.set(night)
    console = ConsoleSender()
    quiet = (settings.quiet_hours_start, settings.quiet_hours_end)
    loop = delivery(database, clock, console, quiet_hours=quiet)
    await loop.drain()
    assert [reply.text for _, reply in console.sent] == ["now"]
    clock.set(at(2026, 11, 3, 7, 30))
    await loop.drain()
    assert console.to("m1") == ["later"]


class FakeTelegramApi:
    """A fake Telegram Bot API: 30 messages a second overall and 1 a second per chat.

    A send that would break a limit is refused with 429 and counted as a violation; calls made
    while an earlier 429 still says "wait" are counted too. `flood_at` makes the n-th call answer
    429 once regardless, as Telegram does under load.
    """

    channel = Channel.TELEGRAM

    def __init__(self, clock: FrozenClock, *, flood_at: int | None = None) -> None:
        self.clock = clock
        self.flood_at = flood_at
        self.calls = 0
        self.delivered: list[tuple[datetime, str, str]] = []
        self.violations = 0
        self.floods = 0
        self.calls_while_told_to_wait = 0
        self._wait_until: datetime | None = None

    def refuse(self, now: datetime, seconds: float) -> SendResult:
        """Answers 429 and remembers until when the caller must wait."""
        self._wait_until = now + timedelta(seconds=seconds)
        return SendResult(DeliveryStatus.RETRY, "Too Many Requests", retry_after=seconds)

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Delivers the message unless it breaks a limit."""
        self.calls += 1
        now = self.clock.now()
        if self._wait_until is not None and now < self._wait_until:
            self.calls_while_told_to_wait += 1
        if self.calls == self.flood_at:
            self.floods += 1
            return self.refuse(now, 3.0)
        recent = [d for d in self.delivered if d[0] > now - timedelta(seconds=1)]
        if len(recent) >= 30 or any(chat == recipient for _, chat, _ in recent):
            self.violations += 1
            return self.refuse(now, 1.0)
        self.delivered.append((now, recipient, reply.text))
        return SendResult(DeliveryStatus.SENT)


class LimitedSender:
    """The channel side, as the Telegram channel does it: the shared limiter before each call."""

    channel = Channel.TELEGRAM

    def __init__(self, api: FakeTelegramApi, clock: FrozenClock) -> None:
        async def sleep(seconds: float) -> None:
            clock.advance(timedelta(seconds=seconds))
            await asyncio.sleep(0)

        self.api = api
        self.limiter = RateLimiter(
            overall=[Limit(30, 1.0)],
            per_chat=[Limit(1, 1.0)],
            monotonic=lambda: clock.now().timestamp(),
            sleep=sleep,
        )

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Waits for the limiter, then calls the API."""
        await self.limiter.acquire(recipient)
        return await self.api.send(recipient=recipient, reply=reply)


def crowd(database: Database, world: World, size: int, per_member: int, now: datetime) -> None:
    """Adds `size` members with Telegram accounts and queues `per_member` pushes for each."""
    with database.session() as session:
        member_ids = []
        for index in range(size):
            member = Member(
                name=f"x{index}",
                organization_id=world.orgs["B3"],
                status=MemberStatus.FULL,
                created_at=at(2026, 1, 1),
            )
            session.add(member)
            session.flush()
            assert member.id is not None
            member_ids.append(member.id)
            session.add(
                ChatAccount(
                    channel=Channel.TELEGRAM,
                    external_id=f"tg{index}",
                    member_id=member.id,
                    created_at=at(2026, 1, 1),
                )
            )
        outbox.enqueue(
            session,
            [
                NewPush(
                    f"r{n}:m{member_id}", f"r{n}", "s", "p", member_id, False, f"{n}:{member_id}"
                )
                for member_id in member_ids
                for n in range(per_member)
            ],
            now=now,
        )


async def deliver_until_done(database: Database, clock: FrozenClock, loop: Delivery) -> int:
    """Runs delivery rounds a second apart until the outbox is empty; returns the rounds."""
    for rounds in range(1, 60):
        await loop.run_once()
        if statuses(database)[OutboxStatus.PENDING] == 0:
            return rounds
        clock.advance(timedelta(seconds=1))
    raise AssertionError(f"still pending: {statuses(database)}")


async def test_429_answers_pause_the_channel_and_lose_nothing(
    database: Database, world: World, clock: FrozenClock
) -> None:
    crowd(database, world, 70, 1, clock.now())
    api = FakeTelegramApi(clock)
    rounds = await deliver_until_done(
        database, clock, delivery(database, clock, api, batch=50, concurrency=4)
    )
    assert statuses(database) == Counter({OutboxStatus.SENT: 70})
    assert len({text for _, _, text in api.delivered}) == len(api.delivered) == 70
    per_second = Counter(moment for moment, _, _ in api.delivered)
    assert max(per_second.values()) <= 30
    assert api.violations >= 1 and rounds <= 5
    # After a 429 the channel rests: only sends already in flight may still reach it.
    assert api.calls_while_told_to_wait <= 4 * api.violations
    assert all(row.attempts == 0 for row in stored(database))


async def test_a_channel_told_to_wait_rests_across_rounds(
    database: Database, world: World, clock: FrozenClock
) -> None:
    crowd(database, world, 70, 1, clock.now())
    api = FakeTelegramApi(clock)
    loop = delivery(database, clock, api, batch=20, concurrency=2)
    report = await loop.drain()
    # Within one second only 30 fit; the rest waits without knocking again.
    assert len(api.delivered) == 30 and api.violations == 1
    assert api.calls_while_told_to_wait <= 2
    assert report.sent == 30 and report.held == report.claimed - 30
    assert loop.paused[Channel.TELEGRAM] == clock.now() + timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    await deliver_until_done(database, clock, loop)
    assert statuses(database) == Counter({OutboxStatus.SENT: 70})


async def test_a_limited_channel_breaks_no_limit_and_delivers_everything_once(
    database: Database, world: World, clock: FrozenClock
) -> None:
    crowd(database, world, 60, 2, clock.now())
    api = FakeTelegramApi(clock, flood_at=40)
    loop = delivery(database, clock, LimitedSender(api, clock), batch=50, concurrency=4)
    await deliver_until_done(database, clock, loop)
    assert statuses(database) == Counter({OutboxStatus.SENT: 120})
    texts = Counter(text for _, _, text in api.delivered)
    assert len(texts) == 120 and set(texts.values()) == {1}
    assert api.violations == 0 and api.floods == 1
    assert api.calls_while_told_to_wait <= 4


class Killed(BaseException):
    """The process dies."""


class DiesAfterSending:
    """Delivers like a console, but the process dies right after the n-th send."""

    channel = Channel.CONSOLE

    def __init__(self, die_after: int) -> None:
        self.die_after = die_after
        self.delivered: list[str] = []

    async def send(self, *, recipient: str, reply: Reply) -> SendResult:
        """Delivers; on the n-th send, dies before anyone can record it (and sends no more)."""
        if len(self.delivered) >= self.die_after:
            raise Killed
        self.delivered.append(reply.text)
        if len(self.delivered) == self.die_after:
            raise Killed
        return SendResult(DeliveryStatus.SENT)


async def test_a_sender_killed_between_sending_and_recording_sends_again_at_least_once(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    give_accounts(database, world)
    clock.set(EVENING)
    plan_tick(database, now=EVENING, holidays=HOLIDAYS, settings=settings)
    dying = DiesAfterSending(die_after=3)
    first = delivery(database, clock, dying, batch=5, concurrency=1, worker="first")
    total = len(stored(database))
    with pytest.raises((Killed, BaseExceptionGroup)):
        await first.run_once()
    assert statuses(database) == Counter(
        {OutboxStatus.SENT: 2, OutboxStatus.SENDING: 3, OutboxStatus.PENDING: total - 5}
    )
    survivor = ConsoleSender()
    second = delivery(database, clock, survivor, batch=5, worker="second")
    await second.drain()
    # The batch in flight is held until its claim lapses; the rest goes at once.
    assert len(survivor.sent) == total - 5
    clock.advance(second.lease)
    await second.drain()
    assert statuses(database) == Counter({OutboxStatus.SENT: total})
    received = Counter(dying.delivered) + Counter(reply.text for _, reply in survivor.sent)
    sent_texts = Counter(row.text for row in stored(database))
    assert set(received) >= set(sent_texts)
    # Only the push sent but not recorded went twice: bounded by the batch of 5 in flight.
    assert sum(received.values()) == total + 1
