"""The member desk: invites with a QR code, a member's data exported or erased, in scope only."""

from __future__ import annotations

import json
import re

import httpx
from sqlmodel import select

from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import AuditEntry, Invite, Member
from tests.factories import World
from tests.web.conftest import sign_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def csrf_of(client: httpx.AsyncClient, path: str = "/console/org/B1") -> str:
    """Reads the session's form token from a page."""
    found = CSRF.search((await client.get(path)).text)
    assert found
    return found.group(1)


async def test_a_secretary_invites_a_member_and_gets_a_qr_code(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    page = await client.post(
        "/console/org/B1/invites", data={"csrf": csrf, "name": "新同志", "role": "member"}
    )
    assert page.status_code == 200 and "<svg" in page.text and "绑定 " in page.text
    with database.session() as session:
        invite = session.exec(select(Invite).where(Invite.name == "新同志")).one()
        assert invite.organization_id == world.orgs["B1"]
        assert invite.created_by == world.members["sec"]
    assert invite.code in page.text


async def test_an_invite_needs_scope_role_and_csrf(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    other = await client.post(
        "/console/org/B2/invites", data={"csrf": csrf, "name": "x", "role": "member"}
    )
    assert other.status_code == 404
    secretary = await client.post(
        "/console/org/B1/invites", data={"csrf": csrf, "name": "x", "role": "secretary"}
    )
    assert secretary.status_code == 403
    unknown = await client.post(
        "/console/org/B1/invites", data={"csrf": csrf, "name": "x", "role": "<script>"}
    )
    assert unknown.status_code == 403
    forged = await client.post("/console/org/B1/invites", data={"name": "x", "role": "member"})
    assert forged.status_code == 403


async def test_a_liaison_cannot_invite(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "liaison")
    page = await client.get("/console/org/B1")
    assert "/invites" not in page.text
    csrf = await csrf_of(client, "/console/")
    refused = await client.post(
        "/console/org/B1/invites", data={"csrf": csrf, "name": "x", "role": "member"}
    )
    assert refused.status_code == 403 and "无权访问" in refused.text


async def test_a_liaison_sees_the_branch_but_may_not_export_or_erase(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "liaison")
    csrf = await csrf_of(client, "/console/")
    m1, m3 = world.members["m1"], world.members["m3"]
    for action in ("export", "erase"):
        # B1 is in the liaison's scope: refused, and the page says why.
        own = await client.post(
            f"/console/org/B1/members/{m1}/{action}", data={"csrf": csrf, "confirm": "1"}
        )
        assert own.status_code == 403 and "无权访问" in own.text
        # B2 is not: as if it did not exist.
        other = await client.post(
            f"/console/org/B2/members/{m3}/{action}", data={"csrf": csrf, "confirm": "1"}
        )
        assert other.status_code == 404
    with database.session() as session:
        assert session.get_one(Member, m1).name == "m1"


async def test_export_and_erase_a_members_data(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    m1 = world.members["m1"]
    exported = await client.post(f"/console/org/B1/members/{m1}/export", data={"csrf": csrf})
    assert exported.status_code == 200
    assert json.loads(exported.text)["member_id"] == m1
    unconfirmed = await client.post(f"/console/org/B1/members/{m1}/erase", data={"csrf": csrf})
    assert unconfirmed.status_code == 403
    erased = await client.post(
        f"/console/org/B1/members/{m1}/erase", data={"csrf": csrf, "confirm": "1"}
    )
    assert erased.status_code == 303
    with database.session() as session:
        assert session.get_one(Member, m1).name != "m1"
        actions = set(session.exec(select(AuditEntry.action)).all())
    assert {"member.export", "member.delete"} <= actions


async def test_a_member_of_another_branch_is_not_found(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    m3 = world.members["m3"]
    for action in ("export", "erase"):
        for org in ("B1", "B2"):
            response = await client.post(
                f"/console/org/{org}/members/{m3}/{action}", data={"csrf": csrf, "confirm": "1"}
            )
            assert response.status_code == 404
