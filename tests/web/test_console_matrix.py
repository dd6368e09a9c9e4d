"""Every console route × every role × own and other organization, with the expected status."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta

import httpx
import pytest

from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import ActivityKind
from bot.core.inbound import InboundImage
from bot.engine.assistant import Assistant
from bot.services.console_access import ConsoleAccess, token_hash
from bot.services.photos import PhotoStore, attach_photos, save_photos
from bot.services.use_cases import Services
from storage import console
from storage.engine import Database
from storage.models import Activity
from tests.factories import World
from tests.web.conftest import link_token

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
ROUTES = (
    ("GET", "/console/"),
    ("GET", "/console/org/B1"),
    ("GET", "/console/org/B2"),
    ("GET", "/console/audit"),
    ("GET", "/console/reminders"),
    ("POST", "/console/reminders/requeue"),
    ("GET", "/console/rota"),
    ("POST", "/console/org/B1/invites"),
    ("POST", "/console/org/B2/invites"),
    ("POST", "/console/org/B1/members/{m1}/export"),
    ("POST", "/console/org/B2/members/{m3}/export"),
    ("POST", "/console/org/B1/members/{m1}/erase"),
    ("POST", "/console/org/B2/members/{m3}/erase"),
)
# The status each role gets on ROUTES, in order (the signed-in person belongs to B1 unless noted).
# Every form, the member desk's too, sends someone signed out to the sign-in page. The member
# desk refuses (403) whoever sees an organization but does not manage it; one out of scope is 404.
EXPECTED = {
    "anonymous": (303,) * 13,
    "member": (403,) * 13,
    "liaison": (200, 200, 404, 403, 200, 403, 200, 403, 404, 403, 404, 403, 404),
    "deputy": (200, 200, 404, 403, 200, 303, 200, 200, 404, 200, 404, 303, 404),
    "sec": (200, 200, 404, 403, 200, 303, 200, 200, 404, 200, 404, 303, 404),
    "sec2": (200, 404, 200, 403, 200, 303, 200, 404, 200, 404, 200, 404, 303),
    "staff": (200, 200, 200, 200, 200, 303, 200, 200, 200, 200, 200, 303, 303),
}


async def signed_in(
    who: str,
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    """Gives the client a session of `who` (a plain member's link is forged in storage)."""
    if who == "anonymous":
        return
    if who == "staff":
        with database.session() as session:
            ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30)).add_account(
                login="staff", name="组织委员", org_code="C", password="correct horse battery"
            )
        form = await client.get("/console/login")
        found = FORM_TOKEN.search(form.text)
        assert found
        await client.post(
            "/console/login",
            data={
                "form_token": found.group(1),
                "login": "staff",
                "password": "correct horse battery",
            },
        )
        return
    if who == "member":
        token = secrets.token_urlsafe(32)
        with database.session() as session:
            console.add_link(
                session,
                token_hash=token_hash(token),
                member_id=world.members["m1"],
                now=clock.now(),
                expires_at=clock.now() + timedelta(minutes=10),
            )
    else:
        token = link_token(assistant, world, who)
    assert (await client.get(f"/console/enter/{token}")).status_code == 303


