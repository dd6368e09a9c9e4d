"""Setting up an alliance: 001's 5-7 president units, the convener, one audited service for every door."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.core.domain import Duty, OrgKind, UnitKind
from bot.services.alliances import create_alliance
from bot.services.errors import ServiceError
from bot.services.obligations.facts import load_facts
from bot.services.rota import Rota
from bot.texts.translation import translator
from handlers.errors import explain
from storage.engine import Database
from storage.models import Alliance, AllianceUnit, AuditEntry, RotaOverride
from tests.factories import add_org
from tests.scheduler.test_rules import HOLIDAYS, at

NOW = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)


def branches(database: Database, count: int) -> list[int]:
    """Stores `count` branches and returns their ids."""
    with database.session() as session:
        return [
            add_org(
                session, code=f"U{n}", name=f"单位{n}", kind=OrgKind.BRANCH, parent=None, now=NOW
            )
            for n in range(1, count + 1)
        ]


@pytest.mark.parametrize("presidents", [4, 8])
def test_president_units_outside_five_to_seven_are_refused(
    database: Database, presidents: int
) -> None:
    orgs = branches(database, 9)
    with database.session() as session, pytest.raises(ServiceError) as refused:
        create_alliance(
            session,
            code="ally",
            name="联盟",
            rota_start=date(2026, 1, 1),
            presidents=orgs[:presidents],
            members=orgs[presidents:],
            actor_id=None,
            now=NOW,
        )
    assert refused.value.code == "alliance_presidents"
    assert explain(translator("zh_CN"), refused.value) == (
        f"党建联盟的会长单位应为5至7个，现为{presidents}个。"
    )
    assert f"{presidents} were given" in explain(translator("en"), refused.value)
    with database.session() as session:
        assert session.exec(select(Alliance)).all() == []


def test_an_alliance_is_created_with_its_units_and_audited(database: Database) -> None:
    orgs = branches(database, 7)
    with database.session() as session:
        alliance = create_alliance(
            session,
            code="ally",
            name="联盟",
            rota_start=date(2026, 1, 1),
            presidents=orgs[:5],
            members=orgs[5:],
            actor_id=None,
            now=NOW,
        )
        assert (alliance.code, alliance.convener_rotation) == ("ALLY", False)
        units = session.exec(
            select(AllianceUnit.organization_id, AllianceUnit.kind).order_by(
                AllianceUnit.rotation_order  # type: ignore[arg-type]
            )
        ).all()
        assert [kind for _, kind in units] == [UnitKind.PRESIDENT] * 5 + [UnitKind.MEMBER] * 2
        [audit] = session.exec(select(AuditEntry)).all()
        assert (audit.action, audit.subject) == ("alliance.create", "alliance:ALLY")
    with database.session() as session, pytest.raises(ServiceError) as again:
        create_alliance(
            session,
            code="ALLY",
            name="又一个",
            rota_start=date(2026, 1, 1),
            presidents=orgs[:5],
            actor_id=None,
            now=NOW,
        )
    assert again.value.code == "alliance_exists"
    with database.session() as session, pytest.raises(ServiceError) as twice:
        create_alliance(
            session,
            code="OTHER",
            name="联盟",
            rota_start=date(2026, 1, 1),
            presidents=orgs[:5],
            members=orgs[4:],
            actor_id=None,
            now=NOW,
        )
    assert twice.value.code == "alliance_unit_twice"


def test_the_executive_president_unit_convenes_unless_the_alliance_rotates_it(
    database: Database,
) -> None:
    orgs = branches(database, 6)
    with database.session() as session:
        alliance = create_alliance(
            session,
            code="ally",
            name="联盟",
            rota_start=date(2026, 1, 1),
            presidents=orgs[:5],
            members=orgs[5:],
            executive_term_months=6,
            actor_id=None,
            now=NOW,
        )
        session.add(
            RotaOverride(
                alliance_id=alliance.id,
                duty=Duty.EXECUTIVE,
                period="2026-07",
                organization_id=orgs[4],
                reason="换届",
                created_at=NOW,
            )
        )
    quarters = [date(2026, 2, 1), date(2026, 5, 1), date(2026, 8, 1), date(2026, 11, 1)]
    with database.session() as session:
        alliance = session.exec(select(Alliance)).one()
        rota = Rota(session, NOW)
        expected = [orgs[0], orgs[0], orgs[4], orgs[4]]
        assert [rota.slot(alliance, Duty.CONVENER, day).org.id for day in quarters] == expected
        facts = load_facts(session, now=at(2026, 11, 3, 9), holidays=HOLIDAYS)
        [fact] = facts.alliances
        assert [fact.duty(Duty.CONVENER, day).org_id for day in quarters] == expected  # type: ignore[union-attr]
        alliance.convener_rotation = True
        session.add(alliance)
    with database.session() as session:
        alliance = session.exec(select(Alliance)).one()
        rotating = [orgs[0], orgs[1], orgs[2], orgs[3]]
        rota = Rota(session, NOW)
        assert [rota.slot(alliance, Duty.CONVENER, day).org.id for day in quarters] == rotating
        facts = load_facts(session, now=at(2026, 11, 3, 9), holidays=HOLIDAYS)
        [fact] = facts.alliances
        assert [fact.duty(Duty.CONVENER, day).org_id for day in quarters] == rotating  # type: ignore[union-attr]
