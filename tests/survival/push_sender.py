"""Push-sender processes for the survival tests: each drains the outbox through Telegram.

Run as `python -m tests.survival.push_sender --batch 50 --lease 1` with GONGJIAN_DATABASE_URL,
GONGJIAN_TELEGRAM_TOKEN and GONGJIAN_TELEGRAM_BASE_URL set. A sender is the production delivery
loop (`scheduler.delivery.Delivery` over the real `TelegramChannel`) without the channel's flood
limits, so that a 10,000-push fan-out takes seconds against the fake Bot API. It prints
`PID WORKER` once connected and `PID done` once nothing is left to send; the tests SIGKILL it at
random points in between.

With `--fork-server` the process starts no sender itself: it forks a fresh one for each `spawn`
line on its standard input and answers `PID spawned`; `reap PID` waits for that sender and
answers `PID exited CODE`. Each sender is still its own process, with its own connections,
sockets and event loop, so SIGKILL ends it as it would any other; forking from a parent that
has already imported everything only spares each one a second of start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select

from bot.channels.ratelimit import RateLimiter
from bot.channels.telegram import TelegramChannel
from bot.config import load_settings
from bot.core.clock import SystemClock
from bot.core.i18n import Translator
from bot.core.inbound import Channel, Inbound
from bot.core.ports import Answer
from bot.core.reply import Reply
from bot.texts.translation import translator
from scheduler.delivery import Delivery, worker_name
from storage.engine import Database
from storage.reminders import OutboxMessage, OutboxStatus

UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)
IDLE_WAIT = 0.05


class PushOnly:
    """The core of a process that only pushes: it never receives a message."""

    def handle(self, inbound: Inbound) -> list[Reply]:
        """Answers nothing (no updates reach a sender)."""
        return []

    def answer(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Answer:
        """Answers nothing (no updates reach a sender)."""
        return Answer()

    def translator_for(
        self, *, channel: Channel, user_id: str, hint: str | None = None
    ) -> Translator:
        """Returns the English translator."""
        return translator("en")

    def command_menu(self, locale: str) -> list[tuple[str, str]]:
        """Offers no commands."""
        return []

    def healthy(self) -> bool:
        """Says it is fine."""
        return True

    def bound(self, *, channel: Channel, user_id: str) -> bool:
        """Knows no one (no updates reach a sender)."""
        return False


def say(line: str) -> None:
    """Tells the test a line on standard output, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def unfinished(database: Database) -> int:
    """Counts outbox rows still to be sent (pending, claimed, or waiting for a retry)."""
    with database.session() as session:
        return session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.status).in_(UNFINISHED))
        ).one()


async def run(batch: int, concurrency: int, lease: float) -> None:
    """Sends until the outbox holds nothing unfinished."""
    settings = load_settings()
    database = Database.connect(settings.database_url, migrate=False)
    channel = TelegramChannel(settings, PushOnly(), limiter=RateLimiter())
    await channel.application.initialize()
    worker = worker_name()
    delivery = Delivery(
        database=database,
        clock=SystemClock(settings.tz),
        senders=[channel],
        worker=worker,
        batch=batch,
        concurrency=concurrency,
        lease=timedelta(seconds=lease),
    )
    say(f"{os.getpid()} {worker}")
    try:
        while True:
            report = await delivery.run_once()
            if report.claimed:
                continue
            if not await asyncio.to_thread(unfinished, database):
                break
            # Rows a killed sender still holds come back once their lease lapses.
            await asyncio.sleep(IDLE_WAIT)
    finally:
        await channel.application.shutdown()
        database.dispose()
    say(f"{os.getpid()} done")


def serve_forks(batch: int, concurrency: int, lease: float) -> None:
    """Forks a sender per `spawn` line and reports how a sender ended per `reap PID` line."""
    say("ready")
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "spawn":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    asyncio.run(run(batch, concurrency, lease))
                except BaseException:
                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            say(f"{pid} spawned")
        elif command == "reap":
            _, status = os.waitpid(int(argument), 0)
            say(f"{argument} exited {os.waitstatus_to_exitcode(status)}")


def main(argv: list[str] | None = None) -> None:
    """Reads the options and runs the sender."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lease", type=float, default=1.0, help="seconds")
    parser.add_argument("--fork-server", action="store_true", help="fork senders on request")
    options = parser.parse_args(argv)
    if options.fork_server:
        serve_forks(options.batch, options.concurrency, options.lease)
    else:
        asyncio.run(run(options.batch, options.concurrency, options.lease))


if __name__ == "__main__":
    main(sys.argv[1:])
