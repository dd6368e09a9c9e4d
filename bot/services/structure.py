"""Setting up a district: pairings, alliances and a branch's settings, one validation for every door.

The command line, the web console, the import, the demo and chat call these use cases (an
alliance is written by `save_alliance` only); each refuses bad input with a
`ServiceError` whose code `handlers.errors` words, and audits every change it makes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, true
from sqlmodel import Session, col, select

from bot.calendar.orglife import HolidayPolicy
from bot.core.domain import (
    ConvenerRule,
    DutyPeriod,
    MemberStatus,
    PairingForm,
    RoleKind,
    UnitKind,
)
from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from bot.services.obligations.fact_queries import packed_among
from storage.models import (
    Alliance,
    AllianceUnit,
    Member,
    Organization,
    Pairing,
    PairingOrg,
    Role,
)
from storage.queries import insert_ignore

W = TypeVar("W")
# The organizations a door may touch (a committee's subtree); None for the operator.
Scope = frozenset[int] | None
GROUP_CODE = re.compile(r"[A-Z0-9][A-Z0-9_.-]{0,31}")
HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
MAX_NAME = 200
MAX_VENUE = 200
MAX_TERM_MONTHS = 60
MAX_VISIT_TARGET = 52
# 001 §3: "X" is 5-7 president units (会长单位), one of them the executive president unit.
MIN_PRESIDENT_UNITS = 5
MAX_PRESIDENT_UNITS = 7
# The settings `set_org_setting` understands, with the words the doors may use for them.
SETTING_KEYS: dict[str, str] = {
    "orglife.time": "orglife.time",
    "time": "orglife.time",
    "时间": "orglife.time",
    "组织生活时间": "orglife.time",
    "orglife.venue": "orglife.venue",
    "venue": "orglife.venue",
    "组织生活地点": "orglife.venue",
    "地点": "orglife.venue",
    "holiday_policy": "holiday_policy",
    "orglife.holiday": "holiday_policy",
    "节假日": "holiday_policy",
    "节假日处理": "holiday_policy",
    "liaison": "liaison",
    "联络员": "liaison",
}
POLICY_WORDS: dict[str, HolidayPolicy] = {
    "keep": HolidayPolicy.KEEP,
    "照常": HolidayPolicy.KEEP,
    "不调整": HolidayPolicy.KEEP,
    "next_workday": HolidayPolicy.NEXT_WORKDAY,
    "顺延": HolidayPolicy.NEXT_WORKDAY,
    "顺延至下一个工作日": HolidayPolicy.NEXT_WORKDAY,
}
FORM_WORDS: dict[str, PairingForm] = {
    "one_to_one": PairingForm.ONE_TO_ONE,
    "1:1": PairingForm.ONE_TO_ONE,
    "一对一": PairingForm.ONE_TO_ONE,
    "many_to_one": PairingForm.MANY_TO_ONE,
    "n:1": PairingForm.MANY_TO_ONE,
    "多对一": PairingForm.MANY_TO_ONE,
    "one_to_many": PairingForm.ONE_TO_MANY,
    "1:n": PairingForm.ONE_TO_MANY,
    "一对多": PairingForm.ONE_TO_MANY,
}
CONVENER_WORDS: dict[str, ConvenerRule] = {
    "executive": ConvenerRule.EXECUTIVE,
    "执行会长单位": ConvenerRule.EXECUTIVE,
    "rotation": ConvenerRule.ROTATION,
    "轮流": ConvenerRule.ROTATION,
    "会长单位轮流": ConvenerRule.ROTATION,
}
PERIOD_WORDS: dict[str, DutyPeriod] = {
    "month": DutyPeriod.MONTH,
    "月": DutyPeriod.MONTH,
    "每月": DutyPeriod.MONTH,
    "quarter": DutyPeriod.QUARTER,
    "季度": DutyPeriod.QUARTER,
    "每季度": DutyPeriod.QUARTER,
}


def word(table: Mapping[str, W], text: str, error: str) -> W:
    """Looks a door's word up in one of the tables above, refusing unknown ones with `error`."""
    found = table.get(text.strip().lower()) or table.get(text.strip())
    if found is None:
        raise ServiceError(error, value=text.strip())
    return found


