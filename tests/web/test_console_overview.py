"""The overview page lists the most behind organizations first, a limited number, and says how many match."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from bot.core.clock import FrozenClock
from bot.services.console_access import ConsoleAccess
from bot.web.console import pages
from storage.engine import Database
from tests.factories import World

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
ROW = re.compile(r'<th scope="row"><a href="/console/org/([^"]+)">')


async def staff(client: httpx.AsyncClient, database: Database, clock: FrozenClock) -> None:
    """Signs committee staff in (their scope: the committee and its four branches)."""
    with database.session() as session:
        ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30)).add_account(
            login="staff", name="组织委员", org_code="C", password="correct horse battery"
        )
    form = await client.get("/console/login")
    token = FORM_TOKEN.search(form.text)
    assert token
    response = await client.post(
        "/console/login",
        data={"form_token": token.group(1), "login": "staff", "password": "correct horse battery"},
    )
    assert response.status_code == 303


async def test_every_branch_is_listed_when_they_fit(
    client: httpx.AsyncClient, database: Database, clock: FrozenClock, world: World
) -> None:
    await staff(client, database, clock)
    page = await client.get("/console/")
    assert page.status_code == 200
    assert sorted(ROW.findall(page.text)) == ["B1", "B2", "B3", "B4"]
    assert 'id="shown"' not in page.text


async def test_only_the_most_behind_are_listed_with_how_many_match(
    client: httpx.AsyncClient,
    database: Database,
    clock: FrozenClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await staff(client, database, clock)
    everyone = ROW.findall((await client.get("/console/")).text)
    monkeypatch.setattr(pages, "OVERVIEW_ROWS", 2)
    page = await client.get("/console/")
    assert ROW.findall(page.text) == everyone[:2]
    assert "显示 4 个组织中最落后的 2 个" in page.text
    english = await client.get("/console/?lang=en")
    assert "Showing the 2 most behind of 4 organizations" in english.text
    # A search reaches an organization beyond the first rows.
    found = await client.get("/console/", params={"q": everyone[3]})
    assert ROW.findall(found.text) == [everyone[3]] and 'id="shown"' not in found.text


async def test_a_bad_or_future_quarter_shows_the_current_one(
    client: httpx.AsyncClient, database: Database, clock: FrozenClock, world: World
) -> None:
    await staff(client, database, clock)
    current = await client.get("/console/")
    for wanted in ("2099Q1", "not-a-quarter", "2026Q9"):
        page = await client.get("/console/", params={"quarter": wanted})
        assert page.status_code == 200
        assert ROW.findall(page.text) == ROW.findall(current.text)
    past = await client.get("/console/", params={"quarter": "2025Q4"})
    assert past.status_code == 200 and sorted(ROW.findall(past.text)) == ["B1", "B2", "B3", "B4"]
