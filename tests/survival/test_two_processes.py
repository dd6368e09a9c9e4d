"""Two `gongjian run` processes on one PostgreSQL: one scheduler leads, both serve webhooks.

Both processes are real (`python -m bot run`), with Telegram in webhook mode against the fake
Bot API in this process. Each connects with its own `application_name`, so the test can see in
`pg_locks` which one holds the scheduler's advisory lock. Reminders owed "now" come from mobile
members' three reports (marked at the real present), so the test works on any date.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from bot.channels.telegram import WEBHOOK_HEADER, WEBHOOK_PATH
from bot.core.clock import SystemClock
from bot.core.inbound import Channel
from storage.engine import Database
from storage.models import ChatAccount
from storage.reminders import MovementDirection, OutboxStatus, mark_movement
from tests.factories import World
from tests.fakes.telegram_api import TOKEN, FakeLimits, FakeTelegramAPI, TgUser
from tests.survival.conftest import PYTHON, ROOT, postgres_only, subprocess_env, tagged_url

pytestmark = [postgres_only, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

SH = ZoneInfo("Asia/Shanghai")
SECRET = "survival-webhook-secret"
POLL = 0.2
HANDOVER = 10.0
START_TIMEOUT = 60.0
DELIVERY_TIMEOUT = 30.0
SERVING = re.compile(r"Serving HTTP on [^ ]+:(\d+)")
LEADING = "this process now runs the scheduler"
# Telegram users who only write to the webhooks (not bound, so they get the help menu).
WRITERS = [TgUser(880_000 + n, f"访客{n}", language_code="en") for n in range(4)]
# The members who owe mobile reports, by name in tests.factories, with their Telegram chats.
MOBILE = {"m1": 770_001, "m2": 770_002, "m3": 770_003}


class RunProcess:
    """One `gongjian run` process: its stderr read line by line, its HTTP port once serving."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.lines: list[str] = []
        self.port = 0
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, name: str, env: dict[str, str]) -> RunProcess:
        """Starts `python -m bot run` and waits until its HTTP server and channels are up."""
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        run = cls(name, process)
        line = await run.wait_for(SERVING.pattern, within=START_TIMEOUT)
        match = SERVING.search(line)
        assert match is not None
        run.port = int(match[1])
        return run

    async def _read(self) -> None:
        """Collects stderr lines (so the pipe never fills) and wakes waiters."""
        stream = self.process.stderr
        assert stream is not None
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip())
            self._changed.set()
            self._changed = asyncio.Event()
        self._changed.set()

    def seen(self, pattern: str, start: int = 0) -> str | None:
        """Returns the first line from `start` on matching `pattern`, if any."""
        compiled = re.compile(pattern)
        return next((line for line in self.lines[start:] if compiled.search(line)), None)

    async def wait_for(self, pattern: str, *, within: float, start: int = 0) -> str:
        """Waits for a stderr line matching `pattern`; fails with the log if the process ends."""
        async with asyncio.timeout(within):
            while (found := self.seen(pattern, start)) is None:
                if self.process.returncode is not None or self._reader.done():
                    log = "\n".join(self.lines[-30:])
                    raise AssertionError(f"{self.name} ended without {pattern!r}:\n{log}")
                await self._changed.wait()
        return found

    async def kill(self) -> None:
        """SIGKILLs the process and reaps it."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def processes() -> AsyncIterator[list[RunProcess]]:
    """Holds the started processes and kills whatever is left at the end."""
    started: list[RunProcess] = []
    try:
        yield started
    finally:
        for run in started:
            await run.kill()


def run_env(api: FakeTelegramAPI, database_url: str, name: str) -> dict[str, str]:
    """The environment of one `gongjian run`: webhook mode, ephemeral port, no quiet hours."""
    return subprocess_env(
        GONGJIAN_DATABASE_URL=tagged_url(database_url, name),
        GONGJIAN_TELEGRAM_TOKEN=TOKEN,
        GONGJIAN_TELEGRAM_BASE_URL=api.base_url,
        GONGJIAN_TELEGRAM_WEBHOOK_URL=f"https://{name}.example.org{WEBHOOK_PATH}",
        GONGJIAN_TELEGRAM_WEBHOOK_SECRET=SECRET,
        GONGJIAN_HTTP_HOST="127.0.0.1",
        GONGJIAN_HTTP_PORT="0",
        GONGJIAN_QUIET_HOURS_START="00:00",
        GONGJIAN_QUIET_HOURS_END="00:00",
        # The bound port is logged (as "Serving HTTP on …") only when debugging.
        GONGJIAN_LOG_LEVEL="DEBUG",
    )


def lock_holders(database: Database, prefix: str) -> list[str]:
    """Names the processes (by application_name prefix) holding an advisory lock."""
    with database.engine.connect() as connection:
        return sorted(
            str(row[0])
            for row in connection.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l"
                    " JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted"
                    " AND a.application_name LIKE :pattern"
                ),
                {"pattern": prefix + "%"},
            )
        )


def give_telegram(database: Database, world: World) -> None:
    """Gives the mobile members Telegram accounts (nobody else gets pushes)."""
    now = SystemClock(SH).now()
    with database.session() as session:
        for name, chat in MOBILE.items():
            session.add(
                ChatAccount(
                    channel=Channel.TELEGRAM,
                    external_id=str(chat),
                    member_id=world.members[name],
                    created_at=now,
                )
            )


def mark_leaving(database: Database, world: World, name: str) -> None:
    """Marks a member as leaving now (the real present): a mobile-reports push is owed at once."""
    now = datetime.now(SH)
    with database.session() as session:
        mark_movement(
            session=session,
            member_id=world.members[name],
            direction=MovementDirection.LEAVING,
            at=now,
            by=None,
            place="深圳",
        )


def outbox_rows(database: Database) -> list[tuple[int, str, str, str]]:
    """Lists (member, key, status, text) of every outbox row."""
    with database.engine.connect() as connection:
        return [
            (int(row[0]), str(row[1]), str(row[2]), str(row[3]))
            for row in connection.execute(text("SELECT member_id, key, status, text FROM outbox"))
        ]


async def wait_pushed(database: Database, world: World, names: list[str]) -> None:
    """Waits until every outbox row of the named members was sent (and the fake has it)."""
    wanted = {world.members[name] for name in names}

    def done() -> bool:
        rows = [row for row in outbox_rows(database) if row[0] in wanted]
        return {row[0] for row in rows} == wanted and all(
            row[2] == OutboxStatus.SENT.value for row in rows
        )

    # Other processes write the outbox: nothing here can signal it, so look every so often.
    async with asyncio.timeout(DELIVERY_TIMEOUT):
        while not await asyncio.to_thread(done):  # noqa: ASYNC110 (no event crosses processes)
            await asyncio.sleep(POLL)


_updates = itertools.count(9_000_000)


async def converse(
    api: FakeTelegramAPI, run: RunProcess, user: TgUser, words: str, update_id: int | None = None
) -> int:
    """POSTs one update to a process's webhook; returns its update id."""
    number = update_id if update_id is not None else next(_updates)
    body = {"update_id": number, **api.message(words, user=user)}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"http://127.0.0.1:{run.port}{WEBHOOK_PATH}",
            json=body,
            headers={WEBHOOK_HEADER: SECRET},
        )
    assert response.status_code == 200, (run.name, response.status_code)
    return number