# -- what the doors pass in ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairingSpec:
    """A pairing as a door describes it, by organization codes."""

    code: str
    name: str
    form: PairingForm
    lead: str
    partners: tuple[str, ...]
    agreement_start: date
    agreement_end: date | None = None
    visit_target: int = 3
    goals: str = ""


@dataclass(frozen=True, slots=True)
class AllianceSpec:
    """An alliance as a door describes it, by organization codes.

    `presidents` are in the order the executive term passes (the first is executive first);
    `theme_order` is the theme-day rotation over every unit (presidents then members when empty).
    """

    code: str
    name: str
    presidents: tuple[str, ...]
    members: tuple[str, ...]
    rota_start: date
    duty_period: DutyPeriod = DutyPeriod.MONTH
    executive_term_months: int = 12
    convener_rule: ConvenerRule = ConvenerRule.EXECUTIVE
    theme_order: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupView:
    """A pairing or alliance as the doors list it."""

    kind: str
    code: str
    name: str
    detail: dict[str, object]
    orgs: tuple[str, ...]
    missing_liaisons: tuple[str, ...] = field(default=())


# -- the one validation ---------------------------------------------------------------------


def check_group_code(code: str) -> str:
    """Returns a pairing's or alliance's code in upper case, or refuses it."""
    code = code.strip().upper()
    if not GROUP_CODE.fullmatch(code):
        raise ServiceError("bad_group_code", value=code)
    return code


def check_name(name: str) -> str:
    """Returns a trimmed name, or refuses an empty or too long one."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ServiceError("bad_name", limit=MAX_NAME)
    return name


def check_president_units(count: int) -> None:
    """Refuses a number of president units outside 001's 5-7."""
    if not MIN_PRESIDENT_UNITS <= count <= MAX_PRESIDENT_UNITS:
        raise ServiceError(
            "alliance_presidents",
            count=count,
            low=MIN_PRESIDENT_UNITS,
            high=MAX_PRESIDENT_UNITS,
        )


def check_pairing(spec: PairingSpec) -> PairingSpec:
    """Checks a pairing's shape (form against the number of partners, dates, target)."""
    partners = tuple(dict.fromkeys(code.strip().upper() for code in spec.partners if code.strip()))
    lead = spec.lead.strip().upper()
    if not lead:
        raise ServiceError("pairing_lead_needed")
    if lead in partners:
        raise ServiceError("pairing_lead_is_partner", value=lead)
    if spec.form is PairingForm.ONE_TO_ONE and len(partners) != 1:
        raise ServiceError("pairing_one_to_one", count=len(partners))
    if spec.form is not PairingForm.ONE_TO_ONE and len(partners) < 2:
        raise ServiceError("pairing_needs_several", count=len(partners))
    if spec.agreement_end is not None and spec.agreement_end < spec.agreement_start:
        raise ServiceError("agreement_ends_before_start")
    if not 1 <= spec.visit_target <= MAX_VISIT_TARGET:
        raise ServiceError("bad_visit_target", limit=MAX_VISIT_TARGET)
    return PairingSpec(
        code=check_group_code(spec.code),
        name=check_name(spec.name),
        form=spec.form,
        lead=lead,
        partners=partners,
        agreement_start=spec.agreement_start,
        agreement_end=spec.agreement_end,
        visit_target=spec.visit_target,
        goals=spec.goals.strip(),
    )


def check_alliance(spec: AllianceSpec) -> AllianceSpec:
    """Checks an alliance's shape: 5-7 president units, no unit twice, a full theme-day order."""
    presidents = tuple(code.strip().upper() for code in spec.presidents if code.strip())
    members = tuple(code.strip().upper() for code in spec.members if code.strip())
    check_president_units(len(set(presidents)))
    everyone = presidents + members
    twice = sorted({code for code in everyone if everyone.count(code) > 1})
    if twice:
        raise ServiceError("units_listed_twice", value=", ".join(twice))
    theme = tuple(code.strip().upper() for code in spec.theme_order if code.strip())
    if theme and (len(theme) != len(set(theme)) or set(theme) != set(everyone)):
        raise ServiceError("alliance_theme_order")
    if not 1 <= spec.executive_term_months <= MAX_TERM_MONTHS:
        raise ServiceError("bad_term", limit=MAX_TERM_MONTHS)
    return AllianceSpec(
        code=check_group_code(spec.code),
        name=check_name(spec.name),
        presidents=presidents,
        members=members,
        rota_start=spec.rota_start.replace(day=1),
        duty_period=spec.duty_period,
        executive_term_months=spec.executive_term_months,
        convener_rule=spec.convener_rule,
        theme_order=theme or everyone,
    )


