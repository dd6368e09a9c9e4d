"""A push sender killed with SIGKILL at random points of a 10,000-push fan-out loses nothing.

The sender is a real process (`tests/survival/push_sender.py`: the production delivery loop
over the real Telegram channel) talking to the fake Bot API in this process, which records every
message it accepted. After every kill the rows the dead sender still held are noted: each
duplicate a member receives must be explained by one of those in-flight batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update
from sqlmodel import col, select

from bot.calendar.holidays import HolidayCalendar
from bot.config import Settings
from bot.core.clock import SystemClock
from scheduler.service import plan_tick
from storage.engine import Database
from storage.models import ChatAccount
from storage.reminders import OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import TOKEN, FakeLimits, FakeTelegramAPI
from tests.survival.conftest import (
    PYTHON,
    ROOT,
    build_fanout,
    scaled,
    subprocess_env,
)

SH = ZoneInfo("Asia/Shanghai")
# The eve of the organization-life day (Tuesday 3 November 2026): one reminder per member.
EVE = datetime(2026, 11, 2, 20, 0, tzinfo=SH)
PER_BRANCH = 50
BATCH = 50
LEASE_SECONDS = 1.0
STEP_TIMEOUT = 120.0
# What a sender says besides its worker name.
NOT_A_WORKER = frozenset({"spawned", "done"})
SEED_ENV = "GONGJIAN_SURVIVAL_SEED"


class Senders:
    """The fork server of sender processes (see push_sender.py) and what their lines say."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.said: dict[str, list[str]] = {}
        self.live: set[int] = set()
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, env: dict[str, str]) -> AsyncIterator[Senders]:
        """Starts the fork server; at the end kills any sender left, then the server."""
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "tests.survival.push_sender",
            "--fork-server",
            "--batch",
            str(BATCH),
            "--lease",
            str(LEASE_SECONDS),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        senders = cls(process)
        try:
            await senders.wait_said("ready")
            yield senders
        finally:
            for pid in list(senders.live):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if process.returncode is None:
                process.kill()
            await process.wait()
            senders._reader.cancel()

    async def _read(self) -> None:
        """Files each line under its first word (a pid, or `ready`) and wakes waiters."""
        stream = self.process.stdout
        assert stream is not None
        while line := await stream.readline():
            head, _, rest = line.decode().strip().partition(" ")
            self.said.setdefault(head, []).append(rest)
            self._changed.set()
            self._changed = asyncio.Event()
        self._changed.set()

    async def wait_said(
        self, head: str, predicate: Callable[[list[str]], bool] = bool
    ) -> list[str]:
        """Waits until the lines filed under `head` satisfy `predicate`; returns them."""
        async with asyncio.timeout(STEP_TIMEOUT):
            while not predicate(self.said.get(head, [])):
                assert not self._reader.done(), "the fork server died"
                await self._changed.wait()
        return self.said[head]

    async def command(self, line: str) -> None:
        """Sends the fork server one command."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def spawn(self) -> tuple[int, str]:
        """Starts a sender; returns its pid and worker name once it is connected."""
        known = {head for head, lines in self.said.items() if "spawned" in lines}
        await self.command("spawn")
        async with asyncio.timeout(STEP_TIMEOUT):
            while not (fresh := {h for h, ls in self.said.items() if "spawned" in ls} - known):
                await self._changed.wait()
        pid = int(fresh.pop())
        self.live.add(pid)
        lines = await self.wait_said(str(pid), lambda ls: any(w not in NOT_A_WORKER for w in ls))
        worker = next(word for word in lines if word not in NOT_A_WORKER)
        return pid, worker

    def finished(self, pid: int) -> bool:
        """Tells whether the sender said it had nothing left to send."""
        return "done" in self.said.get(str(pid), [])

    async def reap(self, pid: int) -> int:
        """Waits for a sender to end and returns its exit code."""
        await self.command(f"reap {pid}")
        lines = await self.wait_said(str(pid), lambda ls: any(w.startswith("exited") for w in ls))
        self.live.discard(pid)
        return int(next(w for w in lines if w.startswith("exited")).split()[1])

    async def kill_after(self, api: FakeTelegramAPI, pid: int, sends: int) -> bool:
        """SIGKILLs a sender once the fake accepted `sends` more calls; False if it ended first."""
        # Counting every call (not only sends) keeps the check O(1) over a 10,000-call log.
        target = len(api.calls) + sends
        reached = asyncio.ensure_future(
            api.wait_until(lambda: len(api.calls) >= target, within=STEP_TIMEOUT)
        )
        ended = asyncio.ensure_future(self.wait_said(str(pid), lambda ls: "done" in ls))
        await asyncio.wait({reached, ended}, return_when=asyncio.FIRST_COMPLETED)
        reached.cancel()
        ended.cancel()
        alive = not self.finished(pid)
        if alive:
            os.kill(pid, signal.SIGKILL)
        await self.reap(pid)
        return alive

    async def finish(self) -> None:
        """Runs one last sender to the end: it must drain the outbox and exit cleanly."""
        pid, _ = await self.spawn()
        await self.wait_said(str(pid), lambda ls: "done" in ls)
        assert await self.reap(pid) == 0


def held_by(database: Database, worker: str) -> set[int]:
    """Returns the members whose rows a (dead) worker still holds in the sending state."""
    with database.session() as session:
        return set(
            session.exec(
                select(OutboxMessage.member_id).where(
                    col(OutboxMessage.status) == OutboxStatus.SENDING,
                    col(OutboxMessage.claimed_by) == worker,
                )
            ).all()
        )


def chat_of_member(database: Database) -> dict[int, int]:
    """Maps each member to their Telegram chat id."""
    with database.session() as session:
        return {
            account.member_id: int(account.external_id)
            for account in session.exec(select(ChatAccount)).all()
        }


def make_due_now(database: Database) -> None:
    """Moves the queued rows' due time to the real present, which the sender processes read."""
    with database.session() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=SystemClock(SH).now()))