@pytest.mark.parametrize("who", sorted(EXPECTED))
async def test_every_route_for_every_role(
    who: str,
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await signed_in(who, client, assistant, world, database, clock)
    home = await client.get("/console/")
    found = CSRF.search(home.text)
    csrf = found.group(1) if found else ""
    got = []
    for method, template in ROUTES:
        path = template.format(m1=world.members["m1"], m3=world.members["m3"])
        if method == "GET":
            response = await client.get(path)
        else:
            data = {"csrf": csrf, "name": "x", "role": "member", "confirm": "1"}
            response = await client.post(path, data=data)
        got.append(response.status_code)
    assert tuple(got) == EXPECTED[who]


# The meetings pages, on B1's meeting of today (begun), B1's next one, and B2's of today.
MEETING_ROUTES = (
    ("GET", "/console/meetings", {}),
    ("GET", "/console/meetings?org=B2", {}),
    ("GET", "/console/meetings/new", {}),
    ("POST", "/console/meetings/new", {"kind": "lecture", "date": "2026-12-10", "time": "14:30"}),
    ("GET", "/console/meetings/{b1}", {}),
    ("GET", "/console/meetings/{b2}", {}),
    ("POST", "/console/meetings/{b1}/attendance", {"member": "m1", "answer": "late"}),
    ("POST", "/console/meetings/{b2}/attendance", {"member": "m3", "answer": "late"}),
    ("GET", "/console/meetings/{next}/move", {}),
    ("POST", "/console/meetings/{next}/move", {"date": "2026-12-02", "time": "09:00"}),
    ("GET", "/console/meetings/{b1}/minutes", {}),
    ("POST", "/console/meetings/{b1}/minutes", {"content": "传达学习"}),
    ("GET", "/console/meetings/{b1}/minutes.docx", {}),
)
MEETING_EXPECTED = {
    "anonymous": (303,) * 13,
    "member": (403,) * 13,
    "liaison": (200, 404, 403, 403, 200, 404, 403, 403, 403, 403, 200, 403, 200),
    "deputy": (200, 404, 200, 303, 200, 404, 303, 404, 200, 303, 200, 303, 200),
    "sec": (200, 404, 200, 303, 200, 404, 303, 404, 200, 303, 200, 303, 200),
    "sec2": (200, 200, 200, 303, 404, 200, 404, 303, 404, 404, 404, 404, 404),
    "staff": (200, 200, 403, 403, 200, 200, 403, 403, 403, 403, 200, 403, 200),
}


def meeting_ids(
    database: Database, world: World, clock: FrozenClock, assistant: Assistant, settings: Settings
) -> dict[str, int]:
    """Stores today's org-life meetings of B1 and B2, B1's next one, and minutes of B1's."""
    with database.session() as session:
        services = Services(
            session,
            now=clock.now(),
            tz=settings.tz,
            holidays=assistant.holidays,
            settings=settings,
        )
        ids = {}
        for key, code, month in (("b1", "B1", 11), ("next", "B1", 12), ("b2", "B2", 11)):
            row = services.orgs.row(world.orgs[code])
            ids[key] = services.meetings.ensure_org_life(row, 2026, month).id or 0
        services.record_minutes(
            services.members.get(world.members["sec"]),
            meeting_id=ids["b1"],
            topic="学习",
            host="sec",
            recorder="deputy",
            content="传达学习",
            resolutions="",
        )
    return ids


@pytest.mark.parametrize("who", sorted(MEETING_EXPECTED))
async def test_every_meetings_route_for_every_role(
    who: str,
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    ids = meeting_ids(database, world, clock, assistant, settings)
    await signed_in(who, client, assistant, world, database, clock)
    found = CSRF.search((await client.get("/console/")).text)
    csrf = found.group(1) if found else ""
    got = []
    for method, template, data in MEETING_ROUTES:
        path = template.format(**ids)
        if method == "GET":
            response = await client.get(path)
        else:
            fields = {"csrf": csrf, "reason": "x", "venue": "", **data}
            if "member" in fields:
                fields["member"] = str(world.members[fields["member"]])
            response = await client.post(path, data=fields)
        got.append(response.status_code)
    assert tuple(got) == MEETING_EXPECTED[who]


def ledger_photo(
    database: Database, settings: Settings, world: World, code: str, now: datetime
) -> int:
    """Stores a photo attached to a ledger entry of `code`; returns its id."""
    with database.session() as session:
        org = world.orgs[code]
        reporter = world.members["m1" if code == "B1" else "m3"]
        entry = Activity(
            organization_id=org,
            kind=ActivityKind.STUDY,
            held_on=date(2026, 10, 12),
            title="联学",
            participants=3,
            summary="",
            reporter_id=reporter,
            created_at=now,
        )
        session.add(entry)
        session.flush()
        assert entry.id is not None
        [photo] = save_photos(
            session,
            PhotoStore(settings.photo_root, settings.photo_max_bytes),
            member_id=reporter,
            images=[InboundImage(b"\xff\xd8\xff\xe0" + bytes([org]) * 60)],
            now=now,
        )
        attach_photos(session, member_id=reporter, photo_ids=[photo.id], activity_id=entry.id)
    return photo.id


DESK_ROUTES = (
    ("GET", "/console/ledger"),
    ("GET", "/console/ledger?org=B2"),
    ("GET", "/console/ledger/workbook?org=B1"),
    ("GET", "/console/ledger/workbook?org=B2"),
    ("GET", "/console/ledger/summary?org=B1"),
    ("GET", "/console/ledger/summary?org=B2"),
    ("POST", "/console/ledger/submitted?org=B1"),
    ("POST", "/console/ledger/submitted?org=B2"),
    ("GET", "/console/ledger/photos/{B1}"),
    ("GET", "/console/ledger/photos/{B2}"),
    ("GET", "/console/reminders?org=B2"),
    ("POST", "/console/reminders/settings?org=B1"),
    ("POST", "/console/reminders/settings?org=B2"),
)
DESK_EXPECTED = {
    "anonymous": (303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303),
    "member": (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "liaison": (200, 404, 200, 404, 200, 404, 403, 403, 200, 404, 404, 403, 403),
    "deputy": (200, 404, 200, 404, 200, 404, 303, 404, 200, 404, 404, 303, 404),
    "sec": (200, 404, 200, 404, 200, 404, 303, 404, 200, 404, 404, 303, 404),
    "sec2": (200, 200, 404, 200, 404, 200, 404, 303, 404, 200, 200, 404, 303),
    "staff": (200, 200, 200, 200, 200, 200, 303, 303, 200, 200, 200, 303, 303),
}


@pytest.mark.parametrize("who", sorted(DESK_EXPECTED))
async def test_every_ledger_and_setting_route_for_every_role(
    who: str,
    settings: Settings,
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    photos = {
        code: ledger_photo(database, settings, world, code, clock.now()) for code in ("B1", "B2")
    }
    await signed_in(who, client, assistant, world, database, clock)
    found = CSRF.search((await client.get("/console/")).text)
    csrf = found.group(1) if found else ""
    got = []
    for method, path in DESK_ROUTES:
        if method == "GET":
            response = await client.get(path.format(**photos))
        else:
            org = path.partition("?org=")[2]
            data = {"csrf": csrf, "org": org, "key": "notice_time", "value": "08:00"}
            response = await client.post(path, data=data)
        got.append(response.status_code)
    assert tuple(got) == DESK_EXPECTED[who]


# Pairings, alliances and the import: committee staff write, everyone admitted reads the list.
SETUP_ROUTES = (
    ("GET", "/console/structure"),
    ("GET", "/console/structure/pairings/new"),
    ("POST", "/console/structure/pairings/new"),
    ("GET", "/console/structure/pairings/P1"),
    ("POST", "/console/structure/pairings/P1"),
    ("POST", "/console/structure/pairings/P1/end"),
    ("GET", "/console/structure/alliances/new"),
    ("POST", "/console/structure/alliances/new"),
    ("GET", "/console/structure/alliances/ALLY"),
    ("POST", "/console/structure/alliances/ALLY"),
    ("GET", "/console/import"),
    ("POST", "/console/import"),
    ("POST", "/console/import/confirm"),
)
READS_ONLY = (200, *[403] * 12)
SETUP_EXPECTED = {
    "anonymous": (303,) * 13,
    "member": (403,) * 13,
    "liaison": READS_ONLY,
    "deputy": READS_ONLY,
    "sec": READS_ONLY,
    "sec2": READS_ONLY,
    # The forms come back refused (400) for want of their fields, the confirmation for want of
    # a token and the file's digest.
    "staff": (200, 200, 400, 200, 400, 400, 200, 400, 200, 400, 200, 400, 400),
}


@pytest.mark.parametrize("who", sorted(SETUP_EXPECTED))
async def test_every_setup_route_for_every_role(
    who: str,
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await signed_in(who, client, assistant, world, database, clock)
    found = CSRF.search((await client.get("/console/")).text)
    csrf = found.group(1) if found else ""
    got = []
    for method, path in SETUP_ROUTES:
        if method == "GET":
            response = await client.get(path)
        else:
            response = await client.post(path, data={"csrf": csrf, "name": "x"})
        got.append(response.status_code)
    assert tuple(got) == SETUP_EXPECTED[who]