def check_setting(key: str, value: str) -> tuple[str, str]:
    """Returns a branch setting's canonical key and value, or refuses them."""
    canonical = SETTING_KEYS.get(key.strip().lower()) or SETTING_KEYS.get(key.strip())
    if canonical is None:
        raise ServiceError(
            "setting_unknown", value=key, keys=", ".join(sorted(set(SETTING_KEYS.values())))
        )
    value = value.strip()
    if canonical == "orglife.time":
        value = value.replace("：", ":")
        if len(value) == 4 and value[1] == ":":
            value = "0" + value
        if not HHMM.fullmatch(value):
            raise ServiceError("bad_time", value=value)
    elif canonical == "orglife.venue":
        if len(value) > MAX_VENUE:
            raise ServiceError("bad_name", limit=MAX_VENUE)
    elif canonical == "holiday_policy":
        value = word(POLICY_WORDS, value, "bad_policy").value
    return canonical, value


# -- reading --------------------------------------------------------------------------------


def _orgs_by_code(
    session: Session, codes: Sequence[str], scope: Scope = None
) -> dict[str, Organization]:
    """Returns the organizations with these codes, refusing the first unknown one.

    With a scope, a code outside it is refused in the same words as an unknown one, so a door
    tells nobody which codes other committees use.
    """
    rows = session.exec(select(Organization).where(col(Organization.code).in_(list(codes)))).all()
    found = {row.code: row for row in rows}
    for code in codes:
        if scope is not None and (code not in found or found[code].id not in scope):
            raise ServiceError("org_not_in_scope", value=code)
        if code not in found:
            raise ServiceError("org_unknown_code", value=code)
    return found


def _within(org_ids: Sequence[int | None], scope: Scope) -> bool:
    """Tells whether a pairing's or alliance's organizations all lie in the scope (or none is set)."""
    return scope is None or all(org_id in scope for org_id in org_ids)


def _groups_in_scope(
    session: Session, group_id: Any, link: type[PairingOrg] | type[AllianceUnit]
) -> Any:
    """Selects the pairings (or alliances) with an organization among those bound as `orgs`."""
    arrays = session.get_bind().dialect.name == "postgresql"
    return select(group_id).where(packed_among(link.organization_id, "orgs", arrays=arrays))


def _scope_params(scope: Scope) -> dict[str, object]:
    """Binds a scope's organizations for `_groups_in_scope` (nothing when there is no scope)."""
    return {} if scope is None else {"orgs": sorted(scope)}


def liaisons_missing(session: Session, org_ids: Sequence[int]) -> list[str]:
    """Lists the codes of these organizations that name no current liaison officer (000 §工作要求)."""
    if not org_ids:
        return []
    named = (
        select(Role.id)
        .join(Member, col(Member.id) == Role.member_id)
        .where(
            col(Role.organization_id) == Organization.id,
            col(Role.role) == RoleKind.LIAISON,
            col(Member.status) != MemberStatus.DEPARTED,
        )
        .correlate(Organization)
    )
    return list(
        session.exec(
            select(Organization.code)
            .where(col(Organization.id).in_(list(org_ids)), ~named.exists())
            .order_by(col(Organization.code))
        ).all()
    )


@dataclass(frozen=True, slots=True)
class BranchSettings:
    """A branch's settings as its secretary sees them."""

    orglife_time: str
    orglife_venue: str
    holiday_policy: HolidayPolicy
    liaisons: tuple[str, ...]


def branch_settings(session: Session, *, org_id: int) -> BranchSettings:
    """Reads a branch's org-life time and venue, holiday policy and current liaison officers."""
    org = session.get_one(Organization, org_id)
    names = session.exec(
        select(Member.name)
        .join(Role, col(Role.member_id) == Member.id)
        .where(
            Role.organization_id == org_id,
            col(Role.role) == RoleKind.LIAISON,
            col(Member.status) != MemberStatus.DEPARTED,
        )
        .order_by(col(Member.name))
    ).all()
    return BranchSettings(
        orglife_time=org.orglife_time,
        orglife_venue=org.orglife_venue,
        holiday_policy=HolidayPolicy(org.holiday_policy),
        liaisons=tuple(names),
    )


