"""Reminders in chat: mute and unmute, what the branch owes, and marking reports submitted."""

from __future__ import annotations

from sqlmodel import select

from storage.engine import Database
from storage.models import AuditEntry, Member
from storage.reminders import Filing, FilingKind, FilingMethod
from tests.factories import World
from tests.helpers import Chat


def english(chat: Chat, world: World, name: str) -> Chat:
    """Binds a console user as the named member and switches replies to English."""
    member = chat.as_(f"u-{name}").bound(world.invites[name])
    member.say("/lang en")
    return member


def muted(database: Database, world: World, name: str) -> bool:
    """Tells whether a member is muted."""
    with database.session() as session:
        return session.get_one(Member, world.members[name]).muted


def filings(database: Database) -> list[tuple[FilingKind, str, str, FilingMethod]]:
    """Lists the recorded filings."""
    with database.session() as session:
        return sorted(
            (row.kind, row.scope, row.period, row.method)
            for row in session.exec(select(Filing)).all()
        )


def test_mute_and_unmute_by_command_and_keyword(
    chat: Chat, world: World, database: Database
) -> None:
    member = english(chat, world, "m1")
    reply = member.say("/mute")
    assert "Muted." in reply and "organization-life day" in reply
    assert muted(database, world, "m1")
    assert "already muted" in member.say("免打扰")
    # 取消免打扰 is its own command, not 取消 (cancel) followed by text.
    assert "on again" in member.say("取消免打扰")
    assert not muted(database, world, "m1")
    assert "not muted" in member.say("/unmute")
    assert not muted(database, world, "m1")


def test_mute_needs_a_bound_member(chat: Chat, world: World, database: Database) -> None:
    reply = chat.say("/mute")
    assert "绑定" in reply
    assert not any(muted(database, world, name) for name in world.members)


def test_pending_lists_what_the_branch_owes(chat: Chat, world: World) -> None:
    sec = english(chat, world, "sec")
    reply = sec.say("/pending")
    assert "第1支部 still owes, Q4 2026:" in reply
    assert "Joint meeting of 红湾联盟 for Q4 2026: not recorded yet (第1支部 convenes)." in reply
    assert "Ledger of 第1支部 for Q4 2026: not exported or submitted yet" in reply
    assert "Visits of 一支部-二支部结对: 0 of 3 this year, 3 expected by now." in reply
    assert "Opinion solicitation of 第1支部 for 11/2026: none recorded yet." in reply
    liaison = english(chat, world, "liaison")
    assert liaison.say("待办") == reply


def test_pending_is_for_secretaries_and_liaisons(chat: Chat, world: World) -> None:
    member = english(chat, world, "m1")
    assert "Only secretaries and liaison officers" in member.say("/pending")


def test_submitting_the_ledger_stops_its_reminders_and_shows_in_pending(
    chat: Chat, world: World, database: Database
) -> None:
    sec = english(chat, world, "sec")
    reply = sec.say("已报送")
    assert "Marked the Q4 2026 ledger of 第1支部 as submitted" in reply
    scope = f"org:{world.orgs['B1']}"
    assert filings(database) == [(FilingKind.LEDGER, scope, "2026Q4", FilingMethod.SUBMITTED)]
    assert "already marked submitted" in sec.say("/submitted ledger")
    assert len(filings(database)) == 1
    assert "Ledger of" not in sec.say("/pending")
    with database.session() as session:
        actions = [row.action for row in session.exec(select(AuditEntry)).all()]
    assert actions.count("filing.submit") == 2


def test_submitting_the_plan_covers_every_group_the_branch_leads(
    chat: Chat, world: World, database: Database
) -> None:
    sec = english(chat, world, "sec")
    reply = sec.say("/submitted 计划")
    assert (
        "Marked the 2026 annual work plan as submitted for: 红湾联盟, 一支部-二支部结对." in reply
    )
    assert {(kind, scope) for kind, scope, _, _ in filings(database)} == {
        (FilingKind.ANNUAL_PLAN, f"alliance:{world.alliance_id}"),
        (FilingKind.ANNUAL_PLAN, f"pairing:{world.pairing_id}"),
    }
    assert "year-end summary" in sec.say("已报送 总结")
    sec2 = english(chat, world, "sec2")
    assert "leads no alliance or pairing" in sec2.say("/submitted summary")


def test_submitted_refuses_bad_words_and_plain_members(
    chat: Chat, world: World, database: Database
) -> None:
    sec = english(chat, world, "sec")
    assert "Send /submitted for this quarter's ledger" in sec.say("/submitted everything")
    member = english(chat, world, "m1")
    assert "Only the branch secretary or deputy secretary" in member.say("/submitted")
    assert filings(database) == []
