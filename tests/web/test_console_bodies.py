"""Oversized bodies: a console form gets the translated refusal page, a webhook the plain answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.engine.assistant import Assistant
from bot.web.console.pages import FORM_LIMIT
from bot.web.console.routes import BODY_LIMITS
from tests.factories import World
from tests.web.conftest import sign_in

FORM = {"content-type": "application/x-www-form-urlencoded"}


def too_much(limit: int) -> bytes:
    """A form body one byte past `limit`."""
    return b"csrf=x&reason=" + b"x" * (limit + 1 - len(b"csrf=x&reason="))


@pytest.mark.parametrize(
    ("lang", "title"), [(None, "内容过大，无法接收"), ("en", "Too large to take")]
)
async def test_a_console_form_past_the_limit_gets_the_refusal_page_in_the_readers_language(
    lang: str | None,
    title: str,
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
) -> None:
    await sign_in(client, assistant, world, "sec")
    if lang:
        client.cookies.set("gj_lang", lang)
    response = await client.post(
        "/console/rota/override", content=too_much(FORM_LIMIT), headers=FORM
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert title in response.text
    fits = await client.post("/console/rota/override", content=b"csrf=x", headers=FORM)
    assert fits.status_code == 403


async def test_a_console_body_streamed_past_the_limit_is_refused_while_it_is_read(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")

    async def streamed() -> AsyncIterator[bytes]:
        yield b"csrf=x&reason="
        for _ in range(3):
            yield b"x" * (512 * 1024)

    response = await client.post("/console/rota/override", content=streamed(), headers=FORM)
    assert response.status_code == 413 and "内容过大，无法接收" in response.text


async def test_an_upload_past_the_import_paths_own_cap_gets_the_refusal_page(
    client: httpx.AsyncClient,
) -> None:
    limit = BODY_LIMITS["/console/import"]
    response = await client.post(
        "/console/import",
        content=b"x" * (limit + 1),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413 and "内容过大，无法接收" in response.text


@pytest.mark.parametrize("path", ["/wechat", "/consoles", "/healthz"])
async def test_other_paths_keep_the_shared_servers_plain_answer(
    path: str, client: httpx.AsyncClient
) -> None:
    response = await client.post(path, content=too_much(FORM_LIMIT), headers=FORM)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Request body too large"
