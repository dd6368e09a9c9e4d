"""`gongjian run` in one process: the HTTP server, the channels and the reminder jobs together."""

from __future__ import annotations

import asyncio

import httpx

from bot.config import Settings
from bot.engine.assistant import Assistant
from bot.runner import assistant_services, serve
from tests.factories import World


async def test_serve_starts_http_and_reminders_and_stops_cleanly(
    settings: Settings, assistant: Assistant, world: World
) -> None:
    settings = settings.model_copy(update={"http_port": 0})
    services = assistant_services(settings, assistant)
    assert [service.name for service in services] == ["reminders", "files"]
    stop = asyncio.Event()
    port: list[int] = []
    up = asyncio.Event()

    def ready(bound: int) -> None:
        port.append(bound)
        up.set()

    task = asyncio.create_task(serve(settings, assistant, services, stop=stop, ready=ready))
    await asyncio.wait_for(up.wait(), timeout=30)
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port[0]}/healthz")
        missing = await client.get(f"http://127.0.0.1:{port[0]}/nope")
        no_file = await client.get(f"http://127.0.0.1:{port[0]}/files/not-a-token")
        no_feed = await client.get(f"http://127.0.0.1:{port[0]}/calendar/not-a-token.ics")
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert health.status_code == 200
    assert missing.status_code == no_file.status_code == no_feed.status_code == 404
