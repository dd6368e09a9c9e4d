"""Getting into the console: chat links, passwords, sessions, CSRF, scope and escaping."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.core.domain import OrgKind
from bot.engine.assistant import Assistant
from bot.services.console_access import ConsoleAccess
from bot.services.errors import ServiceError
from storage.console import ConsoleSession
from storage.engine import Database
from storage.models import AuditEntry, Member, Organization, Role
from storage.reminders import OutboxMessage, OutboxStatus
from tests.factories import World, add_org
from tests.helpers import Chat
from tests.web.conftest import link_token, sign_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


async def test_a_secretary_signs_in_by_a_chat_link_once(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    token = link_token(assistant, world, "sec")
    first = await client.get(f"/console/enter/{token}")
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    page = await client.get("/console/")
    assert page.status_code == 200 and "总览" in page.text
    client.cookies.clear()
    again = await client.get(f"/console/enter/{token}")
    assert again.status_code == 410 and "链接已失效" in again.text
    with database.session() as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert "console_link" in actions


async def test_a_link_expires_after_ten_minutes(
    client: httpx.AsyncClient, assistant: Assistant, world: World, clock: FrozenClock
) -> None:
    token = link_token(assistant, world, "sec")
    clock.advance(timedelta(minutes=10, seconds=1))
    response = await client.get(f"/console/enter/{token}")
    assert response.status_code == 410


def test_a_plain_member_gets_no_link(assistant: Assistant, world: World) -> None:
    reply = Chat(assistant, user_id="u-m1").bound(world.invites["m1"]).say("后台")
    assert "/console/enter/" not in reply
    assert "管理后台仅供书记" in reply


async def test_without_a_session_pages_send_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/console/", "/console/org/B1", "/console/audit"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"


async def test_a_demoted_secretary_gets_403_everywhere(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    with database.session() as session:
        for role in session.exec(select(Role).where(Role.member_id == world.members["sec"])):
            if role.role != "member":
                session.delete(role)
    for path in ("/console/", "/console/org/B1", "/console/audit"):
        assert (await client.get(path)).status_code == 403, path


async def test_a_branch_secretary_sees_only_their_branch(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    own = await client.get("/console/org/B1")
    assert own.status_code == 200 and "sec" in own.text
    other = await client.get("/console/org/B2")
    assert other.status_code == 404 and "sec2" not in other.text
    assert (await client.get("/console/org/NOPE")).status_code == 404
    overview = await client.get("/console/")
    assert "/console/org/B1" in overview.text and "/console/org/B2" not in overview.text
    assert (await client.get("/console/audit")).status_code == 403


async def test_committee_staff_see_every_branch_and_the_audit_log(
    client: httpx.AsyncClient, database: Database, clock: FrozenClock, world: World
) -> None:
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
    overview = await client.get("/console/")
    for code in ("B1", "B2", "B3"):
        assert f"/console/org/{code}" in overview.text
    assert (await client.get("/console/org/B2")).status_code == 200
    audit = await client.get("/console/audit")
    assert audit.status_code == 200 and "审计" in audit.text


async def test_failed_passwords_are_throttled_per_account(
    client: httpx.AsyncClient, database: Database, clock: FrozenClock, world: World
) -> None:
    with database.session() as session:
        ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30)).add_account(
            login="staff", name="组织委员", org_code="C", password="correct horse battery"
        )

    async def attempt(password: str) -> httpx.Response:
        form = await client.get("/console/login")
        token = FORM_TOKEN.search(form.text)
        assert token
        return await client.post(
            "/console/login",
            data={"form_token": token.group(1), "login": "staff", "password": password},
        )

    for _ in range(5):
        assert (await attempt("wrong")).status_code == 401
    # The right password no longer helps until the window passes.
    assert (await attempt("correct horse battery")).status_code == 429
    clock.advance(timedelta(minutes=16))
    assert (await attempt("correct horse battery")).status_code == 303


async def test_login_without_the_form_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/console/login", data={"login": "x", "password": "y"})
    assert response.status_code == 403


async def test_logout_needs_the_csrf_token_and_can_end_every_session(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/")
    csrf = CSRF.search(page.text)
    assert csrf
    forged = await client.post("/console/logout", data={"everywhere": "1"})
    assert forged.status_code == 403
    assert (await client.get("/console/")).status_code == 200
    done = await client.post("/console/logout", data={"csrf": csrf.group(1), "everywhere": "1"})
    assert done.status_code == 303
    with database.session() as session:
        live = session.exec(select(ConsoleSession).where(ConsoleSession.ended_at == None)).all()  # noqa: E711
    assert live == []
    assert (await client.get("/console/")).status_code == 303


async def test_an_idle_session_ends(
    client: httpx.AsyncClient, assistant: Assistant, world: World, clock: FrozenClock
) -> None:
    await sign_in(client, assistant, world, "sec")
    clock.advance(timedelta(minutes=29))
    assert (await client.get("/console/")).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert (await client.get("/console/")).status_code == 303


async def test_each_sign_in_gets_a_new_session_id(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    first = (await client.get(f"/console/enter/{link_token(assistant, world, 'sec')}")).cookies
    second = (await client.get(f"/console/enter/{link_token(assistant, world, 'sec')}")).cookies
    assert first["gj_console"] != second["gj_console"]


async def test_member_text_is_escaped(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    with database.session() as session:
        member = session.get_one(Member, world.members["m1"])
        member.name = "<script>alert(1)</script>"
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/org/B1")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_pages_carry_protective_headers(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    static = await client.get("/console/static/console.css")
    assert static.status_code == 200 and "max-age" in static.headers["cache-control"]


async def test_english_by_choice(
    client: httpx.AsyncClient, assistant: Assistant, world: World
) -> None:
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/?lang=en")
    assert "Overview" in page.text and "gj_lang=en" in page.headers["set-cookie"]
    assert "Overview" in (await client.get("/console/")).text


def test_weak_passwords_and_taken_logins_are_refused(
    database: Database, clock: FrozenClock, world: World
) -> None:
    with database.session() as session:
        access = ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30))
        with pytest.raises(ServiceError, match="console_weak_password"):
            access.add_account(login="a", name="A", org_code="C", password="short")
        access.add_account(login="a", name="A", org_code="C", password="long enough password")
        with pytest.raises(ServiceError, match="console_login_taken"):
            access.add_account(login="A", name="B", org_code="C", password="another long one!")


async def test_dead_pushes_in_scope_are_requeued_with_the_csrf_token(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    with database.session() as session:
        for name in ("m1", "m3"):
            session.add(
                OutboxMessage(
                    key=f"k-{name}",
                    rule="orglife_notice",
                    subject="s",
                    period="2026-11",
                    member_id=world.members[name],
                    urgent=False,
                    text=f"提醒 {name}",
                    status=OutboxStatus.DEAD,
                    attempts=5,
                    created_at=clock.now(),
                    next_attempt_at=clock.now(),
                    last_error="blocked",
                )
            )
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/reminders?status=dead")
    assert "提醒 m1" in page.text and "提醒 m3" not in page.text
    csrf = CSRF.search(page.text)
    assert csrf
    assert (await client.post("/console/reminders/requeue", data={})).status_code == 403
    done = await client.post("/console/reminders/requeue", data={"csrf": csrf.group(1)})
    assert done.status_code == 303 and done.headers["location"].endswith("requeued=1")
    with database.session() as session:
        states = {row.text: row.status for row in session.exec(select(OutboxMessage)).all()}
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "outbox.requeue"))
    assert states == {"提醒 m1": OutboxStatus.PENDING, "提醒 m3": OutboxStatus.DEAD}
    assert audit.actor_id == world.members["sec"] and audit.detail == '{"requeued": 1}'
    assert audit.subject == f"orgs:{world.orgs['B1']}"


def test_staff_scope_follows_the_tree_as_it_changes(
    database: Database, clock: FrozenClock, world: World
) -> None:
    """The scope is read afresh each time: a branch moved out or added is out or in at once."""

    def scope() -> frozenset[int]:
        with database.session() as session:
            access = ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30))
            return access.subtree(world.orgs["C"])

    before = scope()
    assert {world.orgs["C"], world.orgs["B1"], world.orgs["B2"]} <= before
    assert scope() == before
    with database.session() as session:
        moved = session.get_one(Organization, world.orgs["B2"])
        moved.parent_id = None
        session.add(moved)
    assert world.orgs["B2"] not in scope()
    with database.session() as session:
        added = add_org(
            session,
            code="B9",
            name="新支部",
            kind=OrgKind.BRANCH,
            parent=world.orgs["B1"],
            now=clock.now(),
        )
    assert scope() == (before - {world.orgs["B2"]}) | {added}
