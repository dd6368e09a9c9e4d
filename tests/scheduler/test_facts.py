"""The facts snapshot: read for a few organizations, it tells the rules what the whole city does."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bot.calendar.quarters import Quarter
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    DutyPeriod,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    RoleKind,
    UnitKind,
)
from bot.core.records import MemberView, OrgView
from bot.services.obligations.facts import Facts, Part, load_facts, scope_of
from bot.services.obligations.rules import Rule, pending_for
from bot.services.reminders import Reminders
from storage.engine import Database
from storage.models import (
    Activity,
    Alliance,
    AllianceUnit,
    Attendance,
    Meeting,
    Member,
    Pairing,
    PairingOrg,
    Role,
)
from storage.reminders import (
    FilingKind,
    FilingMethod,
    MovementDirection,
    alliance_scope,
    mark_movement,
    org_scope,
    pairing_scope,
    record_filing,
    set_reminder_setting,
)
from tests.factories import World, add_org
from tests.scheduler.test_rules import HOLIDAYS, SH, at, give_accounts

# Moments across the year: org-life days, mid-quarter, the ledger window, January and December.
MOMENTS = (
    at(2026, 1, 10, 10),
    at(2026, 3, 25, 10),
    at(2026, 11, 3, 8),
    at(2026, 11, 20, 10),
    at(2026, 12, 5, 10),
)


def _member(
    session: object,
    name: str,
    org_id: int,
    *roles: RoleKind,
    status: MemberStatus = MemberStatus.FULL,
) -> int:
    """Adds a member with roles (the plain member's too) and returns their id."""
    member = Member(name=name, organization_id=org_id, status=status, created_at=at(2026, 1, 1))
    session.add(member)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    assert member.id is not None
    for role in (*roles, RoleKind.MEMBER):
        session.add(Role(organization_id=org_id, member_id=member.id, role=role))  # type: ignore[attr-defined]
    return member.id


def _widen(database: Database, world: World) -> dict[str, int]:
    """Adds a second alliance (B4 with B5, B6), a pairing B3-B5 and records around the world.

    B1's partners are B1-B4; B5 and B6 are only in groups of partners; B7 is in nothing.
    """
    ids: dict[str, int] = {}
    with database.session() as session:
        for code in ("B5", "B6", "B7"):
            world.orgs[code] = add_org(
                session,
                code=code,
                name=f"{code}支部",
                kind=OrgKind.BRANCH,
                parent=world.orgs["C"],
                now=at(2026, 1, 1),
            )
        river = Alliance(
            code="RIVER",
            name="河畔联盟",
            rota_start=date(2025, 7, 1),
            duty_period=DutyPeriod.QUARTER,
        )
        session.add(river)
        session.flush()
        assert river.id is not None
        ids["river"] = river.id
        for order, (code, unit) in enumerate(
            (("B5", UnitKind.PRESIDENT), ("B4", UnitKind.PRESIDENT), ("B6", UnitKind.MEMBER)), 1
        ):
            session.add(
                AllianceUnit(
                    alliance_id=river.id,
                    organization_id=world.orgs[code],
                    kind=unit,
                    rotation_order=order,
                )
            )
        pairing = Pairing(
            code="P2",
            name="三支部-五支部结对",
            lead_org_id=world.orgs["B5"],
            agreement_start=date(2025, 10, 1),
            visit_target=0,
        )
        session.add(pairing)
        session.flush()
        assert pairing.id is not None
        ids["p2"] = pairing.id
        for code in ("B3", "B5"):
            session.add(PairingOrg(pairing_id=pairing.id, organization_id=world.orgs[code]))
        for code, name in (("B3", "sec3"), ("B4", "sec4"), ("B5", "sec5"), ("B6", "sec6")):
            ids[name] = _member(session, name, world.orgs[code], RoleKind.SECRETARY)
        ids["liaison5"] = _member(session, "liaison5", world.orgs["B5"], RoleKind.LIAISON)
        ids["gone"] = _member(
            session, "gone", world.orgs["B2"], RoleKind.LIAISON, status=MemberStatus.DEPARTED
        )
        for code, name in (("B2", "mobile2"), ("B5", "mobile5"), ("B7", "mobile7")):
            ids[name] = _member(session, name, world.orgs[code])
            mark_movement(
                session=session,
                member_id=ids[name],
                direction=MovementDirection.LEAVING,
                at=at(2026, 3, 1, 10),
                by=None,
                place="深圳",
            )
        # The partner alliance's settings reach the pairing its president unit leads.
        set_reminder_setting(
            session=session, scope=alliance_scope(river.id), name="visit_target", value="5"
        )
        set_reminder_setting(
            session=session,
            scope=org_scope(world.orgs["B2"]),
            name="ledger_window_days",
            value="20",
        )
        for filing, scope, period in (
            (FilingKind.LEDGER, org_scope(world.orgs["B2"]), "2026Q4"),
            (FilingKind.LEDGER, org_scope(world.orgs["B5"]), "2026Q1"),
            (FilingKind.LEDGER, org_scope(world.orgs["B7"]), "2026Q4"),
            (FilingKind.ANNUAL_PLAN, alliance_scope(world.alliance_id), "2026"),
            (FilingKind.ANNUAL_PLAN, pairing_scope(pairing.id), "2026"),
            (FilingKind.YEAR_SUMMARY, alliance_scope(river.id), "2026"),
        ):
            record_filing(
                session=session,
                kind=filing,
                scope=scope,
                period=period,
                method=FilingMethod.SUBMITTED,
                at=at(2026, 1, 5),
                by=None,
            )
        for org, meeting_kind, held_on, alliance_id, pairing_id in (
            ("B5", MeetingKind.JOINT_MEETING, date(2026, 2, 10), river.id, None),
            ("B4", MeetingKind.THEME_DAY, date(2026, 11, 18), river.id, None),
            ("B3", MeetingKind.VISIT, date(2026, 3, 3), None, pairing.id),
            ("B1", MeetingKind.THEME_DAY, date(2026, 1, 20), world.alliance_id, None),
        ):
            session.add(
                Meeting(
                    organization_id=world.orgs[org],
                    kind=meeting_kind,
                    period=str(held_on),
                    held_on=held_on,
                    starts_at=datetime.combine(held_on, time(14, 0), tzinfo=SH),
                    alliance_id=alliance_id,
                    pairing_id=pairing_id,
                    checkin_code="123456",
                    status=MeetingStatus.PLANNED,
                )
            )
        for org, activity, held_on in (
            ("B6", ActivityKind.JOINT_MEETING, date(2026, 5, 6)),
            ("B2", ActivityKind.OPINION, date(2026, 11, 21)),
            ("B5", ActivityKind.VISIT, date(2026, 6, 2)),
        ):
            session.add(
                Activity(
                    organization_id=world.orgs[org],
                    kind=activity,
                    held_on=held_on,
                    title="活动",
                    participants=10,
                    summary="",
                    pairing_id=ids["p2"] if activity is ActivityKind.VISIT else None,
                    created_at=at(2026, 1, 1),
                )
            )
        # An org-life day with a leave, later today.
        meeting = Meeting(
            organization_id=world.orgs["B1"],
            kind=MeetingKind.ORG_LIFE,
            period="2026-11",
            held_on=date(2026, 11, 3),
            starts_at=at(2026, 11, 3, 14),
            checkin_code="123456",
            status=MeetingStatus.PLANNED,
        )
        session.add(meeting)
        session.flush()
        assert meeting.id is not None
        session.add(
            Attendance(
                meeting_id=meeting.id,
                member_id=world.members["m1"],
                status=AttendanceStatus.LEAVE,
                at=at(2026, 11, 2, 20),
            )
        )
    return ids


def _facts(database: Database, moment: datetime, **scope: object) -> Facts:
    """Reads the facts at `moment`, the whole city or scoped."""
    with database.session() as session:
        return load_facts(session, now=moment, holidays=HOLIDAYS, **scope)  # type: ignore[arg-type]


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.strftime("%m-%d"))
def test_scoped_pending_is_the_citys(database: Database, world: World, moment: datetime) -> None:
    _widen(database, world)
    city = _facts(database, moment)
    for org_id in world.orgs.values():
        with database.session() as session:
            scope = scope_of(session, org_id)
        scoped = _facts(database, moment, org_ids=scope, parts=Part.LEADS)
        assert pending_for(scoped, org_id) == pending_for(city, org_id), org_id
        assert _facts(database, moment, around=org_id, parts=Part.LEADS) == scoped


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.strftime("%m-%d"))
def test_scoped_group_facts_are_the_citys(
    database: Database, world: World, moment: datetime
) -> None:
    _widen(database, world)
    city = _facts(database, moment)
    quarter, year = str(Quarter.of(moment.date())), str(moment.year)
    for org_id in world.orgs.values():
        with database.session() as session:
            scope = scope_of(session, org_id)
        scoped = _facts(database, moment, org_ids=scope, parts=Part.NONE)
        assert _facts(database, moment, around=org_id, parts=Part.NONE) == scoped
        assert scoped.alliances == tuple(a for a in city.alliances if a in scoped.alliances)
        assert scoped.pairings == tuple(p for p in city.pairings if p in scoped.pairings)
        assert {o: city.orgs[o] for o in scope} == scoped.orgs
        # The records of the organization's own groups, whose units are all in the scope.
        alliances = {a.id for a in scoped.alliances if any(u.org_id == org_id for u in a.units)}
        pairings = {p.id for p in scoped.pairings if org_id in p.org_ids}
        for name in ("alliance_joint", "alliance_theme", "pairing_joint"):
            groups = pairings if name.startswith("pairing") else alliances
            held = {h for h in getattr(scoped, name) if h[0] in groups}
            assert held == {h for h in getattr(city, name) if h[0] in groups}, name
        assert {p: scoped.pairing_visits.get(p) for p in pairings} == {
            p: city.pairing_visits.get(p) for p in pairings
        }
        looked_up = {(FilingKind.LEDGER, org_scope(org), quarter) for org in scope} | {
            (kind, group, year)
            for kind in (FilingKind.ANNUAL_PLAN, FilingKind.YEAR_SUMMARY)
            for group in (
                *(alliance_scope(a.id) for a in scoped.alliances),
                *(pairing_scope(p.id) for p in scoped.pairings),
            )
        }
        assert scoped.filings == city.filings & looked_up
        for org in scope:
            assert scoped.config(org_id=org) == city.config(org_id=org)
        for alliance in scoped.alliances:
            assert scoped.config(alliance_id=alliance.id) == city.config(alliance_id=alliance.id)
        for pairing in scoped.pairings:
            lead = pairing.lead_org_id
            assert scoped.config(org_id=lead) == city.config(org_id=lead)


