"""`GET /calendar/{token}.ics`: a live token gets the member's feed, anything else a bare 404."""

from __future__ import annotations

from datetime import date

import httpx
from icalendar import Calendar
from starlette.applications import Starlette

from bot.config import Settings, load_settings
from bot.core.clock import FrozenClock
from bot.services.calendar_feed import CalendarFeeds
from bot.web.calendar_feed import MEDIA_TYPE, calendar_routes
from storage.engine import Database
from storage.models import Member
from tests.factories import World

BASE = "https://gj.example.org"


def client(database: Database, database_url: str, clock: FrozenClock) -> httpx.AsyncClient:
    settings: Settings = load_settings(
        database_url=database_url, public_base_url=BASE, _env_file=None
    )
    app = Starlette(routes=calendar_routes(database, settings, clock))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


def issue(database: Database, clock: FrozenClock, member_id: int) -> str:
    with database.session() as session:
        return CalendarFeeds(session, clock.now()).issue(member_id)


async def test_live_token_gets_the_feed(
    database: Database, database_url: str, world: World, clock: FrozenClock
) -> None:
    token = issue(database, clock, world.members["m1"])
    async with client(database, database_url, clock) as http:
        response = await http.get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == MEDIA_TYPE
    assert "private" in response.headers["cache-control"]
    calendar = Calendar.from_ical(response.content)
    uids = [event.uid for event in calendar.events]
    assert uids and all(uid.endswith("@gj.example.org") for uid in uids)
    assert len(uids) == len(set(uids))
    starts = [event.start for event in calendar.events]
    assert date(2026, 11, 1) in starts  # the theme-day duty of November, all day


async def test_member_language_is_used(
    database: Database, database_url: str, world: World, clock: FrozenClock
) -> None:
    with database.session() as session:
        member = session.get_one(Member, world.members["m1"])
        member.locale = "en"
        session.add(member)
    token = issue(database, clock, world.members["m1"])
    async with client(database, database_url, clock) as http:
        response = await http.get(f"/calendar/{token}.ics")
    assert "Organization-life day" in response.text


async def test_revoked_unknown_and_malformed_tokens_get_404(
    database: Database, database_url: str, world: World, clock: FrozenClock
) -> None:
    token = issue(database, clock, world.members["m1"])
    with database.session() as session:
        CalendarFeeds(session, clock.now()).revoke(world.members["m1"])
    unknown = "A" * 43
    async with client(database, database_url, clock) as http:
        for path in (
            f"/calendar/{token}.ics",
            f"/calendar/{unknown}.ics",
            "/calendar/short.ics",
            f"/calendar/{token}",
            "/calendar/%00%27.ics",
        ):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert token not in response.text
            assert "BEGIN:VCALENDAR" not in response.text


async def test_a_new_token_works_after_revoking(
    database: Database, database_url: str, world: World, clock: FrozenClock
) -> None:
    old = issue(database, clock, world.members["m2"])
    with database.session() as session:
        CalendarFeeds(session, clock.now()).revoke(world.members["m2"])
    new = issue(database, clock, world.members["m2"])
    async with client(database, database_url, clock) as http:
        assert (await http.get(f"/calendar/{old}.ics")).status_code == 404
        assert (await http.get(f"/calendar/{new}.ics")).status_code == 200
        assert (await http.head(f"/calendar/{new}.ics")).status_code == 200
