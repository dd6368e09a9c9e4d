"""Delivery: how close the outbox gets to Telegram's 30 messages a second, without breaking limits.

A fake Bot API on 127.0.0.1 (`tests/fakes/telegram_api.py`) enforces Telegram's published limits
(30 messages a second overall, one a second per chat, 20 a minute per group) on the real clock
and answers 429 with `retry_after` when one is broken. The outbox holds one push for each of a
few hundred members; the real `Delivery` loop claims and sends them through the real
`TelegramChannel` and its limiter, over HTTP. Figures: the sustained send rate (30 over the mean time
from a send to the 30th send after it) as a fraction of 30/s,
the 429 answers (limit violations) and the pushes not delivered at the end (lost).

Run: python -m bench.delivery [--pushes 600]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from bench.cityscale import CitySize, build_city
from bench.databases import sqlite_database
from bench.report import Result
from bot.channels.telegram import TelegramChannel
from bot.config import load_settings
from bot.core.clock import SystemClock
from bot.core.inbound import Channel
from bot.engine.assembly import build_assistant
from scheduler.delivery import Delivery
from storage.engine import Database
from storage.outbox import NewPush, enqueue
from storage.reminders import OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

RATE = 30.0
TARGET = 0.95
TEXT = "提醒：今天上午9:00在党员活动室召开组织生活会，请准时参加。不能参加请回复“请假”。"


def delivery_city(pushes: int) -> CitySize:
    """Sizes a city with enough Telegram members (about a third of all) for `pushes`."""
    return CitySize(orgs=max(24, pushes // 4), members=max(300, pushes * 6))


def sustained_rate(times: Sequence[float], burst: int = int(RATE)) -> float:
    """Returns the sustained sends per second: `burst` over the mean time from a send to the
    send `burst` later (a limiter running at exactly 30 per second gives 30, bursts or not)."""
    if len(times) <= burst:
        return (
            (len(times) - 1) / (times[-1] - times[0])
            if len(times) > 1 and times[-1] > times[0]
            else 0.0
        )
    spans = [times[i + burst] - times[i] for i in range(len(times) - burst)]
    mean = sum(spans) / len(spans)
    return burst / mean if mean > 0 else float("inf")


def fill_outbox(database: Database, member_ids: Sequence[int], now: datetime) -> None:
    """Queues one urgent push per member."""
    pushes = [
        NewPush(
            key=f"bench:org:1:2026-11-03-morning:m{member_id}",
            rule="orglife",
            subject="org:1",
            period="2026-11-03-morning",
            member_id=member_id,
            urgent=True,
            text=TEXT,
        )
        for member_id in member_ids
    ]
    with database.session() as session:
        enqueue(session, pushes, now=now - timedelta(minutes=1))


def pending(database: Database) -> int:
    """Counts pushes not yet sent."""
    with database.session() as session:
        count: int = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.status) != OutboxStatus.SENT)
        ).one()
    return count


async def deliver_all(database: Database, channel: TelegramChannel, *, deadline: float) -> float:
    """Runs delivery rounds until the outbox is empty or `deadline` passes; returns the seconds."""
    clock = SystemClock(load_settings(_env_file=None).tz)
    delivery = Delivery(database=database, clock=clock, senders=[channel])
    started = time.perf_counter()
    while time.perf_counter() - started < deadline:
        report = await delivery.drain(max_rounds=10_000)
        if report.claimed == 0 and not await asyncio.to_thread(pending, database):
            break
        # Rows held by a flood answer wait for their time; look again shortly.
        await asyncio.sleep(0.2)
    return time.perf_counter() - started


async def run(url: str, pushes: int) -> Result:
    """Sends `pushes` pushes through the fake Bot API and reports rate, violations and losses."""
    database = Database.connect(url, migrate=False)
    city = await asyncio.to_thread(build_city, url, delivery_city(pushes))
    members = [account.member_id for account in city.checkers(Channel.TELEGRAM)][:pushes]
    now = datetime.now(SystemClock(load_settings(_env_file=None).tz).tz)
    await asyncio.to_thread(fill_outbox, database, members, now)
    logging.getLogger("bot.channels.telegram").setLevel(logging.ERROR)
    logging.getLogger("telegram").setLevel(logging.WARNING)
    async with FakeTelegramAPI() as api:
        settings = load_settings(
            database_url=url,
            telegram_token=TOKEN,
            telegram_base_url=api.base_url,
            telegram_webhook_url="https://bench.invalid/telegram/webhook",
            telegram_webhook_secret="bench-secret",
            _env_file=None,
        )
        assistant = build_assistant(settings, clock=SystemClock(settings.tz), database=database)
        channel = TelegramChannel(settings, assistant)
        await channel.start()
        try:
            seconds = await deliver_all(database, channel, deadline=max(60.0, len(members) / 10))
        finally:
            await channel.stop()
        sent = sorted(call.at for call in api.calls_of("sendMessage"))
        refused = [
            call for call in api.calls if call.method == "sendMessage" and call.status == 429
        ]
        chats = {call.params["chat_id"] for call in api.calls_of("sendMessage")}
    lost = await asyncio.to_thread(pending, database)
    database.dispose()
    rate = sustained_rate(sent)
    ratio = rate / RATE
    return Result(
        name="delivery to Telegram's limits (fake Bot API)",
        figure=f"{rate:.2f} msg/s sustained, {len(refused)} x 429, {lost} lost",
        baseline="Telegram's 30 msg/s",
        ratio=ratio,
        target=">= 95%, 0 x 429, 0 lost",
        met=ratio >= TARGET and not refused and lost == 0,
        notes=(
            f"{len(members):,} pushes to {len(chats):,} chats in {seconds:.1f} s "
            f"({len(sent):,} accepted sends, {len(sent) - len(chats)} duplicates)",
        ),
    )


def measure(pushes: int) -> Result:
    """Runs the delivery benchmark on a fresh SQLite database."""
    with sqlite_database() as url:
        return asyncio.run(run(url, pushes))


def main() -> None:
    """Runs the benchmark and prints its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes", type=int, default=600)
    args = parser.parse_args()
    result = measure(args.pushes)
    print(f"{result.name}: {result.figure}; {result.baseline}; ratio {result.ratio:.3f}")
    for note in result.notes:
        print(f"  {note}")


if __name__ == "__main__":
    main()
