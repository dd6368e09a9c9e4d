"""The outbox: due pushes stored once under their idempotency key, claimed, sent and recorded."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, text, tuple_, update
from sqlalchemy import select as select_columns
from sqlalchemy.dialects import sqlite
from sqlmodel import Session, col, select

from bot.core.inbound import Channel
from storage.models import ChatAccount, Member
from storage.reminders import OutboxMessage, OutboxStatus
from storage.types import UTCDateTime

# Rows per executemany call: keeps one call's parameters and RETURNING rows modest.
INSERT_CHUNK = 2000
# Keys per existence check: bounded so the IN list stays cheap on both backends.
LOOKUP_CHUNK = 1000
# Notices (a meeting moved, leave asked, a branch notice) are queued by the use cases, not
# planned by the rules: planning leaves them alone, and they are withdrawn explicitly.
NOTICE_RULE = "notice"


@dataclass(frozen=True, slots=True)
class NewPush:
    """A rendered push ready for the outbox."""

    key: str
    rule: str
    subject: str
    period: str
    member_id: int
    urgent: bool
    text: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row a sender holds: what to send and to whom."""

    id: int
    member_id: int
    text: str
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxView:
    """One outbox row as the `gongjian outbox` command shows it."""

    id: int
    key: str
    rule: str
    member_id: int
    status: OutboxStatus
    attempts: int
    channel: Channel | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str
    text: str


def existing_keys(session: Session, keys: Iterable[tuple[str, str, str]]) -> set[str]:
    """Returns which of (rule, period, key) are already in the outbox."""
    # By (rule, period): every key of those is returned, and `keys` is never held whole.
    pairs = sorted({(rule, period) for rule, period, _ in keys})
    found: set[str] = set()
    for start in range(0, len(pairs), LOOKUP_CHUNK):
        chunk = pairs[start : start + LOOKUP_CHUNK]
        found.update(
            session.execute(
                select_columns(col(OutboxMessage.key)).where(
                    tuple_(col(OutboxMessage.rule), col(OutboxMessage.period)).in_(chunk)
                )
            ).scalars()
        )
    return found


