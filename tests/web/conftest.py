"""The web console in process: the shared HTTP app, a client, and sign-in by a chat link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.engine.assistant import Assistant
from bot.runner import http_app
from bot.web.console.routes import console_routes
from storage.engine import Database
from tests.factories import World
from tests.helpers import Chat

LINK = re.compile(r"https?://\S+/console/enter/(\S+)")


def link_token(assistant: Assistant, world: World, who: str) -> str:
    """Binds `who` in chat, asks for 后台 and returns the token of the link it answers with."""
    reply = Chat(assistant, user_id=f"u-{who}").bound(world.invites[who]).say("后台")
    found = LINK.search(reply)
    assert found, reply
    return found.group(1)


@pytest.fixture
def app_routes(
    assistant: Assistant, database: Database, settings: Settings, clock: FrozenClock
) -> list[object]:
    """The console's routes on the test database and the frozen clock."""
    return list(console_routes(database, settings, clock, assistant.holidays))


@pytest.fixture
async def client(
    assistant: Assistant, app_routes: list[object], settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to the shared app, in process."""
    app = http_app(assistant, app_routes, settings)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def sign_in(
    client: httpx.AsyncClient, assistant: Assistant, world: World, who: str
) -> httpx.AsyncClient:
    """Signs `who` in through a chat link; the client keeps the session cookie."""
    response = await client.get(f"/console/enter/{link_token(assistant, world, who)}")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/"
    return client
