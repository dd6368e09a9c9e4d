"""The ledger (台账): activities members report, turned into entries after confirmation."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.core.domain import ActivityKind
from bot.core.names import clean_line
from bot.core.records import ActivityView
from bot.services.obligations.facts import home_of
from bot.services.organizations import org_view
from storage.models import Activity, ActivityPartner, AllianceUnit, Organization, PairingOrg


class Ledger:
    """Stores and reads ledger entries."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def record(
        self,
        *,
        org_id: int,
        reporter_id: int | None,
        kind: ActivityKind,
        held_on: date,
        title: str,
        participants: int,
        summary: str,
        partner_ids: list[int],
    ) -> ActivityView:
        """Stores a confirmed report with its partners and links it to a shared pairing or alliance."""
        partners = sorted(set(partner_ids) - {org_id})
        # Each entry counts where it belongs: a visit for the pairing, a theme day for the alliance.
        alliance_id, pairing_id = home_of(
            kind,
            alliance_id=self._shared_alliance(org_id, partners),
            pairing_id=self._shared_pairing(org_id, partners),
        )
        activity = Activity(
            organization_id=org_id,
            kind=kind,
            held_on=held_on,
            title=clean_line(title, limit=200),
            participants=participants,
            summary=summary.strip(),
            reporter_id=reporter_id,
            pairing_id=pairing_id,
            alliance_id=alliance_id,
            created_at=self.now,
        )
        self.session.add(activity)
        self.session.flush()
        assert activity.id is not None
        for partner in partners:
            self.session.add(ActivityPartner(activity_id=activity.id, organization_id=partner))
        self.session.flush()
        return self.view(activity)

    def _shared_pairing(self, org_id: int, partners: list[int]) -> int | None:
        """Returns a pairing that holds the reporter and every partner, if any."""
        if not partners:
            return None
        wanted = {org_id, *partners}
        rows = self.session.exec(
            select(PairingOrg.pairing_id, PairingOrg.organization_id).where(
                col(PairingOrg.organization_id).in_(wanted)
            )
        ).all()
        return _first_covering(rows, wanted)

    def _shared_alliance(self, org_id: int, partners: list[int]) -> int | None:
        """Returns an alliance that holds the reporter and every partner, if any."""
        if not partners:
            return None
        wanted = {org_id, *partners}
        rows = self.session.exec(
            select(AllianceUnit.alliance_id, AllianceUnit.organization_id).where(
                col(AllianceUnit.organization_id).in_(wanted)
            )
        ).all()
        return _first_covering(rows, wanted)

    def view(self, activity: Activity) -> ActivityView:
        """Builds the view of a ledger entry with its partners."""
        assert activity.id is not None
        org = self.session.get_one(Organization, activity.organization_id)
        partners = self.session.exec(
            select(Organization)
            .join(ActivityPartner, col(ActivityPartner.organization_id) == Organization.id)
            .where(ActivityPartner.activity_id == activity.id)
            .order_by(col(Organization.code))
        ).all()
        return ActivityView(
            id=activity.id,
            kind=activity.kind,
            held_on=activity.held_on,
            title=activity.title,
            participants=activity.participants,
            summary=activity.summary,
            org=org_view(org),
            partners=[org_view(p) for p in partners],
        )

    def of_org(self, org_id: int, first: date, last: date) -> list[ActivityView]:
        """Lists an organization's entries (as reporter or partner) between two dates."""
        as_partner = select(ActivityPartner.activity_id).where(
            ActivityPartner.organization_id == org_id
        )
        rows = self.session.exec(
            select(Activity)
            .where(
                (col(Activity.organization_id) == org_id) | col(Activity.id).in_(as_partner),
                Activity.held_on >= first,
                Activity.held_on <= last,
            )
            .order_by(col(Activity.held_on), col(Activity.id))
        ).all()
        return [self.view(row) for row in rows]


def _first_covering(rows: object, wanted: set[int]) -> int | None:
    """Returns the smallest group id whose members include every wanted organization."""
    groups: dict[int, set[int]] = {}
    for group_id, org_id in rows:  # type: ignore[attr-defined]
        groups.setdefault(group_id, set()).add(org_id)
    covering = sorted(group for group, orgs in groups.items() if wanted <= orgs)
    return covering[0] if covering else None