def _with_liaison(session: Session, org_ids: Any, params: dict[str, object]) -> set[int]:
    """Reads which of the organizations `org_ids` selects name a current liaison officer."""
    return set(
        session.exec(
            select(Role.organization_id)
            .join(Member, col(Member.id) == Role.member_id)
            .where(
                col(Role.organization_id).in_(org_ids),
                col(Role.role) == RoleKind.LIAISON,
                col(Member.status) != MemberStatus.DEPARTED,
            )
            .distinct(),
            params=params,
        ).all()
    )


def _missing(orgs: Sequence[Organization], named: set[int]) -> tuple[str, ...]:
    """Lists the codes of these organizations naming no liaison, as `liaisons_missing` does."""
    return tuple(sorted({org.code for org in orgs if org.id not in named}))


def list_pairings(session: Session, *, org_ids: Scope = None) -> list[GroupView]:
    """Lists the pairings (those with an organization in `org_ids`, when given) with their
    organizations (lead first) and those without a liaison."""
    params = _scope_params(org_ids)
    scoped = _groups_in_scope(session, PairingOrg.pairing_id, PairingOrg)

    def chosen(group_id: Any) -> Any:
        """Restricts a group id column to the listed groups."""
        return true() if org_ids is None else col(group_id).in_(scoped)

    # Three statements whatever the number of pairings: the pairings, their organizations and
    # which of those name a liaison, put together here.
    pairings = session.exec(
        select(Pairing).where(chosen(Pairing.id)).order_by(col(Pairing.code)),
        params=params,
    ).all()
    members: dict[int, list[Organization]] = {}
    for pairing_id, org in session.exec(
        select(PairingOrg.pairing_id, Organization)
        .join(Organization, col(PairingOrg.organization_id) == Organization.id)
        .where(chosen(PairingOrg.pairing_id)),
        params=params,
    ).all():
        members.setdefault(pairing_id, []).append(org)
    named = _with_liaison(
        session,
        select(PairingOrg.organization_id).where(chosen(PairingOrg.pairing_id)),
        params,
    )
    views = []
    for pairing in pairings:
        orgs = members.get(pairing.id or 0, [])
        ordered = sorted(orgs, key=lambda org: (org.id != pairing.lead_org_id, org.code))
        views.append(
            GroupView(
                kind="pairing",
                code=pairing.code,
                name=pairing.name,
                detail={
                    "form": pairing.form.value,
                    "lead": ordered[0].code if ordered else "",
                    "agreement_start": pairing.agreement_start.isoformat(),
                    "agreement_end": (
                        pairing.agreement_end.isoformat() if pairing.agreement_end else None
                    ),
                    "visit_target": pairing.visit_target,
                },
                orgs=tuple(org.code for org in ordered),
                missing_liaisons=_missing(ordered, named),
            )
        )
    return views


def list_alliances(session: Session, *, org_ids: Scope = None) -> list[GroupView]:
    """Lists the alliances (those with a unit in `org_ids`, when given) with their units in
    theme-day order and those without a liaison."""
    params = _scope_params(org_ids)
    scoped = _groups_in_scope(session, AllianceUnit.alliance_id, AllianceUnit)

    def chosen(group_id: Any) -> Any:
        """Restricts a group id column to the listed groups."""
        return true() if org_ids is None else col(group_id).in_(scoped)

    # Three statements whatever the number of alliances, as for the pairings.
    alliances = session.exec(
        select(Alliance).where(chosen(Alliance.id)).order_by(col(Alliance.code)),
        params=params,
    ).all()
    units: dict[int, list[tuple[Organization, AllianceUnit]]] = {}
    for org, unit in session.exec(
        select(Organization, AllianceUnit)
        .join(AllianceUnit, col(AllianceUnit.organization_id) == Organization.id)
        .where(chosen(AllianceUnit.alliance_id))
        .order_by(col(AllianceUnit.alliance_id), col(AllianceUnit.rotation_order)),
        params=params,
    ).all():
        units.setdefault(unit.alliance_id, []).append((org, unit))
    named = _with_liaison(
        session,
        select(AllianceUnit.organization_id).where(chosen(AllianceUnit.alliance_id)),
        params,
    )
    views = []
    for alliance in alliances:
        rows = units.get(alliance.id or 0, [])
        presidents = [org.code for org, unit in rows if unit.kind is UnitKind.PRESIDENT]
        views.append(
            GroupView(
                kind="alliance",
                code=alliance.code,
                name=alliance.name,
                detail={
                    "presidents": presidents,
                    "members": [org.code for org, unit in rows if unit.kind is UnitKind.MEMBER],
                    "executive": presidents[0] if presidents else "",
                    "executive_term_months": alliance.executive_term_months,
                    "rota_start": alliance.rota_start.isoformat(),
                    "duty_period": alliance.duty_period.value,
                    "convener_rule": _convener_rule(alliance).value,
                },
                orgs=tuple(org.code for org, _ in rows),
                missing_liaisons=_missing([org for org, _ in rows], named),
            )
        )
    return views


