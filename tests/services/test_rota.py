"""The rotation: theme days by month or quarter, conveners by quarter, executive terms, overrides."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.core.domain import Duty, DutyPeriod
from bot.services.audit_trail import act_for_account
from bot.services.console_access import ConsoleAccess
from bot.services.errors import ServiceError
from bot.services.rota import Rota, months_between, parse_period
from storage.engine import Database
from storage.models import Alliance, AuditEntry
from tests.factories import World

NOW = datetime(2026, 11, 3, 1, 30, tzinfo=UTC)


def codes(rota: Rota, alliance: Alliance, duty: Duty, days: list[date]) -> list[str]:
    return [rota.slot(alliance, duty, day).org.code for day in days]


def test_months_between() -> None:
    assert months_between(date(2026, 1, 1), date(2026, 11, 30)) == 10
    assert months_between(date(2026, 1, 1), date(2025, 12, 1)) == -1


def test_monthly_theme_days_cycle_through_every_unit(database: Database, world: World) -> None:
    with database.session() as session:
        rota = Rota(session, NOW)
        alliance = session.get_one(Alliance, world.alliance_id)
        months = [date(2026, m, 15) for m in range(1, 7)]
        assert codes(rota, alliance, Duty.THEME_DAY, months) == ["B1", "B2", "B3", "B4", "B1", "B2"]
        # Before the rota started the cycle runs backwards consistently.
        assert codes(rota, alliance, Duty.THEME_DAY, [date(2025, 12, 1)]) == ["B4"]


def test_quarterly_theme_days_and_conveners_only_presidents(
    database: Database, world: World
) -> None:
    with database.session() as session:
        rota = Rota(session, NOW)
        alliance = session.get_one(Alliance, world.alliance_id)
        alliance.duty_period = DutyPeriod.QUARTER
        quarters = [
            date(2026, 2, 1),
            date(2026, 5, 1),
            date(2026, 8, 1),
            date(2026, 11, 1),
            date(2027, 2, 1),
        ]
        assert codes(rota, alliance, Duty.THEME_DAY, quarters) == ["B1", "B2", "B3", "B4", "B1"]
        # 001: the executive president unit convenes (B1 for 2026, B2 for 2027) ...
        assert codes(rota, alliance, Duty.CONVENER, quarters) == ["B1", "B1", "B1", "B1", "B2"]
        # ... unless the alliance has its president units convene in turn, by quarter.
        alliance.convener_rotation = True
        assert codes(rota, alliance, Duty.CONVENER, quarters) == ["B1", "B2", "B3", "B1", "B2"]
        slot = rota.slot(alliance, Duty.THEME_DAY, date(2026, 11, 20))
        assert (slot.period, slot.first_day, slot.last_day) == (
            "2026Q4",
            date(2026, 10, 1),
            date(2026, 12, 31),
        )


def test_executive_term(database: Database, world: World) -> None:
    with database.session() as session:
        rota = Rota(session, NOW)
        alliance = session.get_one(Alliance, world.alliance_id)
        assert codes(
            rota, alliance, Duty.EXECUTIVE, [date(2026, 12, 31), date(2027, 1, 1), date(2028, 6, 1)]
        ) == ["B1", "B2", "B3"]
        alliance.executive_term_months = 6
        slot = rota.slot(alliance, Duty.EXECUTIVE, date(2026, 8, 1))
        assert (slot.org.code, slot.first_day, slot.last_day) == (
            "B2",
            date(2026, 7, 1),
            date(2026, 12, 31),
        )


def test_plan_lists_a_year(database: Database, world: World) -> None:
    with database.session() as session:
        rota = Rota(session, NOW)
        alliance = session.get_one(Alliance, world.alliance_id)
        plan = rota.plan(alliance, 2027)
        assert [s.duty for s in plan].count(Duty.THEME_DAY) == 12
        assert [s.duty for s in plan].count(Duty.CONVENER) == 4
        assert [s.duty for s in plan].count(Duty.EXECUTIVE) == 1


def test_override_validation(database: Database, world: World) -> None:
    with database.session() as session:
        rota = Rota(session, NOW)
        alliance = session.get_one(Alliance, world.alliance_id)
        period = parse_period(Duty.CONVENER, "2027Q1", alliance.duty_period)
        with pytest.raises(ServiceError, match="not_president_unit"):
            rota.override(
                alliance=alliance,
                duty=Duty.CONVENER,
                period=period,
                org_id=world.orgs["B4"],
                reason="r",
                actor_id=None,
            )
        with pytest.raises(ServiceError, match="not_in_alliance"):
            rota.override(
                alliance=alliance,
                duty=Duty.CONVENER,
                period=period,
                org_id=world.orgs["C"],
                reason="r",
                actor_id=None,
            )
        rota.override(
            alliance=alliance,
            duty=Duty.CONVENER,
            period=period,
            org_id=world.orgs["B3"],
            reason="first",
            actor_id=None,
        )
        rota.override(
            alliance=alliance,
            duty=Duty.CONVENER,
            period=period,
            org_id=world.orgs["B2"],
            reason="second",
            actor_id=None,
        )
        slot = rota.slot(alliance, Duty.CONVENER, date(2027, 1, 1))
        assert (slot.org.code, slot.reason, slot.overridden) == ("B2", "second", True)


def test_an_override_is_audited_readably_and_for_the_console_account(
    database: Database, world: World
) -> None:
    with database.session() as session:
        staff = ConsoleAccess(session, NOW, idle=timedelta(minutes=30)).add_account(
            login="staff", name="组织委员", org_code="C", password="correct horse battery"
        )
        act_for_account(session, staff)
        alliance = session.get_one(Alliance, world.alliance_id)
        subject = f"alliance:{alliance.code}:convener:2027Q1"
        Rota(session, NOW).override(
            alliance=alliance,
            duty=Duty.CONVENER,
            period=parse_period(Duty.CONVENER, "2027Q1", alliance.duty_period),
            org_id=world.orgs["B3"],
            reason="换届调整",
            actor_id=None,
        )
    with database.session() as session:
        entry = session.exec(select(AuditEntry)).one()
    assert (entry.action, entry.subject) == ("rota.override", subject)
    assert (entry.actor_id, entry.account_id) == (None, staff)
    assert json.loads(entry.detail) == {"organization_id": world.orgs["B3"], "reason": "换届调整"}
    assert "换届调整" in entry.detail


@pytest.mark.parametrize("text", ["2026", "2026-13", "abc", "2026Q5"])
def test_parse_period_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(Duty.THEME_DAY, text, DutyPeriod.MONTH)
