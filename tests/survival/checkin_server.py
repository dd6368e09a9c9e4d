"""A WeChat callback server (safe mode) whose core reports each committed group on stdout.

Run by tests/survival/test_group_commit_kill.py as `python -m tests.survival.checkin_server URL`:
it prints `PORT n` once listening, then `GROUP n` after each group of n deliveries committed
(before any of them is answered), and serves until stdin closes or it is killed. Each delivery
of a group keeps the transaction open a little longer, so that a kill lands inside one.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.wechat_ack import NOW, listen
from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel
from bot.core.clock import FrozenClock
from bot.core.ports import Answer
from bot.engine.assembly import build_assistant
from bot.engine.group_commit import Delivery
from storage.engine import Database
from tests.fakes.wechat_api import FakeWeChatAPI, wechat_settings

# Seconds each delivery of a group holds its transaction open after its work.
LINGER = 0.01


def say(line: str) -> None:
    """Tells the test something, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def serve(url: str) -> None:
    """Serves /wechat on an ephemeral port until stdin closes."""
    async with FakeWeChatAPI() as api:
        settings = wechat_settings(url, api.base_url, aes=True)
        database = Database.connect(url, migrate=False)
        clock = FrozenClock(NOW)
        assistant = build_assistant(settings, clock=clock, database=database)
        answer_group = assistant._answer_group

        def reporting(deliveries: Sequence[Delivery]) -> list[Answer]:
            """Answers a group as the assistant does, then says how many it committed."""
            answers = answer_group(deliveries)
            say(f"GROUP {len(deliveries)}")
            return answers

        assistant._groups._answer_group = reporting
        work = assistant._work

        def slowly(*args: Any, **kwargs: Any) -> Answer:
            """Answers one delivery of a group, then lingers (a slow disk): kills land mid-group."""
            answer = work(*args, **kwargs)
            if kwargs.get("shared"):
                time.sleep(LINGER)
            return answer

        assistant._work = slowly  # type: ignore[method-assign]
        channel = WeChatChannel(settings, assistant, database=database, clock=clock)
        app = build_http_app(assistant, channel.routes)
        async with listen(app) as port:
            say(f"PORT {port}")
            await asyncio.to_thread(sys.stdin.read)
        await channel.stop()
        database.dispose()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
