"""The audit log as the committee reads it: by organization, member and action."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlmodel import Session, col, select

from bot.core.domain import OrgKind
from bot.services.audit_trail import MAX_SUBJECT, act_for_account, audit_entries, record_change
from bot.services.console_access import ConsoleAccess
from storage.engine import Database
from storage.models import AuditEntry, Member
from tests.factories import World, add_org
from tests.services.test_stats import at

NOW = at(2026, 11, 3, 9, 30)


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


def test_a_console_accounts_changes_are_listed_under_its_committee(
    database: Database, world: World
) -> None:
    with database.session() as session:
        other = add_org(
            session, code="C2", name="另一党工委", kind=OrgKind.COMMITTEE, parent=None, now=NOW
        )
        access = ConsoleAccess(session, NOW, idle=timedelta(minutes=30))
        staff = access.add_account(
            login="staff", name="组织委员", org_code="C", password="correct horse battery"
        )
        act_for_account(session, staff)
        # Any audited change the unit of work makes is the account's, a member's stays theirs.
        session.add(AuditEntry(at=NOW, action="reminder.set", subject="org:3:notice_time"))
        audit(session, world, "sec", "org.set", 1)
        session.flush()
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        assert [(row.actor_id, row.account_id) for row in rows] == [
            (None, staff),
            (world.members["sec"], None),
        ]
        committee = access.subtree(world.orgs["C"])
        lines = audit_entries(session, org_ids=committee, action="reminder.set")
        assert [(e.actor, e.org_code, e.staff) for e in lines] == [("组织委员", "C", True)]
        assert [e.actor for e in audit_entries(session, org_ids=committee, member="组织")] == [
            "组织委员"
        ]
        # Newest first: the member's entry is of 09:01.
        assert [e.actor for e in audit_entries(session, org_ids=committee)] == [
            "组织委员",
            "sec",
        ]
        # Another committee does not see it; nor does a branch of this one.
        assert audit_entries(session, org_ids=access.subtree(other)) == []
        assert audit_entries(session, org_ids={world.orgs["B1"]}, action="reminder.set") == []


def test_a_unit_of_work_without_an_account_audits_as_before(
    database: Database, world: World
) -> None:
    with database.session() as session:
        session.add(AuditEntry(at=NOW, action="console.account", subject="org:C"))
    with database.session() as session:
        [row] = session.exec(select(AuditEntry)).all()
    assert (row.actor_id, row.account_id) == (None, None)


def test_one_writer_keeps_the_subject_within_its_column_and_the_details_readable(
    database: Database, world: World
) -> None:
    with database.session() as session:
        record_change(
            session,
            now=NOW,
            actor_id=world.members["sec"],
            action="org.set",
            subject="org:" + "B" * 300,
            before="09:00",
            after="党群服务中心",
            on=date(2026, 12, 1),
        )
    with database.session() as session:
        entry = session.exec(select(AuditEntry)).one()
    assert len(entry.subject) == MAX_SUBJECT and entry.subject.startswith("org:BBB")
    assert json.loads(entry.detail) == {
        "before": "09:00",
        "after": "党群服务中心",
        "on": "2026-12-01",
    }
    # Chinese stays readable in the stored text (no \u escapes).
    assert "党群服务中心" in entry.detail
