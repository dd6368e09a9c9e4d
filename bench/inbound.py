"""Inbound: check-ins per second through the whole Telegram stack, against python-telegram-bot's floor.

Both sides get the same update bodies (JSON, as a webhook or getUpdates delivers them), parse
them with `Update.de_json` and hand them to python-telegram-bot's `process_update`, with the
same number in flight (40, Telegram's default webhook `max_connections`). The floor's handler
does nothing; ours is `TelegramChannel`: deduplication, the assistant (router, conversation
state, check-in transaction) and the reply through `bot.send_message`. Two more handlers bound
what any bot can reach: one that only sends the reply, and the smallest durable bot, which
commits one row per update (one SQLAlchemy transaction, in a worker thread) and replies; the
target (issue #18) is half of that durable ceiling. The process's CPU time per update is
reported beside the rates: on a shared machine it moves far less than they do. The bot's HTTP calls
are answered in-process by `CannedRequest`, so no network is involved; the send limiter runs
with its limits switched off (the delivery benchmark measures those).

Run: python -m bench.inbound [--count 3000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert
from sqlmodel import col, select
from telegram import Bot, Update
from telegram.ext import Application, CallbackContext, TypeHandler
from telegram.request import BaseRequest, RequestData

from bench.cityscale import QUICK_CITY, SHANGHAI, TODAY, City, CityAccount, city_database
from bench.databases import backend_of, postgres_base_url
from bench.report import Result, settle_heap, skipped
from bot.channels.ratelimit import RateLimiter
from bot.channels.telegram import TelegramChannel
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.domain import AttendanceStatus
from bot.core.inbound import Channel
from bot.engine.assembly import build_assistant
from storage.engine import Database, make_engine
from storage.models import Attendance

TOKEN = "123456789:AAFakeTokenForBenchmarksOnly_abcdefg"
BOT_ID = 123456789
BOT_USERNAME = "gongjian_bench_bot"
IN_FLIGHT = 40
WARM_UP = 50
NOW = datetime.combine(TODAY, clock_time(9, 5), tzinfo=SHANGHAI)
# Issue #18: at least half of what the smallest bot that commits each update reaches.
TARGET = 0.5
# The same length as the assistant's check-in confirmation.
CHECKIN_REPLY = "您已于09:05完成第1街道第23党支部组织生活日签到，谢谢！"


class CannedRequest(BaseRequest):
    """Answers every Bot API call in-process with canned JSON; counts them by method."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self._me = json.dumps(
            {
                "ok": True,
                "result": {
                    "id": BOT_ID,
                    "is_bot": True,
                    "first_name": "Gongjian",
                    "username": BOT_USERNAME,
                },
            }
        ).encode()
        self._true = b'{"ok":true,"result":true}'

    async def initialize(self) -> None:
        """Needs nothing."""

    async def shutdown(self) -> None:
        """Needs nothing."""

    @property
    def read_timeout(self) -> float:
        """The read timeout python-telegram-bot asks for."""
        return 5.0

    async def do_request(  # noqa: PLR0917 (PTB's signature)
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Returns 200 and the Bot API's answer for the method named at the end of `url`."""
        name = url.rsplit("/", 1)[-1]
        self.calls[name] = self.calls.get(name, 0) + 1
        if name == "getMe":
            return 200, self._me
        if name == "sendMessage":
            params = request_data.parameters if request_data is not None else {}
            chat = params.get("chat_id", 0)
            message = {
                "message_id": self.calls[name],
                "date": int(NOW.timestamp()),
                "chat": {"id": int(str(chat)), "type": "private", "first_name": "m"},
                "text": str(params.get("text", "")),
            }
            return 200, json.dumps({"ok": True, "result": message}).encode()
        return 200, self._true


def update_bodies(accounts: Sequence[CityAccount], first_id: int = 1) -> list[bytes]:
    """Builds one private-chat text update per account, as Telegram would send it."""
    bodies = []
    for number, account in enumerate(accounts):
        user = int(account.external_id)
        update = {
            "update_id": first_id + number,
            "message": {
                "message_id": number + 1,
                "date": int(NOW.timestamp()),
                "chat": {"id": user, "type": "private", "first_name": "党员"},
                "from": {
                    "id": user,
                    "is_bot": False,
                    "first_name": "党员",
                    "language_code": "zh-hans",
                },
                "text": account.checkin_text,
            },
        }
        bodies.append(json.dumps(update, ensure_ascii=False).encode())
    return bodies


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast bodies went through: per second of wall time, and CPU seconds per body."""

    rate: float
    cpu: float


async def drive(
    handle: Callable[[bytes], Awaitable[None]], bodies: Sequence[bytes], in_flight: int
) -> Pace:
    """Feeds every body to `handle` with at most `in_flight` at once; returns the pace.

    The CPU is this process's, all threads: on a shared machine it varies far less than the
    wall time, since other work delays ours but does not add to it.
    """
    gate = asyncio.Semaphore(in_flight)

    async def one(body: bytes) -> None:
        """Handles one body inside the gate."""
        async with gate:
            await handle(body)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(body) for body in bodies))
    spent = time.perf_counter() - started
    return Pace(len(bodies) / spent, (time.process_time() - cpu) / len(bodies))


def bare_application() -> Application[Any, Any, Any, Any, Any, Any]:
    """Builds a python-telegram-bot Application answered by `CannedRequest`, with no extras."""
    request = CannedRequest()
    return (
        Application.builder()
        .token(TOKEN)
        .request(request)
        .get_updates_request(request)
        .updater(None)
        .job_queue(None)
        .build()
    )


async def floor_rate(
    bodies: Sequence[bytes], in_flight: int, *, parse: bool = True, reply: str | None = None
) -> Pace:
    """Returns updates per second through python-telegram-bot with a handler that does nothing.

    With `reply`, the handler sends that text back instead: what any bot that answers pays.
    """
    app = bare_application()

    async def nothing(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        """Does nothing, or only sends the canned reply."""
        if reply is not None and isinstance(update, Update) and update.effective_chat:
            await context.bot.send_message(chat_id=update.effective_chat.id, text=reply)

    app.add_handler(TypeHandler(Update, nothing))
    await app.initialize()
    bot = app.bot
    parsed = {body: _parse(body, bot) for body in bodies} if not parse else {}

    async def handle(body: bytes) -> None:
        """Parses (unless told not to) and processes one update."""
        update = _parse(body, bot) if parse else parsed[body]
        await app.process_update(update)

    try:
        await drive(handle, bodies[:WARM_UP], in_flight)
        return await drive(handle, bodies[WARM_UP:], in_flight)
    finally:
        await app.shutdown()


async def durable_rate(url: str, bodies: Sequence[bytes], in_flight: int) -> Pace:
    """Returns updates per second through python-telegram-bot with the smallest durable handler.

    It commits one row per update to the benchmark's database (in a worker thread, as ours
    does) and sends the reply: the least any bot that records each check-in must pay.
    """
    engine = make_engine(url)
    metadata = MetaData()
    scratch = Table(
        "bench_durable_floor",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("chat_id", String(32), nullable=False),
    )
    metadata.create_all(engine)
    statement = insert(scratch)
    app = bare_application()

    def record(chat_id: int) -> None:
        """Commits one row for the update's chat."""
        with engine.begin() as connection:
            connection.execute(statement, {"chat_id": str(chat_id)})

    async def record_and_reply(
        update: object, context: CallbackContext[Any, Any, Any, Any]
    ) -> None:
        """Records the update durably, then sends the canned reply."""
        if isinstance(update, Update) and update.effective_chat:
            await asyncio.to_thread(record, update.effective_chat.id)
            await context.bot.send_message(chat_id=update.effective_chat.id, text=CHECKIN_REPLY)

    app.add_handler(TypeHandler(Update, record_and_reply))
    await app.initialize()

    async def handle(body: bytes) -> None:
        """Parses and processes one update."""
        await app.process_update(_parse(body, app.bot))

    try:
        await drive(handle, bodies[:WARM_UP], in_flight)
        return await drive(handle, bodies[WARM_UP:], in_flight)
    finally:
        await app.shutdown()
        metadata.drop_all(engine)
        engine.dispose()


