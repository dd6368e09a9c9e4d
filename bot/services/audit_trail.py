"""The audit log as the committee reads it: privileged changes by people in its scope."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import AuditEntry, Member, Organization

SHOWN = 200


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audited change: when, who (and where they belong), what and to which subject."""

    at: datetime
    actor: str
    org_code: str
    action: str
    subject: str
    detail: str


def audit_entries(
    session: Session,
    *,
    org_ids: Collection[int],
    action: str | None = None,
    member: str | None = None,
    limit: int = SHOWN,
) -> list[AuditLine]:
    """Lists the newest changes made by members of `org_ids`, optionally by action or member.

    `member` is part of the actor's name (wildcards in it are taken literally).
    """
    if not org_ids:
        return []
    query = (
        select(AuditEntry, Member.name, Organization.code)
        .join(Member, col(Member.id) == col(AuditEntry.actor_id))
        .join(Organization, col(Organization.id) == col(Member.organization_id))
        .where(col(Member.organization_id).in_(sorted(org_ids)))
    )
    if action:
        query = query.where(col(AuditEntry.action) == action)
    if member:
        query = query.where(col(Member.name).contains(member, autoescape=True))
    rows = session.exec(query.order_by(col(AuditEntry.at).desc()).limit(limit)).all()
    return [
        AuditLine(
            at=entry.at,
            actor=name,
            org_code=code,
            action=entry.action,
            subject=entry.subject,
            detail=entry.detail,
        )
        for entry, name, code in rows
    ]
