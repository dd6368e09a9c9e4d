"""The duty plan in the console: a secretary's override shows in chat's 谁主持 too."""

from __future__ import annotations

import re

import httpx

from bot.engine.assistant import Assistant
from tests.factories import World
from tests.helpers import Chat
from tests.web.conftest import sign_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def test_an_override_in_the_console_shows_in_chat(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/rota")
    assert page.status_code == 200 and "红湾联盟" in page.text
    found = CSRF.search(page.text)
    assert found
    done = await client.post(
        "/console/rota/override",
        data={
            "csrf": found.group(1),
            "duty": "theme_day",
            "period": "2026-12",
            "org": "B1",
            "reason": "第4支部场地维修",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/rota?done=1"
    reply = Chat(assistant, user_id="u-m1").bound(world.invites["m1"]).say("谁主持 2026-12")
    assert "第1支部" in reply and "第4支部场地维修" in reply
    assert "第4支部场地维修" in (await client.get("/console/rota")).text


async def test_a_bad_override_is_explained_and_changes_nothing(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    found = CSRF.search((await client.get("/console/rota")).text)
    assert found
    refused = await client.post(
        "/console/rota/override",
        data={
            "csrf": found.group(1),
            "duty": "theme_day",
            "period": "2026-13",
            "org": "B1",
            "reason": "x",
        },
    )
    assert refused.headers["location"] == "/console/rota?error=bad_period"
    page = await client.get(refused.headers["location"])
    assert 'role="alert"' in page.text


async def test_a_liaison_sees_the_rota_but_cannot_change_it(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "liaison")
    page = await client.get("/console/rota")
    assert page.status_code == 200 and "/console/rota/override" not in page.text
    found = CSRF.search(page.text)
    assert found
    refused = await client.post(
        "/console/rota/override",
        data={
            "csrf": found.group(1),
            "duty": "theme_day",
            "period": "2026-12",
            "org": "B1",
            "reason": "x",
        },
    )
    assert refused.status_code == 403
