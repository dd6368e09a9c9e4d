"""Moments on console pages: one format, Babel's in the reader's language, in the district's zone."""

from __future__ import annotations

import re
from datetime import UTC

import httpx
import pytest

from bot.core.clock import FrozenClock
from bot.engine.assistant import Assistant
from storage.engine import Database
from tests.conftest import DEFAULT_NOW
from tests.factories import World
from tests.web.conftest import sign_in
from tests.web.test_console_matrix import signed_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def clock() -> FrozenClock:
    """The usual organization-life morning, told in UTC as a server's clock tells it."""
    return FrozenClock(DEFAULT_NOW.astimezone(UTC))


@pytest.mark.parametrize(
    ("lang", "expires", "made"),
    [
        ("zh_CN", "2026年11月9日 09:30", "2026年11月3日 09:30"),
        ("en", "Nov 9, 2026 09:30", "Nov 3, 2026 09:30"),
    ],
)
async def test_an_invites_expiry_and_its_audit_entry_read_in_shanghai_time(
    lang: str,
    expires: str,
    made: str,
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await sign_in(client, assistant, world, "sec")
    client.cookies.set("gj_lang", lang)
    found = CSRF.search((await client.get("/console/org/B1")).text)
    assert found
    page = await client.post(
        "/console/org/B1/invites", data={"csrf": found.group(1), "name": "新同志"}
    )
    assert page.status_code == 200
    # 144 hours after 01:30 UTC is 09:30 in Shanghai, six days on.
    assert expires in page.text and "01:30" not in page.text
    client.cookies.clear()
    await signed_in("staff", client, assistant, world, database, clock)
    client.cookies.set("gj_lang", lang)
    audit = await client.get("/console/audit")
    assert made in audit.text and "01:30" not in audit.text


@pytest.mark.parametrize(
    ("lang", "start"), [("zh_CN", "2026年1月1日 – "), ("en", "Jan 1, 2026 – ")]
)
async def test_a_pairings_agreement_dates_read_in_the_readers_language(
    lang: str, start: str, client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    client.cookies.set("gj_lang", lang)
    page = await client.get("/console/structure")
    row = re.search(r"<tr>\s*<td>P1</td>.*?</tr>", page.text, re.S)
    assert row, page.text
    assert f"<td>{start}</td>" in row.group(0) and "2026-01-01" not in row.group(0)
