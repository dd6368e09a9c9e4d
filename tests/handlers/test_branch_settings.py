"""支部设置 (/settings): the secretary sees and changes the branch's own settings in chat."""

from __future__ import annotations

from sqlmodel import select

from storage.engine import Database
from storage.models import AuditEntry, Organization
from tests.factories import World
from tests.handlers.test_status import english
from tests.helpers import Chat


def test_secretary_sees_and_changes_the_branch_settings(
    chat: Chat, world: World, database: Database
) -> None:
    sec = english(chat, world, "sec")
    shown = sec.say("/settings")
    assert "Settings of 第1支部:" in shown
    assert "• Organization-life time: 09:00" in shown
    assert "• Liaison officer: liaison" in shown
    assert sec.say("支部设置 时间 14:30") == "Organization-life time is now: 14:30"
    assert sec.say("支部设置 地点 党群服务中心") == "Organization-life venue is now: 党群服务中心"
    assert (
        sec.say("支部设置 节假日 顺延")
        == "On a statutory holiday is now: move to the next working day"
    )
    assert sec.say("支部设置 联络员 m1") == "Liaison officer is now: m1"
    assert "14:61 is not a time of day" in sec.say("支部设置 时间 14:61")
    with database.session() as session:
        org = session.get_one(Organization, world.orgs["B1"])
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "org.set")).all()
    assert (org.orglife_time, org.orglife_venue, org.holiday_policy) == (
        "14:30",
        "党群服务中心",
        "next_workday",
    )
    assert len(audits) == 4
    assert {audit.actor_id for audit in audits} == {world.members["sec"]}
    assert "• Liaison officer: liaison、m1" in sec.say("/settings")


def test_members_cannot_change_the_branch_settings(
    chat: Chat, world: World, database: Database
) -> None:
    member = english(chat, world, "m1")
    assert "secretary" in member.say("支部设置 时间 14:30")
    with database.session() as session:
        assert session.get_one(Organization, world.orgs["B1"]).orglife_time == "09:00"


def test_a_new_org_life_time_moves_the_days_already_planned(chat: Chat, world: World) -> None:
    sec = english(chat, world, "sec")
    # 日程 stores the org-life days of the coming months at the time of the day.
    assert "December 1, 2026 (Tuesday) 09:00" in sec.say("日程")
    sec.say("支部设置 时间 14:30")
    after = sec.say("日程")
    # Today's day has begun: it stays.
    assert "November 3, 2026 (Tuesday) 09:00" in after
    assert "December 1, 2026 (Tuesday) 14:30" in after
    assert "January 5, 2027 (Tuesday) 14:30" in after