def test_parts_left_out_are_empty(database: Database, world: World) -> None:
    ids = _widen(database, world)
    moment = at(2026, 11, 3, 8)
    with database.session() as session:
        scope = scope_of(session, world.orgs["B1"])
    bare = _facts(database, moment, org_ids=scope, parts=Part.NONE)
    assert (bare.members, bare.roles, bare.accounts, bare.movements) == ({}, {}, {}, ())
    assert (bare.orglife, bare.excused, bare.members_by_org) == ({}, {}, {})
    leads = _facts(database, moment, org_ids=scope, parts=Part.LEADS)
    # Those with a role, and the mobile members (a partner's too), but not the departed.
    assert set(leads.members) == {
        world.members[name] for name in ("sec", "deputy", "liaison", "sec2")
    } | {ids[name] for name in ("sec3", "sec4", "mobile2")}
    assert leads.roles[(world.orgs["B2"], RoleKind.SECRETARY)] == (world.members["sec2"],)
    assert (world.orgs["B2"], RoleKind.LIAISON) not in leads.roles
    assert not any(kind is RoleKind.MEMBER for _, kind in leads.roles)
    full = _facts(database, moment, org_ids=scope, parts=Part.ALL)
    assert full.members_by_org[world.orgs["B1"]] == tuple(
        world.members[name] for name in ("sec", "deputy", "liaison", "m1", "m2")
    )
    # Who is excused counts for a day still to start, and only then.
    [(meeting_id, excused)] = full.excused.items()
    assert excused == {world.members["m1"]}
    assert full.orglife[(world.orgs["B1"], "2026-11")].id == meeting_id
    assert _facts(database, at(2026, 11, 3, 15), org_ids=scope).excused == {}


