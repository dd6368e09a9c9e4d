"""Mobile members: the secretary marks a move, the member files the three reports, nudges stop."""

from __future__ import annotations

from sqlmodel import select

from storage.engine import Database
from storage.models import AuditEntry, Member
from storage.reminders import MobileMovement, MovementDirection
from tests.factories import World
from tests.helpers import Chat


def test_leaving_then_reports(chat: Chat, world: World, database: Database) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "Usage" in sec.say("流动 m1")
    assert "No member of your branch is called nobody" in sec.say("流动 nobody 外出")
    reply = sec.say("流动 m1 外出 上海浦东")
    assert "Marked m1 as a mobile member" in reply
    assert "report of where you are going" in reply
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "Usage" in member.say("流动报告 随便")
    assert "No move of yours owes that report" in member.say("流动报告 报到")
    assert "All reports for this move are filed" in member.say("流动报告 去向")
    assert "No move of yours owes that report" in member.say("流动报告 去向")
    with database.session() as session:
        movement = session.exec(select(MobileMovement)).one()
        marked = session.get_one(Member, world.members["m1"])
        audit = [row.action for row in session.exec(select(AuditEntry)).all()]
    assert movement.direction is MovementDirection.LEAVING and movement.place == "上海浦东"
    assert movement.whereabouts_at is not None and marked.mobile
    assert "mobile.mark" in audit


def test_arrival_owes_two_reports_and_members_cannot_mark(chat: Chat, world: World) -> None:
    member = chat.bound(world.invites["m2"])
    member.say("/lang en")
    assert "Only the branch secretary" in member.say("流动 m1 外出")
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    reply = sec.say("流动 m2 到达 江海新区")
    assert "report on arrival" in reply and "workplace" in reply
    assert "Still owed: report to the party organization of your workplace" in member.say(
        "流动报告 报到"
    )
    assert "All reports" in member.say("/mobilereport workplace")