# -- writing --------------------------------------------------------------------------------


def save_pairing(
    session: Session,
    *,
    spec: PairingSpec,
    now: datetime,
    actor_id: int | None,
    replace: bool,
    scope: Scope = None,
) -> bool:
    """Creates a pairing (or, with `replace`, rewrites a stored one); returns whether it was new.

    With a scope, every organization named, and every one of a pairing rewritten, lies in it.
    """
    spec = check_pairing(spec)
    orgs = _orgs_by_code(session, (spec.lead, *spec.partners), scope)
    lead_id = orgs[spec.lead].id
    assert lead_id is not None
    values = {
        "code": spec.code,
        "name": spec.name,
        "form": spec.form.value,
        "lead_org_id": lead_id,
        "agreement_start": spec.agreement_start,
        "agreement_end": spec.agreement_end,
        "goals": spec.goals,
        "visit_target": spec.visit_target,
    }
    new_id = insert_ignore(session, Pairing, values=values, conflict=("code",))
    if new_id is None:
        if not replace:
            raise ServiceError("pairing_exists", value=spec.code)
        pairing = session.exec(select(Pairing).where(Pairing.code == spec.code)).one()
        if not _within(_pairing_org_ids(session, pairing), scope):
            raise ServiceError("pairing_unknown", value=spec.code)
        pairing.name, pairing.form, pairing.lead_org_id = spec.name, spec.form, lead_id
        pairing.agreement_start, pairing.agreement_end = spec.agreement_start, spec.agreement_end
        pairing.goals, pairing.visit_target = spec.goals, spec.visit_target
        session.add(pairing)
        session.flush()
        pairing_id = pairing.id
        session.execute(delete(PairingOrg).where(col(PairingOrg.pairing_id) == pairing_id))
    else:
        pairing_id = new_id
    assert pairing_id is not None
    for org in orgs.values():
        assert org.id is not None
        session.add(PairingOrg(pairing_id=pairing_id, organization_id=org.id))
    session.flush()
    record_change(
        session,
        now=now,
        actor_id=actor_id,
        action="pairing.add" if new_id is not None else "pairing.edit",
        subject=f"pairing:{spec.code}",
        form=spec.form.value,
        lead=spec.lead,
        partners=list(spec.partners),
        agreement_start=spec.agreement_start,
        agreement_end=spec.agreement_end,
        visit_target=spec.visit_target,
    )
    return new_id is not None


def _pairing_org_ids(session: Session, pairing: Pairing) -> list[int | None]:
    """Lists the ids of a stored pairing's organizations."""
    return list(
        session.exec(
            select(PairingOrg.organization_id).where(PairingOrg.pairing_id == pairing.id)
        ).all()
    )


