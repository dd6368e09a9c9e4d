"""Builds small, known organizational worlds straight into the database for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.core.domain import DutyPeriod, MemberStatus, OrgKind, RoleKind, UnitKind
from storage.engine import Database
from storage.models import (
    Alliance,
    AllianceUnit,
    Invite,
    Member,
    Organization,
    Pairing,
    PairingOrg,
    Role,
)


@dataclass
class World:
    """Ids and invite codes of the test world, by short names."""

    orgs: dict[str, int] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)
    invites: dict[str, str] = field(default_factory=dict)
    alliance_id: int = 0
    pairing_id: int = 0


# name -> (org, roles)
PEOPLE: dict[str, tuple[str, tuple[RoleKind, ...]]] = {
    "sec": ("B1", (RoleKind.SECRETARY, RoleKind.MEMBER)),
    "deputy": ("B1", (RoleKind.DEPUTY, RoleKind.MEMBER)),
    "liaison": ("B1", (RoleKind.LIAISON, RoleKind.MEMBER)),
    "m1": ("B1", (RoleKind.MEMBER,)),
    "m2": ("B1", (RoleKind.MEMBER,)),
    "sec2": ("B2", (RoleKind.SECRETARY, RoleKind.MEMBER)),
    "m3": ("B2", (RoleKind.MEMBER,)),
}


def add_org(
    session: object, *, code: str, name: str, kind: OrgKind, parent: int | None, now: datetime
) -> int:
    """Inserts an organization and returns its id."""
    org = Organization(code=code, name=name, kind=kind, parent_id=parent, created_at=now)
    session.add(org)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    assert org.id is not None
    return org.id


def build_world(database: Database, now: datetime) -> World:
    """Creates a committee, four branches, an alliance of them, a pairing and seven members."""
    world = World()
    with database.session() as session:
        world.orgs["C"] = add_org(
            session, code="C", name="街道党工委", kind=OrgKind.COMMITTEE, parent=None, now=now
        )
        for index, code in enumerate(("B1", "B2", "B3", "B4"), 1):
            world.orgs[code] = add_org(
                session,
                code=code,
                name=f"第{index}支部",
                kind=OrgKind.BRANCH,
                parent=world.orgs["C"],
                now=now,
            )
        alliance = Alliance(
            code="ALLY", name="红湾联盟", rota_start=date(2026, 1, 1), duty_period=DutyPeriod.MONTH
        )
        session.add(alliance)
        session.flush()
        assert alliance.id is not None
        world.alliance_id = alliance.id
        for order, (code, kind) in enumerate(
            (
                ("B1", UnitKind.PRESIDENT),
                ("B2", UnitKind.PRESIDENT),
                ("B3", UnitKind.PRESIDENT),
                ("B4", UnitKind.MEMBER),
            ),
            1,
        ):
            session.add(
                AllianceUnit(
                    alliance_id=alliance.id,
                    organization_id=world.orgs[code],
                    kind=kind,
                    rotation_order=order,
                )
            )
        pairing = Pairing(
            code="P1",
            name="一支部-二支部结对",
            lead_org_id=world.orgs["B1"],
            agreement_start=date(2026, 1, 1),
        )
        session.add(pairing)
        session.flush()
        assert pairing.id is not None
        world.pairing_id = pairing.id
        for code in ("B1", "B2"):
            session.add(PairingOrg(pairing_id=pairing.id, organization_id=world.orgs[code]))
        for name, (org_code, roles) in PEOPLE.items():
            member = Member(
                name=name,
                organization_id=world.orgs[org_code],
                status=MemberStatus.FULL,
                created_at=now,
            )
            session.add(member)
            session.flush()
            assert member.id is not None
            world.members[name] = member.id
            for role in roles:
                session.add(
                    Role(organization_id=world.orgs[org_code], member_id=member.id, role=role)
                )
            code = f"INV{name.upper()}X"[:16]
            session.add(
                Invite(
                    code=code,
                    organization_id=world.orgs[org_code],
                    role=roles[0],
                    member_id=member.id,
                    created_at=now,
                    expires_at=now + timedelta(days=7),
                )
            )
            world.invites[name] = code
    return world