def test_mobile_members_of_partners_count_and_others_do_not(
    database: Database, world: World
) -> None:
    ids = _widen(database, world)
    moment = at(2026, 3, 2, 10)
    with database.session() as session:
        facts = Reminders(session, now=moment, tz=SH, holidays=HOLIDAYS).facts_for(world.orgs["B1"])
    assert [m.member_id for m in facts.movements] == [ids["mobile2"]]
    b2 = OrgView(world.orgs["B2"], "B2", "第2支部", OrgKind.BRANCH)
    secretary = MemberView(
        id=world.members["sec2"],
        name="sec2",
        org=b2,
        status=MemberStatus.FULL,
        locale=None,
        roles=frozenset({RoleKind.SECRETARY}),
    )
    with database.session() as session:
        owed = Reminders(session, now=moment, tz=SH, holidays=HOLIDAYS).pending(secretary)
    [mobile] = [o for o in owed if o.rule is Rule.MOBILE]
    assert mobile.values["member"] == "mobile2"
    city = _facts(database, moment)
    assert sorted(m.member_id for m in city.movements) == sorted(
        ids[name] for name in ("mobile2", "mobile5", "mobile7")
    )


def test_planning_reads_who_is_reachable_and_the_preview_reads_the_accounts(
    database: Database, world: World
) -> None:
    give_accounts(database, world, ("sec", "m1"))
    moment = at(2026, 11, 3, 8)
    planning = _facts(database, moment, parts=Part.ALL)
    assert planning.reachable == {world.members["sec"], world.members["m1"]}
    assert planning.accounts == {}
    preview = _facts(database, moment, parts=Part.ALL | Part.ACCOUNTS)
    assert preview.reachable == planning.reachable == set(preview.accounts)
    assert preview.preferred_account(world.members["m1"]) is not None
    assert _facts(database, moment, parts=Part.LEADS).reachable == frozenset()
