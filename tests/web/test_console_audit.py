"""The console's audit log: filtered by organization, member and action."""

from __future__ import annotations

import re

import httpx

from bot.core.clock import FrozenClock
from bot.engine.assistant import Assistant
from storage.engine import Database
from tests.factories import World
from tests.services.test_audit_trail import audit
from tests.web.test_console_matrix import signed_in


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
