"""Setting up an alliance: 001's 5-7 president units, the convener, one audited writer for every door."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import select

from bot.core.domain import Duty, OrgKind, UnitKind
from bot.services.errors import ServiceError
from bot.services.obligations.facts import load_facts
from bot.services.rota import Rota
from bot.services.structure import AllianceSpec, save_alliance
from bot.texts.translation import translator
from handlers.errors import explain
from storage.engine import Database
from storage.models import Alliance, AllianceUnit, AuditEntry, RotaOverride
from tests.factories import add_org
from tests.scheduler.test_rules import HOLIDAYS, at

NOW = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)


def branches(database: Database, count: int) -> list[str]:
    """Stores `count` branches and returns their codes (U1, U2, ...)."""
    with database.session() as session:
        for n in range(1, count + 1):
            add_org(
                session, code=f"U{n}", name=f"单位{n}", kind=OrgKind.BRANCH, parent=None, now=NOW
            )
    return [f"U{n}" for n in range(1, count + 1)]


def spec(
    code: str, presidents: Sequence[str], members: Sequence[str] = (), **more: Any
) -> AllianceSpec:
    """An alliance starting in January 2026."""
    return AllianceSpec(
        code=code,
        name="联盟",
        presidents=tuple(presidents),
        members=tuple(members),
        rota_start=date(2026, 1, 1),
        **more,
    )


def save(database: Database, alliance: AllianceSpec) -> bool:
    """Creates an alliance in its own transaction."""
    with database.session() as session:
        return save_alliance(session, spec=alliance, now=NOW, actor_id=None, replace=False)


@pytest.mark.parametrize("presidents", [4, 8])
def test_president_units_outside_five_to_seven_are_refused(
    database: Database, presidents: int
) -> None:
    orgs = branches(database, 9)
    with pytest.raises(ServiceError) as refused:
        save(database, spec("ally", orgs[:presidents], orgs[presidents:]))
    assert refused.value.code == "alliance_presidents"
    assert explain(translator("zh_CN"), refused.value) == (
        f"党建联盟的会长单位应为5至7个，现为{presidents}个。"
    )
    assert f"{presidents} were given" in explain(translator("en"), refused.value)
    with database.session() as session:
        assert session.exec(select(Alliance)).all() == []


def test_an_alliance_is_created_with_its_units_and_audited(database: Database) -> None:
    orgs = branches(database, 7)
    assert save(database, spec("ally", orgs[:5], orgs[5:]))
    with database.session() as session:
        alliance = session.exec(select(Alliance)).one()
        assert (alliance.code, alliance.convener_rotation) == ("ALLY", False)
        units = session.exec(
            select(AllianceUnit.organization_id, AllianceUnit.kind).order_by(
                AllianceUnit.rotation_order  # type: ignore[arg-type]
            )
        ).all()
        assert [kind for _, kind in units] == [UnitKind.PRESIDENT] * 5 + [UnitKind.MEMBER] * 2
        [audit] = session.exec(select(AuditEntry)).all()
        assert (audit.action, audit.subject) == ("alliance.add", "alliance:ALLY")
    with pytest.raises(ServiceError) as again:
        save(database, spec("ALLY", orgs[:5]))
    assert again.value.code == "alliance_exists"
    with pytest.raises(ServiceError) as twice:
        save(database, spec("OTHER", orgs[:5], orgs[4:]))
    assert twice.value.code == "units_listed_twice"


def test_the_executive_president_unit_convenes_unless_the_alliance_rotates_it(
    database: Database,
) -> None:
    orgs = branches(database, 6)
    save(database, spec("ally", orgs[:5], orgs[5:], executive_term_months=6))
    with database.session() as session:
        alliance = session.exec(select(Alliance)).one()
        assert alliance.id is not None
        ids = {org.code: org.id for org in Rota(session, NOW).units(alliance)}
        session.add(
            RotaOverride(
                alliance_id=alliance.id,
                duty=Duty.EXECUTIVE,
                period="2026-07",
                organization_id=ids["U5"],
                reason="换届",
                created_at=NOW,
            )
        )
    quarters = [date(2026, 2, 1), date(2026, 5, 1), date(2026, 8, 1), date(2026, 11, 1)]
    with database.session() as session:
        alliance = session.exec(select(Alliance)).one()
        rota = Rota(session, NOW)
        expected = [ids["U1"], ids["U1"], ids["U5"], ids["U5"]]
        assert [rota.slot(alliance, Duty.CONVENER, day).org.id for day in quarters] == expected
        facts = load_facts(session, now=at(2026, 11, 3, 9), holidays=HOLIDAYS)
        [fact] = facts.alliances
        assert [fact.duty(Duty.CONVENER, day).org_id for day in quarters] == expected  # type: ignore[union-attr]
        alliance.convener_rotation = True
        session.add(alliance)
    with database.session() as session:
        alliance = session.exec(select(Alliance)).one()
        rotating = [ids["U1"], ids["U2"], ids["U3"], ids["U4"]]
        rota = Rota(session, NOW)
        assert [rota.slot(alliance, Duty.CONVENER, day).org.id for day in quarters] == rotating
        facts = load_facts(session, now=at(2026, 11, 3, 9), holidays=HOLIDAYS)
        [fact] = facts.alliances
        assert [fact.duty(Duty.CONVENER, day).org_id for day in quarters] == rotating  # type: ignore[union-attr]