def pairing_spec(session: Session, code: str, *, scope: Scope = None) -> PairingSpec:
    """Returns a stored pairing as a spec, for doors that edit a few of its fields.

    With a scope, a pairing with an organization outside it is refused as unknown.
    """
    pairing = session.exec(select(Pairing).where(Pairing.code == code.strip().upper())).first()
    if pairing is None:
        raise ServiceError("pairing_unknown", value=code)
    orgs = session.exec(
        select(Organization)
        .join(PairingOrg, col(PairingOrg.organization_id) == Organization.id)
        .where(PairingOrg.pairing_id == pairing.id)
    ).all()
    if not _within([org.id for org in orgs], scope):
        raise ServiceError("pairing_unknown", value=code)
    lead = next((org.code for org in orgs if org.id == pairing.lead_org_id), "")
    return PairingSpec(
        code=pairing.code,
        name=pairing.name,
        form=pairing.form,
        lead=lead,
        partners=tuple(sorted(org.code for org in orgs if org.id != pairing.lead_org_id)),
        agreement_start=pairing.agreement_start,
        agreement_end=pairing.agreement_end,
        visit_target=pairing.visit_target,
        goals=pairing.goals,
    )


def end_pairing(
    session: Session,
    *,
    code: str,
    on: date,
    now: datetime,
    actor_id: int | None,
    scope: Scope = None,
) -> None:
    """Ends a pairing's agreement on a day (its records stay; nothing more is asked of it)."""
    pairing = session.exec(select(Pairing).where(Pairing.code == code.strip().upper())).first()
    if pairing is None or not _within(_pairing_org_ids(session, pairing), scope):
        raise ServiceError("pairing_unknown", value=code)
    if on < pairing.agreement_start:
        raise ServiceError("agreement_ends_before_start")
    pairing.agreement_end = on
    session.add(pairing)
    record_change(
        session,
        now=now,
        actor_id=actor_id,
        action="pairing.end",
        subject=f"pairing:{pairing.code}",
        on=on,
    )
    session.flush()


def save_alliance(
    session: Session,
    *,
    spec: AllianceSpec,
    now: datetime,
    actor_id: int | None,
    replace: bool,
    scope: Scope = None,
) -> bool:
    """Creates an alliance (or, with `replace`, rewrites a stored one); returns whether it was new.

    The one writer of alliances. With a scope, every unit named, and every unit of an alliance
    rewritten, lies in it.
    """
    spec = check_alliance(spec)
    orgs = _orgs_by_code(session, spec.theme_order, scope)
    values = {
        "code": spec.code,
        "name": spec.name,
        "rota_start": spec.rota_start,
        "duty_period": spec.duty_period.value,
        "executive_term_months": spec.executive_term_months,
        "convener_rotation": spec.convener_rule is ConvenerRule.ROTATION,
    }
    new_id = insert_ignore(session, Alliance, values=values, conflict=("code",))
    if new_id is None:
        if not replace:
            raise ServiceError("alliance_exists", alliance=spec.code)
        alliance = session.exec(select(Alliance).where(Alliance.code == spec.code)).one()
        if not _within(_alliance_org_ids(session, alliance), scope):
            raise ServiceError("alliance_unknown", value=spec.code)
        alliance.name, alliance.rota_start = spec.name, spec.rota_start
        alliance.duty_period = spec.duty_period
        alliance.executive_term_months = spec.executive_term_months
        alliance.convener_rotation = spec.convener_rule is ConvenerRule.ROTATION
        session.add(alliance)
        session.flush()
        alliance_id = alliance.id
        session.execute(delete(AllianceUnit).where(col(AllianceUnit.alliance_id) == alliance_id))
    else:
        alliance_id = new_id
    presidents = set(spec.presidents)
    # The executive term passes among the presidents in their own order; the theme day over
    # every unit. One rotation order holds both: presidents keep their order within the theme one.
    ordered = merge_orders(spec.theme_order, spec.presidents)
    assert alliance_id is not None
    for place, code in enumerate(ordered):
        org_id = orgs[code].id
        assert org_id is not None
        session.add(
            AllianceUnit(
                alliance_id=alliance_id,
                organization_id=org_id,
                kind=UnitKind.PRESIDENT if code in presidents else UnitKind.MEMBER,
                rotation_order=place,
            )
        )
    session.flush()
    record_change(
        session,
        now=now,
        actor_id=actor_id,
        action="alliance.add" if new_id is not None else "alliance.edit",
        subject=f"alliance:{spec.code}",
        presidents=list(spec.presidents),
        members=list(spec.members),
        order=ordered,
        rota_start=spec.rota_start,
        duty_period=spec.duty_period.value,
        executive_term_months=spec.executive_term_months,
        convener_rule=spec.convener_rule.value,
    )
    return new_id is not None


