"""An organization's settings on the 提醒 page: managers change them, liaisons read them."""

from __future__ import annotations

import re

import httpx
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import AuditEntry, Organization
from storage.reminders import ReminderSetting
from tests.factories import World
from tests.helpers import Chat
from tests.web.conftest import sign_in
from tests.web.test_console_matrix import signed_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def csrf_of(client: httpx.AsyncClient) -> str:
    """Reads the session's form token from the overview."""
    found = CSRF.search((await client.get("/console/")).text)
    assert found
    return found.group(1)


def setting_row(page: str, label: str) -> str:
    """Returns the text of the settings row whose heading is `label`."""
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if label in r)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()


async def test_a_secretary_changes_a_reminder_setting_and_returns_it(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    page = await client.get("/console/reminders")
    assert page.status_code == 200 and 'id="settings"' in page.text
    assert 'action="/console/reminders/settings"' in page.text
    csrf = await csrf_of(client)
    saved = await client.post(
        "/console/reminders/settings",
        data={"csrf": csrf, "org": "B1", "key": "theme_lead_days", "value": "3,21"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/reminders?org=B1&saved=theme_lead_days#settings"
    page = await client.get(saved.headers["location"])
    assert 'role="status"' in page.text
    with database.session() as session:
        row = session.exec(select(ReminderSetting)).one()
        assert (row.scope, row.name, row.value) == (
            f"org:{world.orgs['B1']}",
            "theme_lead_days",
            "21,3",
        )
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "reminder.set")).one()
        assert entry.actor_id == world.members["sec"]
    assert 'name="reset"' in page.text
    back = await client.post(
        "/console/reminders/settings",
        data={"csrf": csrf, "org": "B1", "key": "theme_lead_days", "value": "", "reset": "1"},
    )
    assert back.status_code == 303
    with database.session() as session:
        assert session.exec(select(ReminderSetting)).all() == []


async def test_org_life_time_is_changed_through_the_branch_settings(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    saved = await client.post(
        "/console/reminders/settings",
        data={"csrf": csrf, "org": "B1", "key": "orglife.time", "value": "8：30"},
    )
    assert saved.status_code == 303
    with database.session() as session:
        assert session.get_one(Organization, world.orgs["B1"]).orglife_time == "08:30"
        actions = session.exec(select(AuditEntry.action)).all()
    assert "org.set" in actions
    named = await client.post(
        "/console/reminders/settings",
        data={"csrf": csrf, "org": "B1", "key": "liaison", "value": "m1"},
    )
    assert named.status_code == 303
    assert "m1" in (await client.get("/console/reminders")).text


async def test_a_new_org_life_time_moves_the_days_planned_at_the_old_one(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    sec = Chat(assistant, user_id="u-sec")
    # 日程 stores the org-life days of the coming months.
    assert "2026年12月1日（星期二）09:00" in sec.say("日程")
    saved = await client.post(
        "/console/reminders/settings",
        data={"csrf": await csrf_of(client), "org": "B1", "key": "orglife.time", "value": "15:00"},
    )
    assert saved.status_code == 303
    assert "2026年12月1日（星期二）15:00" in sec.say("日程")
    with database.session() as session:
        actors = session.exec(
            select(AuditEntry.actor_id).where(AuditEntry.action == "meeting.reschedule")
        ).all()
    assert actors and set(actors) == {world.members["sec"]}


async def test_bad_values_are_explained_and_nothing_is_stored(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    csrf = await csrf_of(client)
    for key, value in (
        ("orglife.time", "25:00"),
        ("notice_time", "<b>9</b>"),
        ("ledger_window_days", "99"),
        ("visit_target", "1"),
        ("liaison", "nobody"),
    ):
        refused = await client.post(
            "/console/reminders/settings",
            data={"csrf": csrf, "org": "B1", "key": key, "value": value},
        )
        assert refused.status_code == 400, key
        assert 'role="alert"' in refused.text and "<b>9</b>" not in refused.text
    with database.session() as session:
        assert session.exec(select(ReminderSetting)).all() == []
        assert session.get_one(Organization, world.orgs["B1"]).orglife_time != "25:00"
        assert session.exec(select(AuditEntry.action)).all() == ["console_link"]


async def test_a_liaison_reads_the_settings_but_cannot_change_them(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "liaison")
    page = await client.get("/console/reminders")
    assert page.status_code == 200 and 'id="settings"' in page.text
    assert "/console/reminders/settings" not in page.text
    assert "14,3" in setting_row(page.text, "主题党日轮值：提前几天提醒")
    refused = await client.post(
        "/console/reminders/settings",
        data={"csrf": await csrf_of(client), "org": "B1", "key": "notice_time", "value": "8:00"},
    )
    assert refused.status_code == 403
    with database.session() as session:
        assert session.exec(select(ReminderSetting)).all() == []


async def test_another_organizations_settings_are_not_found(
    client: httpx.AsyncClient, assistant: Assistant, world: World, database: Database
) -> None:
    await sign_in(client, assistant, world, "sec")
    assert (await client.get("/console/reminders?org=B2")).status_code == 404
    assert (await client.get("/console/reminders?org=NOPE")).status_code == 404
    csrf = await csrf_of(client)
    refused = await client.post(
        "/console/reminders/settings",
        data={"csrf": csrf, "org": "B2", "key": "notice_time", "value": "08:00"},
    )
    assert refused.status_code == 404
    forged = await client.post(
        "/console/reminders/settings", data={"org": "B1", "key": "notice_time", "value": "08:00"}
    )
    assert forged.status_code == 403
    with database.session() as session:
        assert session.exec(select(ReminderSetting)).all() == []


async def test_committee_staff_set_an_organization_under_them(
    client: httpx.AsyncClient,
    assistant: Assistant,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    await signed_in("staff", client, assistant, world, database, clock)
    page = await client.get("/console/reminders?org=B2")
    assert page.status_code == 200 and "第2支部" in page.text
    assert '<option value="B3"' in page.text
    saved = await client.post(
        "/console/reminders/settings",
        data={"csrf": await csrf_of(client), "org": "B2", "key": "notice_time", "value": "8:15"},
    )
    assert saved.status_code == 303
    with database.session() as session:
        row = session.exec(select(ReminderSetting)).one()
    assert (row.scope, row.value) == (f"org:{world.orgs['B2']}", "08:15")
