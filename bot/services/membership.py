"""The member list operators read (ids, branches, roles, bound channels), without personal details."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.core.domain import MemberStatus, RoleKind
from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from bot.services.members import Members
from storage.models import ChatAccount, Member, Organization, Role

# Roles listed most senior first.
ROLE_ORDER = (
    RoleKind.SECRETARY,
    RoleKind.DEPUTY,
    RoleKind.COMMITTEE,
    RoleKind.LIAISON,
    RoleKind.MEMBER,
)


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One member as `member list` shows them: no phone, nothing beyond what operators need."""

    id: int
    name: str
    org_code: str
    status: MemberStatus
    mobile: bool
    roles: tuple[RoleKind, ...]
    channels: tuple[str, ...]


def list_members(
    session: Session, *, org_code: str | None = None, departed: bool = False
) -> list[MemberRow]:
    """Lists the members (of one organization when given), by organization then name."""
    query = select(Member, Organization.code).join(
        Organization, col(Organization.id) == Member.organization_id
    )
    if org_code is not None:
        code = org_code.strip().upper()
        if session.exec(select(Organization.id).where(Organization.code == code)).first() is None:
            raise ServiceError("org_unknown_code", value=code)
        query = query.where(Organization.code == code)
    if not departed:
        query = query.where(col(Member.status) != MemberStatus.DEPARTED)
    rows = session.exec(query.order_by(col(Organization.code), col(Member.name), col(Member.id)))
    found = [(member, code) for member, code in rows]
    ids = [member.id for member, _ in found]
    roles: dict[int, set[RoleKind]] = defaultdict(set)
    channels: dict[int, set[str]] = defaultdict(set)
    if ids:
        for member_id, role in session.exec(
            select(Role.member_id, Role.role).where(col(Role.member_id).in_(ids))
        ):
            roles[member_id].add(RoleKind(role))
        for member_id, channel in session.exec(
            select(ChatAccount.member_id, ChatAccount.channel).where(
                col(ChatAccount.member_id).in_(ids)
            )
        ):
            channels[member_id].add(str(channel))
    result = []
    for member, code in found:
        assert member.id is not None
        result.append(
            MemberRow(
                id=member.id,
                name=member.name,
                org_code=code,
                status=member.status,
                mobile=member.mobile,
                roles=tuple(role for role in ROLE_ORDER if role in roles[member.id]),
                channels=tuple(sorted(channels[member.id])),
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class MemberInvite:
    """An invite that binds a chat account to one stored member."""

    code: str
    member: MemberRow
    expires_at: datetime


def invite_member(
    session: Session, *, member_id: int, now: datetime, ttl: timedelta
) -> MemberInvite:
    """Creates a single-use invite for a stored (imported) member, with their most senior role."""
    row = next((row for row in list_members(session) if row.id == member_id), None)
    if row is None:
        raise ServiceError("member_id_unknown", id=member_id)
    member = session.get_one(Member, member_id)
    invite = Members(session, now).create_invite(
        org_id=member.organization_id,
        role=row.roles[0] if row.roles else RoleKind.MEMBER,
        name=member.name,
        member_id=member_id,
        ttl=ttl,
    )
    record_change(
        session,
        now=now,
        actor_id=None,
        action="invite.create",
        subject=f"member:{member_id}",
        role=invite.role.value,
    )
    return MemberInvite(code=invite.code, member=row, expires_at=invite.expires_at)
