"""Single-use download links: served once, never after expiry, HEAD does not use them up."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.calendar.holidays import HolidayCalendar
from bot.channels.http import build_http_app
from bot.core.clock import FrozenClock
from bot.services.downloads import (
    LEDGER,
    DownloadConfig,
    claim_link,
    create_link,
    hash_token,
    link_is_live,
)
from bot.web.downloads import content_disposition, download_routes
from storage.engine import Database
from storage.models import DownloadLink
from storage.reminders import Filing
from tests.factories import World
from tests.fakes import ScriptedCore

TTL = timedelta(minutes=60)


def new_link(
    database: Database,
    world: World,
    clock: FrozenClock,
    *,
    kind: str = LEDGER,
    params: dict[str, object] | None = None,
) -> str:
    """Stores a link to B1's 2026Q3 ledger (or what `params` say) and returns its token."""
    with database.session() as session:
        return create_link(
            session,
            member_id=world.members["sec"],
            kind=kind,
            params=params
            if params is not None
            else {"org_id": world.orgs["B1"], "quarter": "2026Q3", "locale": "zh_CN"},
            now=clock.now(),
            ttl=TTL,
        )


@pytest.fixture
async def client(database: Database, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    """The shared HTTP app with the download route, in process."""
    routes = download_routes(database, clock=clock, holidays=HolidayCalendar.load())
    app = build_http_app(ScriptedCore(), routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gj.test") as http:
        yield http


def filed(database: Database) -> int:
    """Counts the filings."""
    with database.session() as session:
        return len(session.exec(select(Filing)).all())


async def test_a_link_works_once(
    client: httpx.AsyncClient, database: Database, world: World, clock: FrozenClock
) -> None:
    token = new_link(database, world, clock)
    with database.session() as session:
        [row] = session.exec(select(DownloadLink)).all()
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    assert len(token) >= 43

    first = await client.get(f"/files/{token}")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    # The Chinese name 台账-第1支部-2026Q3.xlsx travels as RFC 6266 UTF-8.
    assert first.headers["content-disposition"].endswith(
        "filename*=UTF-8''%E5%8F%B0%E8%B4%A6-%E7%AC%AC1%E6%94%AF%E9%83%A8-2026Q3.xlsx"
    )
    book = load_workbook(io.BytesIO(first.content))
    # The member who asked for the link is the 填报人.
    assert "填报人：sec" in str(book.worksheets[0]["A3"].value)
    assert len(book.sheetnames) == 5
    assert filed(database) == 1

    second = await client.get(f"/files/{token}")
    assert second.status_code == 404
    assert second.headers["cache-control"] == "no-store"
    assert filed(database) == 1
    with database.session() as session:
        assert session.exec(select(DownloadLink)).one().used_at == clock.now()


async def test_a_link_expires(
    client: httpx.AsyncClient, database: Database, world: World, clock: FrozenClock
) -> None:
    token = new_link(database, world, clock)
    clock.advance(TTL)
    assert (await client.get(f"/files/{token}")).status_code == 404
    assert filed(database) == 0
    with database.session() as session:
        assert session.exec(select(DownloadLink)).one().used_at is None


async def test_head_does_not_use_a_link_up(
    client: httpx.AsyncClient, database: Database, world: World, clock: FrozenClock
) -> None:
    token = new_link(database, world, clock)
    assert (await client.head(f"/files/{token}")).status_code == 200
    assert (await client.head(f"/files/{token}")).status_code == 200
    assert (await client.get(f"/files/{token}")).status_code == 200
    assert (await client.head(f"/files/{token}")).status_code == 404


@pytest.mark.parametrize("token", ["nope", "a" * 43, "bad token!", "x" * 200])
async def test_unknown_and_malformed_tokens(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(f"/files/{token}")
    assert response.status_code == 404
    assert "链接" in response.text or "link" in response.text


async def test_a_link_that_cannot_be_made_is_kept(
    client: httpx.AsyncClient, database: Database, world: World, clock: FrozenClock
) -> None:
    bogus = new_link(database, world, clock, kind="photo", params={})
    broken = new_link(database, world, clock, params={"org_id": world.orgs["B1"], "quarter": "Q9"})
    for token in (bogus, broken):
        assert (await client.get(f"/files/{token}")).status_code == 404
        with database.session() as session:
            assert link_is_live(session, token=token, now=clock.now())


def test_claiming_is_a_conditional_update(
    database: Database, world: World, clock: FrozenClock
) -> None:
    token = new_link(database, world, clock)
    with database.session() as session:
        claimed = claim_link(session, token=token, now=clock.now())
        assert claimed is not None
        assert claimed.kind == LEDGER and claimed.member_id == world.members["sec"]
        assert claimed.params["quarter"] == "2026Q3"
        # A second claim in the same or another transaction finds nothing left to claim.
        assert claim_link(session, token=token, now=clock.now()) is None
    with database.session() as session:
        assert claim_link(session, token=token, now=clock.now()) is None
        assert not link_is_live(session, token=token, now=clock.now())


def test_download_config_and_header() -> None:
    assert DownloadConfig().url("abc") is None
    config = DownloadConfig("https://gj.example.org/base/", link_minutes=5)
    assert config.url("abc") == "https://gj.example.org/base/files/abc"
    assert config.ttl == timedelta(minutes=5)
    assert content_disposition("台账 B1.xlsx") == (
        "attachment; filename=\"___B1.xlsx\"; filename*=UTF-8''%E5%8F%B0%E8%B4%A6%20B1.xlsx"
    )
