"""The console's audit log: filtered by organization, member and action."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.core.domain import OrgKind
from bot.engine.assistant import Assistant
from bot.services.console_access import ConsoleAccess
from storage.console import ConsoleAccount
from storage.engine import Database
from storage.models import AuditEntry
from tests.factories import World, add_org
from tests.services.test_audit_trail import audit
from tests.web.test_console_matrix import CSRF, FORM_TOKEN, signed_in


def actors(page: str) -> list[str]:
    """Lists the Who column of the audit table, top to bottom."""
    return re.findall(r"<tr><td>[^<]*</td><td>([^<(]+) \(", page)


async def test_the_audit_log_filters_by_member_organization_and_action(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    with database.session() as session:
        audit(session, world, "sec", "org.set", 1)
        audit(session, world, "deputy", "filing.submit", 2)
        audit(session, world, "sec2", "filing.submit", 3)
    await signed_in("staff", client, assistant, world, database, clock)
    everything = await client.get("/console/audit")
    assert actors(everything.text) == ["sec2", "deputy", "sec"]
    assert 'name="member"' in everything.text
    by_member = await client.get("/console/audit", params={"member": "deputy"})
    assert actors(by_member.text) == ["deputy"]
    assert 'value="deputy"' in by_member.text
    by_part = await client.get("/console/audit", params={"member": "sec"})
    assert actors(by_part.text) == ["sec2", "sec"]
    by_org = await client.get("/console/audit", params={"member": "sec", "org": "B1"})
    assert actors(by_org.text) == ["sec"]
    combined = await client.get(
        "/console/audit", params={"member": "sec", "action": "filing.submit"}
    )
    assert actors(combined.text) == ["sec2"]
    nobody = await client.get("/console/audit", params={"member": "<i>x</i>"})
    assert actors(nobody.text) == [] and "<i>x</i>" not in nobody.text


async def sign_in_as_account(client: httpx.AsyncClient, login: str, password: str) -> None:
    """Signs a console account in with its password (any other session is dropped first)."""
    client.cookies.clear()
    form = await client.get("/console/login")
    found = FORM_TOKEN.search(form.text)
    assert found
    signed = await client.post(
        "/console/login",
        data={"form_token": found.group(1), "login": login, "password": password},
    )
    assert signed.status_code == 303


async def test_a_staff_accounts_change_shows_in_its_committees_audit_log_only(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    with database.session() as session:
        add_org(
            session,
            code="C2",
            name="另一党工委",
            kind=OrgKind.COMMITTEE,
            parent=None,
            now=clock.now(),
        )
        ConsoleAccess(session, clock.now(), idle=timedelta(minutes=30)).add_account(
            login="other", name="另一委员", org_code="C2", password="another horse battery"
        )
    await signed_in("staff", client, assistant, world, database, clock)
    csrf = CSRF.search((await client.get("/console/")).text)
    assert csrf
    saved = await client.post(
        "/console/reminders/settings",
        data={"csrf": csrf.group(1), "org": "B2", "key": "notice_time", "value": "8:15"},
    )
    assert saved.status_code == 303
    with database.session() as session:
        [entry] = session.exec(select(AuditEntry)).all()
        account = session.exec(select(ConsoleAccount).where(ConsoleAccount.login == "staff")).one()
    assert (entry.action, entry.actor_id, entry.account_id) == ("reminder.set", None, account.id)
    page = await client.get("/console/audit")
    assert actors(page.text) == ["组织委员"]
    assert "组织委员 (C) <span" in page.text and "后台账号" in page.text
    assert actors((await client.get("/console/audit", params={"member": "组织"})).text) == [
        "组织委员"
    ]
    await sign_in_as_account(client, "other", "another horse battery")
    elsewhere = await client.get("/console/audit")
    assert elsewhere.status_code == 200 and actors(elsewhere.text) == []