def _parse(body: bytes, bot: Bot) -> Update:
    """Parses an update body the way the webhook endpoint does."""
    update = Update.de_json(json.loads(body), bot)
    assert update is not None
    return update


def present_count(database: Database) -> int:
    """Counts sign-ins recorded today."""
    with database.session() as session:
        count: int = session.exec(
            select(func.count())
            .select_from(Attendance)
            .where(
                col(Attendance.status) == AttendanceStatus.PRESENT,
                col(Attendance.at) >= datetime.combine(TODAY, clock_time(0, 0), tzinfo=SHANGHAI),
            )
        ).one()
    return count


async def stack_rate(url: str, bodies: Sequence[bytes], in_flight: int) -> tuple[Pace, int, int]:
    """Returns (pace, sign-ins recorded, replies sent) through `TelegramChannel`."""
    settings = load_settings(
        database_url=url,
        telegram_token=TOKEN,
        telegram_webhook_url="https://bench.invalid/telegram/webhook",
        telegram_webhook_secret="bench-secret",
        _env_file=None,
    )
    database = Database.connect(url, migrate=False)
    assistant = build_assistant(settings, clock=FrozenClock(NOW), database=database)
    channel = TelegramChannel(settings, assistant, limiter=RateLimiter())
    request = CannedRequest()
    # The channel builds its own Application; its bot's HTTP client is swapped before start.
    channel.application.bot._request = (request, request)
    logging.getLogger("bot.channels.telegram").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.WARNING)
    await channel.start()
    before = present_count(database)

    async def handle(body: bytes) -> None:
        """Parses one update and processes it as the webhook endpoint does."""
        await channel.process(_parse(body, channel.bot))

    try:
        await drive(handle, bodies[:WARM_UP], in_flight)
        pace = await drive(handle, bodies[WARM_UP:], in_flight)
    finally:
        await channel.stop()
        assistant.close()
    recorded = present_count(database) - before
    database.dispose()
    return pace, recorded, request.calls.get("sendMessage", 0)


