"""The use cases the command line calls: roster of a year, duty changes, report targets, the tree."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.core.domain import Duty
from bot.services.compliance import Subject
from bot.services.errors import ServiceError
from bot.services.use_cases import ReportTarget, Services
from storage.engine import Database
from storage.models import RotaOverride
from tests.factories import World, build_world
from tests.services.test_compliance import HOLIDAYS
from tests.services.test_stats import SH, at

NOW = at(2026, 11, 20, 10)


@pytest.fixture
def world(database: Database) -> World:
    """The small test world: four branches in an alliance, two of them paired."""
    return build_world(database, NOW)


@contextmanager
def use_cases(database: Database, settings: Settings) -> Iterator[Services]:
    """Opens the use cases over one unit of work."""
    with database.session() as session:
        yield Services(session, now=NOW, tz=SH, holidays=HOLIDAYS, settings=settings)


def test_year_roster_lists_every_slot_and_each_quarters_host(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        org = services.org_by_code("b1")
        assert org is not None
        roster = services.year_roster(org, 2026)
    [alliance] = roster.alliances
    duties = [slot.duty for slot in alliance.slots]
    assert (duties.count(Duty.THEME_DAY), duties.count(Duty.CONVENER)) == (12, 4)
    assert alliance.code == "ALLY"
    [pairing] = roster.pairings
    assert [str(quarter) for quarter, _ in pairing.hosts] == [
        "2026Q1",
        "2026Q2",
        "2026Q3",
        "2026Q4",
    ]


def test_an_executive_change_named_by_any_month_changes_the_whole_term(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        [changed] = services.change_duty(
            alliance_code="ally",
            duty=Duty.EXECUTIVE,
            period_text="2026-07",
            org_code="B3",
            reason="换届",
        )
    assert (changed.period, changed.org.code, changed.overridden) == ("2026-01", "B3", True)
    with database.session() as session:
        [row] = session.exec(select(RotaOverride)).all()
    assert row.period == "2026-01"


def test_a_swap_returns_both_slots(database: Database, settings: Settings, world: World) -> None:
    with use_cases(database, settings) as services:
        first, second = services.change_duty(
            alliance_code="ALLY",
            duty=Duty.THEME_DAY,
            period_text="2026-12",
            swap_with="2027-01",
            reason="调换",
        )
    assert (first.period, second.period) == ("2026-12", "2027-01")
    assert second.scheduled_org is not None
    assert first.org.code == second.scheduled_org.code


@pytest.mark.parametrize(
    ("alliance", "org", "code"),
    [("NOPE", "B2", "alliance_unknown"), ("ALLY", "NOPE", "org_unknown")],
)
def test_unknown_codes_are_refused_and_change_nothing(
    database: Database, settings: Settings, world: World, alliance: str, org: str, code: str
) -> None:
    with use_cases(database, settings) as services, pytest.raises(ServiceError) as refused:
        services.change_duty(
            alliance_code=alliance,
            duty=Duty.THEME_DAY,
            period_text="2026-12",
            org_code=org,
            reason="试试",
        )
    assert refused.value.code == code
    with database.session() as session:
        assert session.exec(select(RotaOverride)).all() == []


def test_report_targets_name_an_org_or_a_group_through_its_lead(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        assert services.report_target("b2") == ReportTarget(world.orgs["B2"], "第2支部")
        assert services.report_target("ally") == ReportTarget(
            world.orgs["B1"], "红湾联盟", (Subject.ALLIANCE, "ALLY")
        )
        assert services.report_target("P1") == ReportTarget(
            world.orgs["B1"], "一支部-二支部结对", (Subject.PAIRING, "P1")
        )
        assert services.report_target("NOPE") is None


def test_the_tree_gives_each_organization_its_parents_code(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        tree = {entry.org.code: entry.parent_code for entry in services.org_tree()}
    assert tree == {"B1": "C", "B2": "C", "B3": "C", "B4": "C", "C": None}
