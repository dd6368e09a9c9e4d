"""Organizations: lookup by code, the tree, and who an organization works with."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.core.domain import OrgKind
from bot.core.records import OrgView
from bot.services.obligations.fact_queries import packed_among
from storage.models import AllianceUnit, Organization, PairingOrg

# Deeper than any real tree (committee, general branch, branch); stops a corrupt cycle.
MAX_DEPTH = 8


def org_view(org: Organization) -> OrgView:
    """Returns the handler-facing view of an organization row."""
    assert org.id is not None
    return OrgView(id=org.id, code=org.code, name=org.name, kind=org.kind)


@dataclass(frozen=True, slots=True)
class OrgEntry:
    """An organization with its parent's code, as the tree lists it."""

    org: OrgView
    parent_code: str | None


class Organizations:
    """Reads organizations and their partners."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_code(self, code: str) -> OrgView | None:
        """Finds an organization by its code (case-insensitive)."""
        row = self.session.exec(
            select(Organization).where(col(Organization.code) == code.strip().upper())
        ).first()
        return org_view(row) if row else None

    def get(self, org_id: int) -> OrgView:
        """Returns an organization by id."""
        return org_view(self.session.get_one(Organization, org_id))

    def row(self, org_id: int) -> Organization:
        """Returns the organization row (for services that need its settings)."""
        return self.session.get_one(Organization, org_id)

    def among(self, org_ids: Collection[int]) -> list[OrgView]:
        """Lists the given organizations (a principal's scope), ordered by code; only those."""
        if not org_ids:
            return []
        arrays = self.session.get_bind().dialect.name == "postgresql"
        statement = (
            select(Organization)
            .where(packed_among(Organization.id, "orgs", arrays=arrays))
            .order_by(col(Organization.code))
        )
        rows = self.session.exec(statement, params={"orgs": sorted(org_ids)})
        return [org_view(row) for row in rows]

    def with_codes(self, codes: Collection[str]) -> list[OrgView]:
        """Lists the organizations with these codes, ordered by code."""
        if not codes:
            return []
        rows = self.session.exec(
            select(Organization)
            .where(col(Organization.code).in_(sorted(codes)))
            .order_by(col(Organization.code))
        )
        return [org_view(row) for row in rows]

    def all(self) -> list[OrgView]:
        """Lists every organization, ordered by code."""
        rows = self.session.exec(select(Organization).order_by(col(Organization.code)))
        return [org_view(row) for row in rows]

    def tree(self) -> list[OrgEntry]:
        """Lists every organization, ordered by code, each with its parent's code."""
        rows = self.session.exec(select(Organization).order_by(col(Organization.code))).all()
        codes = {row.id: row.code for row in rows}
        return [
            OrgEntry(org_view(row), codes.get(row.parent_id) if row.parent_id else None)
            for row in rows
        ]

    def partners(self, org_id: int) -> list[OrgView]:
        """Lists the organizations this one is paired or allied with, by code."""
        pairing_ids = select(PairingOrg.pairing_id).where(PairingOrg.organization_id == org_id)
        alliance_ids = select(AllianceUnit.alliance_id).where(
            AllianceUnit.organization_id == org_id
        )
        paired = select(PairingOrg.organization_id).where(
            col(PairingOrg.pairing_id).in_(pairing_ids)
        )
        allied = select(AllianceUnit.organization_id).where(
            col(AllianceUnit.alliance_id).in_(alliance_ids)
        )
        rows = self.session.exec(
            select(Organization)
            .where(
                col(Organization.id).in_(paired) | col(Organization.id).in_(allied),
                col(Organization.id) != org_id,
            )
            .order_by(col(Organization.code))
        )
        return [org_view(row) for row in rows]


@dataclass(frozen=True, slots=True)
class OrgTitle:
    """How a document names an organization: its full name and the committee it reports to."""

    name: str
    full_name: str
    committee: str


def org_title(session: Session, org_id: int) -> OrgTitle:
    """Names an organization in full (its parents' names first) with its top committee."""
    chain: list[Organization] = []
    cursor: int | None = org_id
    # Parents form a short tree (committee → general branch → branch); a cycle is cut off.
    while cursor is not None and len(chain) < MAX_DEPTH:
        row = session.get_one(Organization, cursor)
        chain.append(row)
        cursor = row.parent_id
    chain.reverse()
    full = ""
    for row in chain:
        # A name that already carries its parent's ("江海区镇党工委机关支部") is not doubled.
        full = row.name if row.name.startswith(full) else full + row.name
    committee = next((row.name for row in chain if row.kind is OrgKind.COMMITTEE), "")
    return OrgTitle(name=chain[-1].name, full_name=full, committee=committee)