async def measure(url: str, city: City, *, count: int, in_flight: int = IN_FLIGHT) -> Result:
    """Measures check-ins per second through the stack and the floor on the same updates."""
    accounts = city.checkers(Channel.TELEGRAM)[: count + WARM_UP]
    if len(accounts) <= WARM_UP:
        return skipped(f"inbound check-ins ({backend_of(url)})", "too few Telegram members")
    bodies = update_bodies(accounts)
    settle_heap()
    # The floor is taken before and after ours and the better kept: background work on the
    # machine (a database's autovacuum, say) only ever slows it down.
    bare = (await floor_rate(bodies, in_flight, parse=False)).rate
    first = (await floor_rate(bodies, in_flight)).rate
    durable = await durable_rate(url, bodies, in_flight)
    pace, recorded, replies = await stack_rate(url, bodies, in_flight)
    floor = max(first, (await floor_rate(bodies, in_flight)).rate)
    answering = (await floor_rate(bodies, in_flight, reply=CHECKIN_REPLY)).rate
    # The durable ceiling is taken before and after ours and the better kept, like the floor.
    durable = max(durable, await durable_rate(url, bodies, in_flight), key=lambda p: p.rate)
    ours = pace.rate
    ratio = ours / durable.rate
    return Result(
        name=f"inbound check-ins, Telegram, {backend_of(url)}",
        figure=f"{ours:,.0f} updates/s",
        baseline=f"smallest durable bot (PTB, one committed row, the reply): {durable.rate:,.0f}/s",
        ratio=ratio,
        target=f">= {TARGET:g} of it",
        met=ratio >= TARGET,
        notes=(
            f"{len(bodies) - WARM_UP:,} check-ins after {WARM_UP} warm-up, {in_flight} in flight; "
            f"{recorded:,} sign-ins recorded, {replies:,} replies sent",
            f"CPU per update (this process, all threads): ours {pace.cpu * 1e6:,.0f} µs, the "
            f"durable bot's {durable.cpu * 1e6:,.0f} µs (ratio {durable.cpu / pace.cpu:.2f})",
            f"PTB parse + process_update, no-op handler: {floor:,.0f}/s (ours is "
            f"{ours / floor:.1%} of it; on pre-parsed Update objects {bare:,.0f}/s)",
            f"PTB parse + process_update with a handler that only sends the reply: "
            f"{answering:,.0f}/s, the ceiling of any bot that answers (ours is "
            f"{ours / answering:.1%} of it)",
        ),
    )


def main() -> None:
    """Runs the benchmark on SQLite (and PostgreSQL when configured) and prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if postgres_base_url(args.postgres) else [])
    for backend in backends:
        with city_database(backend, QUICK_CITY, postgres_base_url(args.postgres)) as (url, city):
            result = asyncio.run(measure(url, city, count=args.count))
        print(f"{result.name}: {result.figure}; {result.baseline}; ratio {result.ratio:.3f}")
        for note in result.notes:
            print(f"  {note}")


if __name__ == "__main__":
    main()
