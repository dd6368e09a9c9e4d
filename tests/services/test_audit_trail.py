"""The audit log as the committee reads it: by organization, member and action."""

from __future__ import annotations

from sqlmodel import Session

from bot.services.audit_trail import audit_entries
from storage.engine import Database
from storage.models import AuditEntry, Member
from tests.factories import World
from tests.services.test_stats import at


def audit(session: Session, world: World, who: str, action: str, minute: int) -> None:
    """Stores one audited change by `who`."""
    session.add(
        AuditEntry(
            at=at(2026, 11, 3, 9, minute),
            actor_id=world.members[who],
            action=action,
            subject=f"org:{who}",
            detail="{}",
        )
    )


def test_entries_are_filtered_by_member_organization_and_action(
    database: Database, world: World
) -> None:
    everyone = frozenset(world.orgs.values())
    with database.session() as session:
        session.get_one(Member, world.members["sec2"]).name = "王100%_五"
        audit(session, world, "sec", "org.set", 1)
        audit(session, world, "deputy", "filing.submit", 2)
        audit(session, world, "sec2", "filing.submit", 3)
        session.flush()
        by_name = audit_entries(session, org_ids=everyone, member="deputy")
        assert [(e.actor, e.action) for e in by_name] == [("deputy", "filing.submit")]
        # Part of a name finds its member; % and _ in it are plain characters.
        assert [e.actor for e in audit_entries(session, org_ids=everyone, member="100%_")] == [
            "王100%_五"
        ]
        assert audit_entries(session, org_ids=everyone, member="1_0") == []
        assert audit_entries(session, org_ids=everyone, member="%") != []
        both = audit_entries(session, org_ids=everyone, member="e", action="filing.submit")
        assert [e.actor for e in both] == ["deputy"]
        # A member outside the organizations asked for is not listed, whatever the name.
        assert audit_entries(session, org_ids={world.orgs["B1"]}, member="王") == []
        assert [e.actor for e in audit_entries(session, org_ids={world.orgs["B2"]})] == [
            "王100%_五"
        ]
