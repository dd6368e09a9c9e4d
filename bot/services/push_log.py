"""The reminder pushes of some organizations' members, by status, and a second try for dead ones."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.services.audit_trail import record_change
from storage import outbox
from storage.models import Member
from storage.reminders import OutboxStatus

SHOWN = 100


@dataclass(frozen=True, slots=True)
class PushLine:
    """One push as the console lists it."""

    id: int
    rule: str
    recipient: str
    status: OutboxStatus
    attempts: int
    created_at: datetime
    last_error: str
    text: str


@dataclass(frozen=True, slots=True)
class PushLog:
    """The counts per status and the newest pushes of the chosen status."""

    counts: dict[OutboxStatus, int]
    lines: list[PushLine]


def push_log(session: Session, *, org_ids: Collection[int], status: OutboxStatus | None) -> PushLog:
    """Lists the newest pushes to members of `org_ids`, optionally of one status."""
    scope = sorted(org_ids)
    rows = outbox.list_outbox(
        session, statuses=(status,) if status else (), limit=SHOWN, org_ids=scope
    )
    names = dict(
        session.exec(
            select(Member.id, Member.name).where(
                col(Member.id).in_(sorted({row.member_id for row in rows}))
            )
        ).all()
    )
    return PushLog(
        counts=outbox.count_by_status(session, org_ids=scope),
        lines=[
            PushLine(
                id=row.id,
                rule=row.rule,
                recipient=names.get(row.member_id, "?"),
                status=row.status,
                attempts=row.attempts,
                created_at=row.created_at,
                last_error=row.last_error,
                text=row.text,
            )
            for row in rows
        ],
    )


def requeue_dead_pushes(
    session: Session, *, org_ids: Collection[int], now: datetime, actor_id: int | None
) -> int:
    """Gives the dead pushes to members of `org_ids` a fresh round of attempts (audited)."""
    count = outbox.requeue_dead(session, now=now, org_ids=sorted(org_ids))
    record_change(
        session,
        now=now,
        actor_id=actor_id,
        action="outbox.requeue",
        subject="orgs:" + ",".join(str(org) for org in sorted(org_ids)),
        requeued=count,
    )
    return count
