"""Seeded worlds such as the demo: members in bulk, held meetings, attendance, counts, wipes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, case, delete, func, or_, update
from sqlmodel import Session, SQLModel, col, select

from bot.core.domain import MeetingStatus, MemberStatus, OrgKind, RoleKind
from bot.services.members import grant_role
from storage.models import (
    Activity,
    Alliance,
    AllianceUnit,
    Attendance,
    ChatAccount,
    Conversation,
    Invite,
    Meeting,
    Member,
    Organization,
    Pairing,
    Role,
    RotaOverride,
)
from storage.queries import insert_ignore_rows

# The tables a seeded world fills, as its counts name them.
COUNTED: dict[str, type[SQLModel]] = {
    "organizations": Organization,
    "members": Member,
    "roles": Role,
    "alliances": Alliance,
    "alliance_units": AllianceUnit,
    "pairings": Pairing,
    "meetings": Meeting,
    "attendance": Attendance,
    "activities": Activity,
    "rota_overrides": RotaOverride,
    "invites": Invite,
}


@dataclass(frozen=True, slots=True)
class NewMember:
    """A member to add to an organization, with their roles there."""

    name: str
    status: MemberStatus
    mobile: bool
    roles: tuple[RoleKind, ...]


def add_members(
    session: Session, *, org_id: int, members: Sequence[NewMember], created_at: datetime
) -> None:
    """Adds an organization's members and their roles."""
    rows = [
        Member(
            name=member.name,
            organization_id=org_id,
            status=member.status,
            mobile=member.mobile,
            created_at=created_at,
        )
        for member in members
    ]
    session.add_all(rows)
    session.flush()
    for row, member in zip(rows, members, strict=True):
        assert row.id is not None
        for role in member.roles:
            grant_role(session, org_id=org_id, member_id=row.id, role=role, on=created_at.date())


def active_members(session: Session, *, org_id: int) -> list[Member]:
    """Lists an organization's members who have not departed, oldest first."""
    return list(
        session.exec(
            select(Member)
            .where(Member.organization_id == org_id, Member.status != MemberStatus.DEPARTED)
            .order_by(col(Member.id))
        ).all()
    )


def hold_meetings(
    session: Session, *, meeting_ids: Sequence[int], before: date, titles: Mapping[int, str]
) -> list[int]:
    """Marks the planned meetings before a day held, titled by month; returns those it marked.

    The conditional UPDATE makes a second run skip the meetings already held.
    """
    if not meeting_ids:
        return []
    held = session.execute(
        update(Meeting)
        .where(
            col(Meeting.id).in_(list(meeting_ids)),
            col(Meeting.status) == MeetingStatus.PLANNED,
            col(Meeting.held_on) < before,
        )
        .values(
            status=MeetingStatus.HELD,
            title=case(
                *(
                    (col(Meeting.period).endswith(f"-{month:02d}"), title)
                    for month, title in titles.items()
                ),
                else_=col(Meeting.title),
            ),
        )
        .returning(col(Meeting.id))
        .execution_options(synchronize_session=False)
    ).scalars()
    return list(held)


def add_attendance(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Stores attendance answers in one statement, skipping members who already answered."""
    if rows:
        insert_ignore_rows(
            session, Attendance, rows=rows, conflict=("meeting_id", "member_id"), returning="id"
        )


def keep_live_invites(
    session: Session, *, org_ids: Sequence[int], now: datetime, ttl: timedelta
) -> dict[int, Invite]:
    """Keeps each member's newest live unused invite (its expiry moved on); deletes the rest.

    A code an earlier demo run printed stays valid, so running the demo again never breaks what
    someone copied; only expired or surplus unused invites go.
    """
    member_ids = select(Member.id).where(col(Member.organization_id).in_(list(org_ids)))
    unused = session.exec(
        select(Invite)
        .where(col(Invite.member_id).in_(member_ids), col(Invite.used_at).is_(None))
        .order_by(col(Invite.id))
    ).all()
    kept: dict[int, Invite] = {}
    for row in unused:
        if row.expires_at > now and row.member_id is not None:
            kept[row.member_id] = row
    stale = [row.id for row in unused if kept.get(row.member_id or 0) is not row]
    if stale:
        session.execute(delete(Invite).where(col(Invite.id).in_(stale)))
    for invite in kept.values():
        invite.expires_at = max(invite.expires_at, now + ttl)
        session.add(invite)
    session.flush()
    return kept


def unused_invite(
    session: Session, *, org_codes: Sequence[str], role: RoleKind, now: datetime
) -> str | None:
    """Returns an unused, unexpired invite code for `role` in one of the branches named."""
    branches = select(Organization.id).where(
        col(Organization.code).in_(list(org_codes)), Organization.kind != OrgKind.COMMITTEE
    )
    return session.exec(
        select(Invite.code)
        .where(
            col(Invite.organization_id).in_(branches),
            Invite.role == role,
            col(Invite.used_at).is_(None),
            Invite.expires_at > now,
        )
        .order_by(col(Invite.organization_id), col(Invite.id))
    ).first()


def wipe(
    session: Session,
    *,
    org_codes: Sequence[str],
    alliance_codes: Sequence[str],
    pairing_codes: Sequence[str],
) -> None:
    """Deletes organizations, alliances and pairings by code and every row that refers to them."""
    tables = SQLModel.metadata.sorted_tables
    doomed: dict[str, set[Any]] = {
        "organization": set(
            session.exec(select(Organization.id).where(col(Organization.code).in_(org_codes)))
        ),
        "alliance": set(
            session.exec(select(Alliance.id).where(col(Alliance.code).in_(alliance_codes)))
        ),
        "pairing": set(
            session.exec(select(Pairing.id).where(col(Pairing.code).in_(pairing_codes)))
        ),
    }
    # Follow every foreign key until nothing new refers to a doomed row; tables added later are
    # covered as long as they are on the metadata.
    fresh = set(doomed)
    while fresh:
        found_in: set[str] = set()
        for table in tables:
            key = _single_key(table)
            targets = {fk.column.table.name for fk in table.foreign_keys}
            if key is None or not targets & fresh:
                continue
            refers = [
                fk.parent.in_(doomed[fk.column.table.name])
                for fk in table.foreign_keys
                if doomed.get(fk.column.table.name)
            ]
            found = set(session.execute(select(key).where(or_(*refers))).scalars())
            new = found - doomed.setdefault(table.name, set())
            if new:
                doomed[table.name] |= new
                found_in.add(table.name)
        fresh = found_in
    accounts = doomed.get(ChatAccount.__tablename__, set())  # type: ignore[arg-type]
    for channel, external_id in session.exec(
        select(ChatAccount.channel, ChatAccount.external_id).where(
            col(ChatAccount.id).in_(accounts)
        )
    ).all():
        session.execute(
            delete(Conversation).where(
                col(Conversation.channel) == channel, col(Conversation.user_id) == external_id
            )
        )
    for table in reversed(tables):
        key = _single_key(table)
        ids = doomed.get(table.name)
        if key is not None and ids:
            session.execute(delete(table).where(key.in_(ids)))
    session.expunge_all()


def _single_key(table: Table) -> Column[Any] | None:
    """Returns a table's primary-key column when it has exactly one."""
    columns = list(table.primary_key.columns)
    return columns[0] if len(columns) == 1 else None


def row_counts(session: Session) -> dict[str, int]:
    """Counts the rows of the tables a seeded world fills."""
    session.flush()
    return {
        name: int(session.exec(select(func.count()).select_from(model)).one())
        for name, model in COUNTED.items()
    }
