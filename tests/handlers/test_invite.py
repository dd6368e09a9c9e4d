"""Secretaries create invites in chat; the new member binds with them."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.core.domain import RoleKind
from storage.engine import Database
from storage.models import Invite, Member, Role
from tests.factories import World
from tests.helpers import Chat


def test_secretary_invites_a_new_liaison_who_binds(
    chat: Chat, world: World, database: Database
) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    reply = sec.say("邀请 联络员 张三")
    match = re.search(r": ([A-Z0-9]{8})\n", reply)
    assert match, reply
    newcomer = chat.as_("u-zhang")
    newcomer.say("/lang en")
    assert "张三" in newcomer.say(f"绑定 {match.group(1)}")
    with database.session() as session:
        member = session.exec(select(Member).where(Member.name == "张三")).one()
        roles = {
            row.role for row in session.exec(select(Role).where(Role.member_id == member.id)).all()
        }
    assert member.organization_id == world.orgs["B1"]
    assert roles == {RoleKind.LIAISON, RoleKind.MEMBER}


def test_members_cannot_invite_and_unknown_roles_are_refused(
    chat: Chat, world: World, database: Database
) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "Only the branch secretary" in member.say("/invite member")
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "Unknown role" in sec.say("/invite king")
    assert "too long" in sec.say("/invite member " + "长" * 150)
    with database.session() as session:
        assert len(session.exec(select(Invite)).all()) == len(world.invites)