# PostgreSQL takes a chunk of pushes as one array per column in a single statement: about four
# times faster than the row-by-row batches of an executemany with RETURNING (measured with
# bench/planning.py, 96,000 pushes at city scale).
_UNNEST_INSERT = text(
    """
    INSERT INTO outbox (key, rule, subject, period, member_id, urgent, text, status, attempts,
                        next_attempt_at, last_error, created_at)
    SELECT key, rule, subject, period, member_id, urgent, body, :status, 0, :now, '', :now
    FROM unnest(CAST(:keys AS text[]), CAST(:rules AS text[]), CAST(:subjects AS text[]),
                CAST(:periods AS text[]), CAST(:members AS integer[]),
                CAST(:urgent AS boolean[]), CAST(:texts AS text[]))
         AS pushed(key, rule, subject, period, member_id, urgent, body)
    ON CONFLICT (key) DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def _chunks(pushes: Iterable[NewPush]) -> Iterator[list[NewPush]]:
    """Yields the pushes a chunk at a time, so a lazy iterable is never held whole."""
    rest = iter(pushes)
    while chunk := list(islice(rest, INSERT_CHUNK)):
        yield chunk


def enqueue(session: Session, pushes: Iterable[NewPush], *, now: datetime) -> int:
    """Inserts pushes whose key is new (INSERT ... ON CONFLICT DO NOTHING); returns how many.

    `pushes` may be a generator: it is consumed a chunk per statement.
    """
    if session.get_bind().dialect.name == "postgresql":
        return _enqueue_arrays(session, pushes, now=now)
    table: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
    # One cached single-row statement run over many rows: SQLAlchemy batches it into
    # multi-row INSERTs ("insertmanyvalues") without compiling a statement per batch.
    statement = (
        sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)
    )
    inserted = 0
    for chunk in _chunks(pushes):
        rows = [
            {
                "key": push.key,
                "rule": push.rule,
                "subject": push.subject,
                "period": push.period,
                "member_id": push.member_id,
                "urgent": push.urgent,
                "text": push.text,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            }
            for push in chunk
        ]
        inserted += len(session.execute(statement, rows).all())
    return inserted


def _enqueue_arrays(session: Session, pushes: Iterable[NewPush], *, now: datetime) -> int:
    """Inserts pushes on PostgreSQL, a chunk per statement; returns how many were new."""
    inserted = 0
    for chunk in _chunks(pushes):
        params = {
            "status": OutboxStatus.PENDING.value,
            "now": now,
            "keys": [push.key for push in chunk],
            "rules": [push.rule for push in chunk],
            "subjects": [push.subject for push in chunk],
            "periods": [push.period for push in chunk],
            "members": [push.member_id for push in chunk],
            "urgent": [push.urgent for push in chunk],
            "texts": [push.text for push in chunk],
        }
        inserted += len(session.execute(_UNNEST_INSERT, params).all())
    return inserted


def claim(
    session: Session,
    *,
    now: datetime,
    worker: str,
    limit: int,
    lease: timedelta,
    urgent_only: bool = False,
) -> list[Claimed]:
    """Takes up to `limit` due rows for `worker`: pending, failed and due again, or abandoned."""
    due = or_(
        and_(
            col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
            col(OutboxMessage.next_attempt_at) <= now,
        ),
        # A sender that died between claiming and recording leaves rows in SENDING.
        and_(
            col(OutboxMessage.status) == OutboxStatus.SENDING,
            col(OutboxMessage.claimed_at) <= now - lease,
        ),
    )
    condition = and_(due, col(OutboxMessage.urgent)) if urgent_only else due
    candidates = (
        select(OutboxMessage.id)
        .where(condition)
        .order_by(
            col(OutboxMessage.urgent).desc(),
            col(OutboxMessage.next_attempt_at),
            col(OutboxMessage.id),
        )
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Rows another sender holds are skipped, not waited for.
        candidates = candidates.with_for_update(skip_locked=True)
        ids = list(session.exec(candidates).all())
        target = col(OutboxMessage.id).in_(ids)
    else:
        # SQLite runs one writer at a time, so the conditional UPDATE below is the claim.
        target = col(OutboxMessage.id).in_(candidates.scalar_subquery())
    rows = session.execute(
        update(OutboxMessage)
        .where(target, condition)
        .values(status=OutboxStatus.SENDING, claimed_at=now, claimed_by=worker)
        .returning(
            col(OutboxMessage.id),
            col(OutboxMessage.member_id),
            col(OutboxMessage.text),
            col(OutboxMessage.attempts),
        )
    ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda row: row.id)


def _finish(session: Session, *, row_id: int, worker: str, **values: Any) -> bool:
    """Updates a row this worker still holds; False when the claim was lost to another."""
    done = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == row_id,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
            col(OutboxMessage.claimed_by) == worker,
        )
        .values(**values)
        .returning(col(OutboxMessage.id))
    ).scalar_one_or_none()
    return done is not None


def mark_sent(
    session: Session, *, row_id: int, worker: str, now: datetime, channel: Channel
) -> bool:
    """Records a delivered push."""
    return _finish(
        session,
        row_id=row_id,
        worker=worker,
        status=OutboxStatus.SENT,
        sent_at=now,
        channel=channel,
        last_error="",
    )


def mark_undeliverable(
    session: Session, *, row_id: int, worker: str, reason: str, channel: Channel | None
) -> bool:
    """Records a push no channel can deliver (no account, blocked bot, unknown chat)."""
    return _finish(
        session,
        row_id=row_id,
        worker=worker,
        status=OutboxStatus.UNDELIVERABLE,
        last_error=reason[:500],
        channel=channel,
    )


def mark_failed(
    session: Session,
    *,
    row_id: int,
    worker: str,
    reason: str,
    attempts: int,
    retry_at: datetime | None,
) -> bool:
    """Records a failed attempt: retried at `retry_at`, or dead-lettered when that is None."""
    status = OutboxStatus.FAILED if retry_at is not None else OutboxStatus.DEAD
    values: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": reason[:500]}
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    return _finish(session, row_id=row_id, worker=worker, **values)


def release(session: Session, *, row_id: int, worker: str, at: datetime, reason: str) -> bool:
    """Puts a row back untried (the channel asked to wait), to go again at `at`."""
    return _finish(
        session,
        row_id=row_id,
        worker=worker,
        status=OutboxStatus.PENDING,
        next_attempt_at=at,
        last_error=reason[:500],
    )


def retire(session: Session, *, owed: Collection[str], rules: Collection[str] | None = None) -> int:
    """Marks unsent rows whose push is no longer owed (done, superseded, muted) obsolete.

    Notices are one-offs no rule plans, so they stay until sent; with `rules`, only rows of
    those rules are looked at.
    """
    query = select_columns(col(OutboxMessage.id), col(OutboxMessage.key)).where(
        col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
        col(OutboxMessage.rule) != NOTICE_RULE,
    )
    if rules is not None:
        query = query.where(col(OutboxMessage.rule).in_(sorted(rules)))
    waiting = session.execute(query).all()
    stale = [row_id for row_id, key in waiting if key not in owed]
    retired = 0
    for start in range(0, len(stale), LOOKUP_CHUNK):
        # The status condition leaves alone any row a sender claimed meanwhile.
        retired += len(
            session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id).in_(stale[start : start + LOOKUP_CHUNK]),
                    col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
                )
                .values(status=OutboxStatus.OBSOLETE, last_error="no longer owed", sent_at=None)
                .returning(col(OutboxMessage.id))
            )
            .scalars()
            .all()
        )
    return retired


def withdraw(session: Session, *, rule: str, subject: str) -> int:
    """Marks the unsent rows of one rule and subject obsolete (a newer notice replaces them)."""
    return len(
        session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.rule) == rule,
                col(OutboxMessage.subject) == subject,
                col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
            )
            .values(status=OutboxStatus.OBSOLETE, last_error="withdrawn", sent_at=None)
            .returning(col(OutboxMessage.id))
        )
        .scalars()
        .all()
    )


def requeue_dead(
    session: Session,
    *,
    now: datetime,
    ids: Sequence[int] | None = None,
    org_ids: Sequence[int] | None = None,
) -> int:
    """Gives dead-lettered rows (all, those listed, or those in `org_ids`) a fresh round."""
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == OutboxStatus.DEAD)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now)
        .returning(col(OutboxMessage.id))
    )
    if ids is not None:
        statement = statement.where(col(OutboxMessage.id).in_(list(ids)))
    if org_ids is not None:
        statement = statement.where(col(OutboxMessage.member_id).in_(_members_of(org_ids)))
    return len(session.execute(statement).scalars().all())


def _members_of(org_ids: Sequence[int]) -> Any:
    """Selects the ids of the members of some organizations (a subquery)."""
    return select_columns(col(Member.id)).where(col(Member.organization_id).in_(list(org_ids)))


def list_outbox(
    session: Session,
    *,
    statuses: Sequence[OutboxStatus] = (),
    limit: int = 50,
    org_ids: Sequence[int] | None = None,
) -> list[OutboxView]:
    """Lists the newest outbox rows, optionally only some statuses or recipients' organizations."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if statuses:
        query = query.where(col(OutboxMessage.status).in_(list(statuses)))
    if org_ids is not None:
        query = query.where(col(OutboxMessage.member_id).in_(_members_of(org_ids)))
    return [
        OutboxView(
            id=row.id or 0,
            key=row.key,
            rule=row.rule,
            member_id=row.member_id,
            status=row.status,
            attempts=row.attempts,
            channel=row.channel,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            last_error=row.last_error,
            text=row.text,
        )
        for row in session.exec(query)
    ]


def count_by_status(
    session: Session, *, org_ids: Sequence[int] | None = None
) -> dict[OutboxStatus, int]:
    """Counts outbox rows per status (of the recipients in `org_ids`, when given)."""
    query = select_columns(col(OutboxMessage.status), func.count()).group_by(
        col(OutboxMessage.status)
    )
    if org_ids is not None:
        query = query.where(col(OutboxMessage.member_id).in_(_members_of(org_ids)))
    rows = session.execute(query).all()
    counts = dict.fromkeys(OutboxStatus, 0)
    counts.update({OutboxStatus(status): number for status, number in rows})
    return counts


def chat_accounts(session: Session, *, member_ids: Iterable[int]) -> list[ChatAccount]:
    """Returns the chat accounts of the given members (where their pushes can go)."""
    wanted = sorted(set(member_ids))
    return list(session.exec(select(ChatAccount).where(col(ChatAccount.member_id).in_(wanted))))
