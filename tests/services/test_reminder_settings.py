"""An organization's reminder settings: inherited values, its own, refusals, and the scheduler."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from bot.services.errors import ServiceError
from bot.services.obligations.rules import Rule
from bot.services.reminder_settings import (
    Source,
    clear_org_reminder_setting,
    org_reminder_settings,
    set_org_reminder_setting,
)
from storage.engine import Database
from storage.models import AuditEntry
from storage.reminders import ReminderSetting, alliance_scope, set_reminder_setting
from tests.factories import World
from tests.scheduler.test_rules import give_accounts, who
from tests.services.test_stats import at


def values(database: Database, org_id: int) -> dict[str, tuple[str, Source, str]]:
    """Reads an organization's settings as name → (value, source, inherited)."""
    with database.session() as session:
        return {
            s.name: (s.value, s.source, s.inherited)
            for s in org_reminder_settings(session, org_id=org_id)
        }


def test_values_come_from_the_org_then_the_alliance_then_everyone(
    database: Database, world: World
) -> None:
    b1 = world.orgs["B1"]
    assert values(database, b1)["theme_lead_days"] == ("14,3", Source.BUILT_IN, "14,3")
    with database.session() as session:
        set_reminder_setting(session=session, scope="default", name="notice_time", value="08:00")
        set_reminder_setting(
            session=session,
            scope=alliance_scope(world.alliance_id),
            name="theme_lead_days",
            value="7",
        )
        set_reminder_setting(session=session, scope="default", name="opinion_day", value="x")
        stored = set_org_reminder_setting(
            session,
            org_id=b1,
            name="theme_lead_days",
            value=" 3，21 ",
            now=at(2026, 11, 3),
            actor_id=world.members["sec"],
        )
    assert stored == "21,3"
    found = values(database, b1)
    assert found["theme_lead_days"] == ("21,3", Source.ORG, "7")
    assert found["notice_time"] == ("08:00", Source.DEFAULT, "08:00")
    # A stored value the scheduler cannot read is ignored here as there.
    assert found["opinion_day"] == ("20", Source.BUILT_IN, "20")
    assert values(database, world.orgs["B2"])["theme_lead_days"] == ("7", Source.ALLIANCE, "7")
    with database.session() as session:
        assert clear_org_reminder_setting(
            session, org_id=b1, name="theme_lead_days", now=at(2026, 11, 4), actor_id=None
        )
        assert not clear_org_reminder_setting(
            session, org_id=b1, name="theme_lead_days", now=at(2026, 11, 4), actor_id=None
        )
        entries = session.exec(select(AuditEntry).order_by(AuditEntry.at)).all()
    assert values(database, b1)["theme_lead_days"] == ("7", Source.ALLIANCE, "7")
    assert [(e.action, json.loads(e.detail)) for e in entries] == [
        ("reminder.set", {"before": None, "after": "21,3"}),
        ("reminder.clear", {"before": "21,3", "after": None}),
    ]
    assert entries[0].subject == f"org:{b1}:theme_lead_days"


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("notice_time", "25:00", "bad_time"),
        ("theme_lead_days", "0,3", "bad_lead_days"),
        ("ledger_window_days", "32", "bad_day_count"),
        ("opinion_day", "abc", "bad_day_count"),
        ("visit_target", "1", "reminder_setting_unknown"),
        ("joint_meeting_every_days", "3", "reminder_setting_unknown"),
    ],
)
def test_bad_values_and_settings_not_an_organizations_are_refused(
    database: Database, world: World, name: str, value: str, code: str
) -> None:
    with database.session() as session:
        with pytest.raises(ServiceError) as refused:
            set_org_reminder_setting(
                session,
                org_id=world.orgs["B1"],
                name=name,
                value=value,
                now=at(2026, 11, 3),
                actor_id=None,
            )
        assert refused.value.code == code
        assert session.exec(select(ReminderSetting)).all() == []


def test_the_scheduler_follows_an_organizations_ledger_window(
    database: Database, world: World
) -> None:
    give_accounts(database, world)
    with database.session() as session:
        set_org_reminder_setting(
            session,
            org_id=world.orgs["B1"],
            name="ledger_window_days",
            value="31",
            now=at(2026, 11, 3),
            actor_id=None,
        )

    # The last 31 days of the quarter start on 1 December; everyone else's 10 on the 22nd.
    assert who(database, world, at(2026, 12, 5, 10), Rule.LEDGER) == {"sec", "liaison"}
    assert "sec2" in who(database, world, at(2026, 12, 22, 10), Rule.LEDGER)
