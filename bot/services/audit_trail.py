"""The audit log: privileged changes written as one entry each, read by the committee in its scope.

People are members, or committee staff signed in to the console with an account of their own.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, or_
from sqlmodel import Session, col, select

from storage.console import ConsoleAccount
from storage.models import AuditEntry, Member, Organization

SHOWN = 200
# The console account a unit of work acts for, kept on its session.
ACTING_ACCOUNT = "audit_account_id"
# The longest subject an entry keeps (the column's length).
MAX_SUBJECT = 200


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audited change: when, who (and where they belong), what and to which subject."""

    at: datetime
    actor: str
    org_code: str
    action: str
    subject: str
    detail: str
    # The actor is a console account (committee staff), not a member.
    staff: bool = False


def record_change(
    session: Session,
    *,
    now: datetime,
    actor_id: int | None,
    action: str,
    subject: str,
    **detail: object,
) -> None:
    """Records one privileged change in the audit log, its details as JSON."""
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor_id,
            action=action,
            subject=subject[:MAX_SUBJECT],
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )


def act_for_account(session: Session, account_id: int) -> None:
    """Names a console account as the actor of every audit entry this unit of work writes."""
    # Once here rather than at every audited change: a change the console makes through any
    # use case is the account's, whichever use case writes the entry.
    session.info[ACTING_ACCOUNT] = account_id
    if not event.contains(session, "before_flush", _stamp_account):
        event.listen(session, "before_flush", _stamp_account)


def _stamp_account(session: Session, _context: Any, _instances: Any) -> None:
    """Fills in the acting console account on the audit entries about to be written."""
    account_id = session.info.get(ACTING_ACCOUNT)
    for row in session.new:
        if isinstance(row, AuditEntry) and row.actor_id is None and row.account_id is None:
            row.account_id = account_id


def audit_entries(
    session: Session,
    *,
    org_ids: Collection[int],
    action: str | None = None,
    member: str | None = None,
    limit: int = SHOWN,
) -> list[AuditLine]:
    """Lists the newest changes made by members or console accounts of `org_ids`.

    Filtered optionally by action or by `member`, part of the actor's name (wildcards in it
    are taken literally).
    """
    if not org_ids:
        return []
    home = func.coalesce(col(Member.organization_id), col(ConsoleAccount.organization_id))
    query = (
        select(AuditEntry, Member.name, ConsoleAccount.name, Organization.code)
        .outerjoin(Member, col(Member.id) == col(AuditEntry.actor_id))
        .outerjoin(ConsoleAccount, col(ConsoleAccount.id) == col(AuditEntry.account_id))
        .join(Organization, col(Organization.id) == home)
        .where(home.in_(sorted(org_ids)))
    )
    if action:
        query = query.where(col(AuditEntry.action) == action)
    if member:
        query = query.where(
            or_(
                col(Member.name).contains(member, autoescape=True),
                col(ConsoleAccount.name).contains(member, autoescape=True),
            )
        )
    rows = session.exec(query.order_by(col(AuditEntry.at).desc()).limit(limit)).all()
    return [
        AuditLine(
            at=entry.at,
            actor=name if name is not None else account or "",
            org_code=code,
            action=entry.action,
            subject=entry.subject,
            detail=entry.detail,
            staff=name is None,
        )
        for entry, name, account, code in rows
    ]