def merge_orders(theme: Sequence[str], presidents: Sequence[str]) -> list[str]:
    """Places the presidents, in their executive order, on the theme order's president slots."""
    queue = iter(presidents)
    wanted = set(presidents)
    return [next(queue) if code in wanted else code for code in theme]


def _convener_rule(alliance: Alliance) -> ConvenerRule:
    """Returns who convenes an alliance's joint meeting, as the doors name it."""
    return ConvenerRule.ROTATION if alliance.convener_rotation else ConvenerRule.EXECUTIVE


def _alliance_org_ids(session: Session, alliance: Alliance) -> list[int | None]:
    """Lists the ids of a stored alliance's units."""
    return list(
        session.exec(
            select(AllianceUnit.organization_id).where(AllianceUnit.alliance_id == alliance.id)
        ).all()
    )


def alliance_spec(session: Session, code: str, *, scope: Scope = None) -> AllianceSpec:
    """Returns a stored alliance as a spec, for doors that edit a few of its fields.

    With a scope, an alliance with a unit outside it is refused as unknown.
    """
    alliance = session.exec(select(Alliance).where(Alliance.code == code.strip().upper())).first()
    if alliance is None or not _within(_alliance_org_ids(session, alliance), scope):
        raise ServiceError("alliance_unknown", value=code)
    rows = session.exec(
        select(Organization.code, AllianceUnit.kind)
        .join(AllianceUnit, col(AllianceUnit.organization_id) == Organization.id)
        .where(AllianceUnit.alliance_id == alliance.id)
        .order_by(col(AllianceUnit.rotation_order))
    ).all()
    return AllianceSpec(
        code=alliance.code,
        name=alliance.name,
        presidents=tuple(c for c, kind in rows if kind is UnitKind.PRESIDENT),
        members=tuple(c for c, kind in rows if kind is UnitKind.MEMBER),
        rota_start=alliance.rota_start,
        duty_period=alliance.duty_period,
        executive_term_months=alliance.executive_term_months,
        convener_rule=_convener_rule(alliance),
        theme_order=tuple(c for c, _ in rows),
    )


def set_org_setting(
    session: Session,
    *,
    org_code: str,
    key: str,
    value: str,
    now: datetime,
    actor_id: int | None,
) -> tuple[str, str]:
    """Changes one branch setting (org-life time or venue, holiday policy, liaison); audited.

    The liaison is given as a member id or the name of a current member of the organization.
    Returns the canonical key and the value stored.
    """
    org = session.exec(
        select(Organization).where(Organization.code == org_code.strip().upper())
    ).first()
    if org is None:
        raise ServiceError("org_unknown_code", value=org_code)
    key, value = check_setting(key, value)
    before: object
    if key == "orglife.time":
        before, org.orglife_time = org.orglife_time, value
    elif key == "orglife.venue":
        before, org.orglife_venue = org.orglife_venue, value
    elif key == "holiday_policy":
        before, org.holiday_policy = org.holiday_policy, value
    else:
        member = _member_of(session, org, value)
        assert member.id is not None and org.id is not None
        before = None
        insert_ignore(
            session,
            Role,
            values={
                "organization_id": org.id,
                "member_id": member.id,
                "role": RoleKind.LIAISON.value,
            },
            conflict=("organization_id", "member_id", "role"),
        )
        value = member.name
    session.add(org)
    record_change(
        session,
        now=now,
        actor_id=actor_id,
        action="org.set",
        subject=f"org:{org.code}:{key}",
        before=before,
        after=value if key != "liaison" else None,
    )
    session.flush()
    return key, value


def _member_of(session: Session, org: Organization, text: str) -> Member:
    """Finds a current member of `org` by id or by name, refusing unknown or ambiguous ones."""
    current = (Member.organization_id == org.id, col(Member.status) != MemberStatus.DEPARTED)
    if text.isdigit():
        found = list(session.exec(select(Member).where(Member.id == int(text), *current)).all())
    else:
        found = list(session.exec(select(Member).where(Member.name == text, *current)).all())
    if not found:
        raise ServiceError("member_unknown", name=text)
    if len(found) > 1:
        raise ServiceError("member_ambiguous", name=text)
    return found[0]
