"""Setting up pairings, alliances and branch settings: one validation, every change audited."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import Session, col, select

from bot.core.domain import DutyPeriod, OrgKind, PairingForm, UnitKind
from bot.services.errors import ServiceError
from bot.services.structure import (
    AllianceSpec,
    PairingSpec,
    alliance_spec,
    check_alliance,
    end_pairing,
    liaisons_missing,
    list_alliances,
    list_pairings,
    save_alliance,
    save_pairing,
    set_org_setting,
)
from storage.engine import Database
from storage.models import (
    Alliance,
    AllianceUnit,
    AuditEntry,
    Organization,
    Pairing,
    PairingOrg,
)
from tests.factories import World, add_org

NOW = datetime.fromisoformat("2026-11-03T09:30:00+08:00")


def _orgs(session: Session, *codes: str) -> None:
    """Adds branches with these codes."""
    for code in codes:
        add_org(session, code=code, name=f"{code}支部", kind=OrgKind.BRANCH, parent=None, now=NOW)


def _pairing(**changes: object) -> PairingSpec:
    values: dict[str, object] = {
        "code": "jd-1",
        "name": "政企联建",
        "form": PairingForm.ONE_TO_MANY,
        "lead": "b1",
        "partners": ("B2", "B3"),
        "agreement_start": date(2026, 5, 1),
        "agreement_end": date(2027, 4, 30),
    }
    values.update(changes)
    return PairingSpec(**values)  # type: ignore[arg-type]


def _alliance(**changes: object) -> AllianceSpec:
    values: dict[str, object] = {
        "code": "HW",
        "name": "江海红湾",
        "presidents": ("P1", "P2", "P3", "P4", "P5"),
        "members": ("M1", "M2"),
        "rota_start": date(2026, 1, 1),
    }
    values.update(changes)
    return AllianceSpec(**values)  # type: ignore[arg-type]


def test_pairing_is_created_with_its_form_lead_and_term_and_audited(
    database: Database, world: World
) -> None:
    with database.session() as session:
        assert save_pairing(session, spec=_pairing(), now=NOW, actor_id=None, replace=False)
    with database.session() as session:
        pairing = session.exec(select(Pairing).where(Pairing.code == "JD-1")).one()
        assert pairing.form is PairingForm.ONE_TO_MANY
        assert pairing.lead_org_id == world.orgs["B1"]
        assert pairing.agreement_end == date(2027, 4, 30)
        orgs = session.exec(
            select(PairingOrg.organization_id).where(PairingOrg.pairing_id == pairing.id)
        ).all()
        assert sorted(orgs) == sorted(world.orgs[c] for c in ("B1", "B2", "B3"))
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "pairing.add")).one()
        assert audit.subject == "pairing:JD-1"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"form": PairingForm.ONE_TO_ONE}, "pairing_one_to_one"),
        ({"partners": ("B2",)}, "pairing_needs_several"),
        ({"partners": ("B1", "B2")}, "pairing_lead_is_partner"),
        ({"agreement_end": date(2026, 1, 1)}, "agreement_ends_before_start"),
        ({"partners": ("B2", "NOPE")}, "org_unknown_code"),
        ({"code": "结对"}, "bad_group_code"),
        ({"visit_target": 0}, "bad_visit_target"),
    ],
)
def test_bad_pairings_are_refused_and_nothing_is_written(
    database: Database, world: World, changes: dict[str, object], code: str
) -> None:
    with database.session() as session, pytest.raises(ServiceError) as caught:
        save_pairing(session, spec=_pairing(**changes), now=NOW, actor_id=None, replace=False)
    assert caught.value.code == code
    with database.session() as session:
        assert session.exec(select(Pairing).where(Pairing.code == "JD-1")).first() is None


def test_a_second_add_of_the_same_code_is_refused_and_edit_replaces(
    database: Database, world: World
) -> None:
    with database.session() as session:
        save_pairing(session, spec=_pairing(), now=NOW, actor_id=None, replace=False)
    with database.session() as session, pytest.raises(ServiceError) as caught:
        save_pairing(session, spec=_pairing(), now=NOW, actor_id=None, replace=False)
    assert caught.value.code == "pairing_exists"
    edited = _pairing(form=PairingForm.ONE_TO_ONE, partners=("B4",), name="新名")
    with database.session() as session:
        assert not save_pairing(session, spec=edited, now=NOW, actor_id=None, replace=True)
    with database.session() as session:
        (view,) = [v for v in list_pairings(session) if v.code == "JD-1"]
        assert view.orgs == ("B1", "B4")
        assert view.name == "新名"
        assert view.detail["form"] == "one_to_one"
        end_pairing(session, code="jd-1", on=date(2026, 12, 31), now=NOW, actor_id=None)
    with database.session() as session:
        pairing = session.exec(select(Pairing).where(Pairing.code == "JD-1")).one()
        assert pairing.agreement_end == date(2026, 12, 31)
        actions = session.exec(
            select(AuditEntry.action).where(col(AuditEntry.subject) == "pairing:JD-1")
        ).all()
        assert sorted(actions) == ["pairing.add", "pairing.edit", "pairing.end"]


@pytest.mark.parametrize("count", [4, 8])
def test_an_alliance_needs_five_to_seven_president_units(count: int) -> None:
    presidents = tuple(f"P{i}" for i in range(1, count + 1))
    with pytest.raises(ServiceError) as caught:
        check_alliance(_alliance(presidents=presidents))
    assert caught.value.code == "alliance_presidents"
    assert caught.value.details["count"] == count


def test_alliance_units_cannot_repeat_and_the_theme_order_covers_every_unit() -> None:
    with pytest.raises(ServiceError) as caught:
        check_alliance(_alliance(members=("M1", "P1")))
    assert caught.value.code == "units_listed_twice"
    with pytest.raises(ServiceError) as caught:
        check_alliance(_alliance(theme_order=("M1", "P1")))
    assert caught.value.code == "alliance_theme_order"


def test_alliance_is_stored_with_executive_first_convener_rule_and_theme_order(
    database: Database,
) -> None:
    with database.session() as session:
        _orgs(session, "P1", "P2", "P3", "P4", "P5", "M1", "M2")
    spec = _alliance(
        presidents=("P3", "P1", "P2", "P4", "P5"),
        theme_order=("M1", "P1", "P2", "P3", "M2", "P4", "P5"),
        duty_period=DutyPeriod.QUARTER,
        executive_term_months=6,
    )
    with database.session() as session:
        assert save_alliance(session, spec=spec, now=NOW, actor_id=None, replace=False)
    with database.session() as session:
        alliance = session.exec(select(Alliance).where(Alliance.code == "HW")).one()
        assert not alliance.convener_rotation
        assert alliance.executive_term_months == 6
        rows = session.exec(
            select(Organization.code, AllianceUnit.kind)
            .join(AllianceUnit, col(AllianceUnit.organization_id) == Organization.id)
            .where(AllianceUnit.alliance_id == alliance.id)
            .order_by(col(AllianceUnit.rotation_order))
        ).all()
        # Theme days follow the given order; the presidents' slots carry the executive order.
        assert [code for code, _ in rows] == ["M1", "P3", "P1", "P2", "M2", "P4", "P5"]
        assert next(c for c, kind in rows if kind is UnitKind.PRESIDENT) == "P3"
        (view,) = list_alliances(session)
        assert view.detail["executive"] == "P3"
        again = alliance_spec(session, "hw")
        assert again.presidents == ("P3", "P1", "P2", "P4", "P5")
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "alliance.add")).one()
        assert audit.subject == "alliance:HW"


def test_branch_settings_are_checked_stored_and_audited(database: Database, world: World) -> None:
    with database.session() as session:
        set_org_setting(
            session, org_code="b1", key="orglife.time", value="14：30", now=NOW, actor_id=None
        )
        set_org_setting(
            session, org_code="B1", key="地点", value="党群服务中心", now=NOW, actor_id=None
        )
        set_org_setting(
            session, org_code="B1", key="holiday_policy", value="顺延", now=NOW, actor_id=None
        )
    with database.session() as session:
        org = session.get_one(Organization, world.orgs["B1"])
        assert (org.orglife_time, org.orglife_venue, org.holiday_policy) == (
            "14:30",
            "党群服务中心",
            "next_workday",
        )
        assert (
            len(session.exec(select(AuditEntry).where(AuditEntry.action == "org.set")).all()) == 3
        )
    for key, value, code in [
        ("orglife.time", "25:00", "bad_time"),
        ("holiday_policy", "sometimes", "bad_policy"),
        ("colour", "red", "setting_unknown"),
        ("liaison", "nobody", "member_unknown"),
    ]:
        with database.session() as session, pytest.raises(ServiceError) as caught:
            set_org_setting(session, org_code="B1", key=key, value=value, now=NOW, actor_id=None)
        assert caught.value.code == code


def test_groups_without_a_liaison_are_flagged_until_one_is_named(
    database: Database, world: World
) -> None:
    group = [world.orgs[code] for code in ("B1", "B2", "B3", "B4")]
    with database.session() as session:
        missing = liaisons_missing(session, group)
    # B1 names a liaison in the test world; its partners do not.
    assert "B1" not in missing
    assert "B2" in missing
    with database.session() as session:
        set_org_setting(session, org_code="B2", key="联络员", value="m3", now=NOW, actor_id=None)
    with database.session() as session:
        assert liaisons_missing(session, group) == ["B3", "B4"]


def test_a_scope_limits_what_a_committee_may_name_see_and_rewrite(
    database: Database, world: World
) -> None:
    with database.session() as session:
        other = add_org(
            session, code="C2", name="另一党委", kind=OrgKind.COMMITTEE, parent=None, now=NOW
        )
        add_org(session, code="X1", name="外支部", kind=OrgKind.BRANCH, parent=other, now=NOW)
    ours = frozenset(world.orgs.values())
    with database.session() as session, pytest.raises(ServiceError) as foreign:
        save_pairing(
            session,
            spec=_pairing(partners=("B2", "X1")),
            now=NOW,
            actor_id=None,
            replace=False,
            scope=ours,
        )
    assert (foreign.value.code, foreign.value.details) == ("org_not_in_scope", {"value": "X1"})
    with database.session() as session, pytest.raises(ServiceError) as unknown:
        save_pairing(
            session,
            spec=_pairing(partners=("B2", "NOPE")),
            now=NOW,
            actor_id=None,
            replace=False,
            scope=ours,
        )
    # Unknown and foreign codes read the same, so nobody learns another committee's codes.
    assert unknown.value.code == "org_not_in_scope"
    with database.session() as session:
        save_pairing(
            session,
            spec=_pairing(code="MIXED", partners=("B2", "X1")),
            now=NOW,
            actor_id=None,
            replace=False,
        )
    with database.session() as session:
        assert [v.code for v in list_pairings(session, org_ids=ours)] == ["MIXED", "P1"]
        assert list_pairings(session, org_ids=frozenset({world.orgs["B4"]})) == []
        with pytest.raises(ServiceError) as hidden:
            save_pairing(
                session,
                spec=_pairing(code="MIXED"),
                now=NOW,
                actor_id=None,
                replace=True,
                scope=ours,
            )
        assert hidden.value.code == "pairing_unknown"
        with pytest.raises(ServiceError) as ended:
            end_pairing(session, code="MIXED", on=NOW.date(), now=NOW, actor_id=None, scope=ours)
        assert ended.value.code == "pairing_unknown"
        assert [v.code for v in list_alliances(session, org_ids=ours)] == ["ALLY"]
        assert list_alliances(session, org_ids=frozenset({other})) == []