async def both_answer(api: FakeTelegramAPI, runs: list[RunProcess]) -> None:
    """Sends help requests to every process's webhook; each must be answered."""
    for run, user in zip(runs, WRITERS, strict=False):
        before = len(api.texts(user.id))
        await converse(api, run, user, "/help")
        # The webhook is acknowledged once the update is committed; the reply follows.
        await api.wait_until(
            lambda user=user, before=before: len(api.texts(user.id)) >= before + 1, within=30
        )
        assert len(api.texts(user.id)) == before + 1, f"{run.name} did not answer"


def leader_of(runs: list[RunProcess], holders: list[str]) -> RunProcess:
    """Returns the one process holding the lock."""
    assert len(holders) == 1, f"expected exactly one scheduler leader, found {holders}"
    return next(run for run in runs if run.name == holders[0])


async def wait_new_leader(
    survivor: RunProcess, database: Database, prefix: str, mark: int, killed_at: float
) -> float:
    """Waits for the survivor to take the lock; returns how long the handover took."""
    await survivor.wait_for(LEADING, within=HANDOVER + 5, start=mark)
    took = time.monotonic() - killed_at
    assert lock_holders(database, prefix) == [survivor.name]
    return took


async def test_one_leader_both_serve_and_the_leader_hands_over_when_killed(
    database: Database, database_url: str, world: World
) -> None:
    # Names unique to this run, should anyone else run it against the same server.
    prefix = f"gj-run-{uuid.uuid4().hex[:8]}-"
    name_a, name_b = prefix + "a", prefix + "b"
    give_telegram(database, world)
    mark_leaving(database, world, "m1")
    async with (
        FakeTelegramAPI(limits=FakeLimits(overall=None, per_chat=None, per_group=None)) as api,
        processes() as runs,
    ):
        first, second = await asyncio.gather(
            RunProcess.start(name_a, run_env(api, database_url, name_a)),
            RunProcess.start(name_b, run_env(api, database_url, name_b)),
        )
        runs += [first, second]
        # One of them leads; the other serves webhooks and delivers, but does not tick.
        await asyncio.wait(
            [asyncio.ensure_future(run.wait_for(LEADING, within=START_TIMEOUT)) for run in runs],
            return_when=asyncio.FIRST_COMPLETED,
        )
        leader = leader_of(runs, lock_holders(database, prefix))
        follower = second if leader is first else first
        assert follower.seen(LEADING) is None
        await both_answer(api, runs)
        await wait_pushed(database, world, ["m1"])

        # A platform retry of one update, landing on the other replica, is not handled again:
        # the answer stored with the update goes out once more (the first may have been lost).
        user = WRITERS[3]
        number = await converse(api, first, user, "/help")
        await api.wait_until(lambda: len(api.texts(user.id)) >= 1, within=30)
        mark_retry = len(second.lines)
        await converse(api, second, user, "/help", update_id=number)
        await second.wait_for(
            f"update {number} already handled: replaying", within=30, start=mark_retry
        )
        await api.wait_until(lambda: len(api.texts(user.id)) >= 2, within=30)
        answered, replayed = api.texts(user.id)
        assert replayed == answered

        # Kill the leader with something newly owed: the survivor takes over and sends it.
        mark_leaving(database, world, "m2")
        mark, killed_at = len(follower.lines), time.monotonic()
        await leader.kill()
        took = await wait_new_leader(follower, database, prefix, mark, killed_at)
        assert took <= HANDOVER, f"handover took {took:.1f} s"
        await wait_pushed(database, world, ["m1", "m2"])
        await both_answer(api, [follower])

        # The killed one comes back as a follower; then the new leader is killed in turn.
        revived = await RunProcess.start(leader.name, run_env(api, database_url, leader.name))
        runs.append(revived)
        await both_answer(api, [revived, follower])
        assert lock_holders(database, prefix) == [follower.name]
        mark_leaving(database, world, "m3")
        mark, killed_at = len(revived.lines), time.monotonic()
        await follower.kill()
        took = await wait_new_leader(revived, database, prefix, mark, killed_at)
        assert took <= HANDOVER, f"second handover took {took:.1f} s"
        await wait_pushed(database, world, ["m1", "m2", "m3"])

        rows = outbox_rows(database)
        pushed = Counter(
            (int(call.params["chat_id"]), call.params["text"])
            for call in api.sent()
            if int(call.params["chat_id"]) in MOBILE.values()
        )

    # Every queued push was sent, and each exactly once, although three schedulers led.
    assert {status for *_, status, _ in rows} == {OutboxStatus.SENT.value}
    chat_of = {world.members[name]: chat for name, chat in MOBILE.items()}
    expected = Counter((chat_of[member], body) for member, _, _, body in rows)
    assert pushed == expected
    assert set(pushed.values()) == {1}
    assert {world.members[name] for name in MOBILE} <= {row[0] for row in rows}