@contextlib.asynccontextmanager
async def fake_bot_api() -> AsyncIterator[FakeTelegramAPI]:
    """Runs the fake Bot API without flood limits, answering without Nagle's delay."""
    async with FakeTelegramAPI(
        limits=FakeLimits(overall=None, per_chat=None, per_group=None)
    ) as api:
        # Accepted sockets inherit this; without it every keep-alive answer waits ~40 ms for
        # the client's delayed ACK (the socket is made with proto 0, so asyncio skips it).
        listener = api._socket
        assert listener is not None
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield api


def sender_env(api: FakeTelegramAPI, database_url: str) -> dict[str, str]:
    """The environment of a sender process: the test database and the fake Bot API."""
    return subprocess_env(
        GONGJIAN_DATABASE_URL=database_url,
        GONGJIAN_TELEGRAM_TOKEN=TOKEN,
        GONGJIAN_TELEGRAM_BASE_URL=api.base_url,
        GONGJIAN_LOG_LEVEL="WARNING",
    )


def outbox_statuses(database: Database) -> dict[str, int]:
    """Counts outbox rows per status."""
    with database.engine.connect() as connection:
        return {
            str(status): int(count)
            for status, count in connection.execute(
                text("SELECT status, count(*) FROM outbox GROUP BY status")
            ).all()
        }


def fanout_size(database: Database) -> tuple[int, int]:
    """Returns (branches of 50, kills): the issue's 10,000 pushes and 20 kills on PostgreSQL.

    SQLite, the one-process embedded backend, runs a tenth of it by default to keep the suite
    within minutes; the heavy run (GONGJIAN_SURVIVAL_LONG=1) takes both further.
    """
    if database.dialect == "postgresql":
        return scaled(200, 400), scaled(20, 60)
    return scaled(20, 200), scaled(5, 20)


async def test_sigkilled_sender_delivers_every_push_at_least_once(
    database: Database, database_url: str, settings: Settings
) -> None:
    branches, kills = fanout_size(database)
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    why = f"(reproduce with {SEED_ENV}={seed})"
    members = build_fanout(database, branches=branches, per_branch=PER_BRANCH, now=EVE)
    tick = plan_tick(database, now=EVE, holidays=HolidayCalendar.load(), settings=settings)
    assert tick.queued == members == branches * PER_BRANCH
    make_due_now(database)
    chats = chat_of_member(database)
    in_flight: list[set[int]] = []
    async with fake_bot_api() as api, Senders.running(sender_env(api, database_url)) as senders:
        # Kill points spaced so that all the kills land before the fan-out is through.
        spacing = members // (kills + 2)
        for number in range(kills):
            pid, worker = await senders.spawn()
            killed = await senders.kill_after(api, pid, rng.randint(0, spacing))
            assert killed, f"the sender ended on its own before kill {number + 1} {why}"
            held = held_by(database, worker)
            assert len(held) <= BATCH, f"more than a batch in flight {why}"
            in_flight.append(held)
        await senders.finish()
        received = Counter(int(call.params["chat_id"]) for call in api.sent())

    # Nothing stuck: every row ended sent.
    assert outbox_statuses(database) == {OutboxStatus.SENT.value: members}, why
    # Nothing lost: every member got the reminder.
    assert set(received) == set(chats.values()), why
    # Duplicates bounded: each extra copy is a row that was in flight when its sender died,
    # with no more copies than the kills that caught it mid-flight.
    member_of_chat = {chat: member for member, chat in chats.items()}
    caught = Counter(member for held in in_flight for member in held)
    extra = {chat: count - 1 for chat, count in received.items() if count > 1}
    for chat, copies in extra.items():
        assert copies <= caught[member_of_chat[chat]], f"unexplained duplicate {why}"
    assert sum(extra.values()) <= kills * BATCH, why


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_sender_killed_before_its_first_send_leaves_nothing_behind(
    database: Database, database_url: str, settings: Settings
) -> None:
    members = build_fanout(database, branches=2, per_branch=PER_BRANCH, now=EVE)
    plan_tick(database, now=EVE, holidays=HolidayCalendar.load(), settings=settings)
    make_due_now(database)
    async with fake_bot_api() as api, Senders.running(sender_env(api, database_url)) as senders:
        pid, worker = await senders.spawn()
        assert await senders.kill_after(api, pid, 0)
        held = held_by(database, worker)
        await senders.finish()
        received = Counter(int(call.params["chat_id"]) for call in api.sent())
    assert outbox_statuses(database) == {OutboxStatus.SENT.value: members}
    assert len(received) == members
    assert sum(received.values()) - members <= len(held) <= BATCH
