"""Reminder tables: the push outbox, filed reports, mobile members' movements, reminder settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, delete, text, update
from sqlalchemy.engine import Connection
from sqlmodel import Field, Session, SQLModel, col, select

from bot.core.inbound import Channel
from storage.models import Alliance, Member, Organization
from storage.queries import insert_ignore
from storage.types import channel_column, enum_column, text_column, utc_column


class OutboxStatus(StrEnum):
    """Where a push stands: queued, being sent, sent, waiting to retry, given up, or no longer owed."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"
    DEAD = "dead"
    OBSOLETE = "obsolete"


class FilingKind(StrEnum):
    """Reports an organization, alliance or pairing files, which stop the nudges that ask for them."""

    LEDGER = "ledger"
    ANNUAL_PLAN = "annual_plan"
    YEAR_SUMMARY = "year_summary"


class FilingMethod(StrEnum):
    """How a report was filed."""

    EXPORTED = "exported"
    SUBMITTED = "submitted"


class MovementDirection(StrEnum):
    """Whether a mobile member (流动党员) is leaving or has arrived somewhere."""

    LEAVING = "leaving"
    ARRIVING = "arriving"


class MobileReport(StrEnum):
    """The three reports (三报告) a mobile member owes."""

    WHEREABOUTS = "whereabouts"
    ARRIVAL = "arrival"
    WORKPLACE = "workplace"


class OutboxMessage(SQLModel, table=True):
    """One push owed to one member, unique by its idempotency key (rule, subject, period, member)."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=text_column(200))
    rule: str = Field(sa_column=text_column(32))
    subject: str = Field(sa_column=text_column(64))
    period: str = Field(sa_column=text_column(32))
    member_id: int = Field(foreign_key="member.id", index=True, ondelete="CASCADE")
    urgent: bool = False
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: OutboxStatus = Field(sa_column=enum_column(OutboxStatus))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column())
    last_error: str = Field(default="", sa_column=text_column(500))
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    claimed_by: str | None = Field(default=None, sa_column=text_column(64, nullable=True))
    channel: Channel | None = Field(default=None, sa_column=channel_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    __table_args__ = (UniqueConstraint("key"),)


class Filing(SQLModel, table=True):
    """A report filed for a period: a quarter's ledger, a year's plan or summary."""

    id: int | None = Field(default=None, primary_key=True)
    kind: FilingKind = Field(sa_column=enum_column(FilingKind))
    scope: str = Field(sa_column=text_column(32))
    period: str = Field(sa_column=text_column(16))
    method: FilingMethod = Field(sa_column=enum_column(FilingMethod))
    filed_by: int | None = Field(default=None, foreign_key="member.id", ondelete="SET NULL")
    filed_at: datetime = Field(sa_column=utc_column())

    __table_args__ = (UniqueConstraint("kind", "scope", "period"),)


class MobileMovement(SQLModel, table=True):
    """A mobile member marked as leaving or arriving, with the three reports filed so far."""

    __tablename__ = "mobile_movement"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True, ondelete="CASCADE")
    direction: MovementDirection = Field(sa_column=enum_column(MovementDirection))
    place: str = Field(default="", sa_column=text_column(200))
    marked_by: int | None = Field(default=None, foreign_key="member.id", ondelete="SET NULL")
    marked_at: datetime = Field(sa_column=utc_column())
    whereabouts_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    arrival_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    workplace_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ReminderSetting(SQLModel, table=True):
    """One reminder knob for everyone (`default`), an alliance (`alliance:3`) or an org (`org:12`)."""

    __tablename__ = "reminder_setting"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(sa_column=text_column(32))
    name: str = Field(sa_column=text_column(48))
    value: str = Field(sa_column=text_column(64))

    __table_args__ = (UniqueConstraint("scope", "name"),)


Index(
    "ix_outbox_status_next",
    OutboxMessage.__table__.c.status,  # type: ignore[attr-defined]
    OutboxMessage.__table__.c.next_attempt_at,  # type: ignore[attr-defined]
)
Index(
    "ix_outbox_rule_period",
    OutboxMessage.__table__.c.rule,  # type: ignore[attr-defined]
    OutboxMessage.__table__.c.period,  # type: ignore[attr-defined]
)

# Which report column each of the three reports fills, and which movement owes it.
REPORT_COLUMNS: dict[MobileReport, tuple[str, MovementDirection]] = {
    MobileReport.WHEREABOUTS: ("whereabouts_at", MovementDirection.LEAVING),
    MobileReport.ARRIVAL: ("arrival_at", MovementDirection.ARRIVING),
    MobileReport.WORKPLACE: ("workplace_at", MovementDirection.ARRIVING),
}


def org_scope(org_id: int) -> str:
    """Returns the scope string of an organization."""
    return f"org:{org_id}"


def alliance_scope(alliance_id: int) -> str:
    """Returns the scope string of an alliance."""
    return f"alliance:{alliance_id}"


def pairing_scope(pairing_id: int) -> str:
    """Returns the scope string of a pairing."""
    return f"pairing:{pairing_id}"


def record_filing(
    *,
    session: Session,
    kind: FilingKind,
    scope: str,
    period: str,
    method: FilingMethod,
    at: datetime,
    by: int | None,
) -> bool:
    """Records that a report was filed; False when it already was (the first filing stands)."""
    new_id = insert_ignore(
        session,
        Filing,
        values={
            "kind": kind.value,
            "scope": scope,
            "period": period,
            "method": method.value,
            "filed_by": by,
            "filed_at": at,
        },
        conflict=("kind", "scope", "period"),
    )
    return new_id is not None


def mark_movement(
    *,
    session: Session,
    member_id: int,
    direction: MovementDirection,
    at: datetime,
    by: int | None,
    place: str = "",
) -> int:
    """Records that a member is leaving or has arrived, owing the matching reports; returns its id."""
    movement = MobileMovement(
        member_id=member_id,
        direction=direction,
        place=place.strip()[:200],
        marked_by=by,
        marked_at=at,
    )
    session.add(movement)
    session.flush()
    assert movement.id is not None
    return movement.id


def record_mobile_report(
    *, session: Session, member_id: int, report: MobileReport, at: datetime
) -> bool:
    """Marks one of the three reports filed on the member's latest movement that owes it."""
    column, direction = REPORT_COLUMNS[report]
    latest = (
        select(MobileMovement.id)
        .where(MobileMovement.member_id == member_id, MobileMovement.direction == direction)
        .order_by(col(MobileMovement.marked_at).desc(), col(MobileMovement.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    target = getattr(MobileMovement, column)
    # One conditional UPDATE: a report filed twice keeps its first time.
    done = session.execute(
        update(MobileMovement)
        .where(col(MobileMovement.id) == latest, col(target).is_(None))
        .values({column: at})
        .returning(col(MobileMovement.id))
    ).scalar_one_or_none()
    return done is not None


def scope_owner(*, session: Session, kind: str, ident: str) -> int | None:
    """Finds the id of the alliance or organization a scope names by code (or numeric id)."""
    model: type[Alliance] | type[Organization] = Alliance if kind == "alliance" else Organization
    return session.exec(
        select(model.id).where(
            (col(model.code) == ident.upper()) | (col(model.id) == int(ident))
            if ident.isdigit()
            else col(model.code) == ident.upper()
        )
    ).first()


def set_reminder_setting(*, session: Session, scope: str, name: str, value: str) -> None:
    """Stores (or replaces) one reminder setting."""
    if (
        insert_ignore(
            session,
            ReminderSetting,
            values={"scope": scope, "name": name, "value": value},
            conflict=("scope", "name"),
        )
        is None
    ):
        session.execute(
            update(ReminderSetting)
            .where(col(ReminderSetting.scope) == scope, col(ReminderSetting.name) == name)
            .values(value=value)
        )


def reminder_settings_in(*, session: Session, scopes: Sequence[str]) -> dict[str, dict[str, str]]:
    """Reads the stored reminder settings of some scopes, by scope and name."""
    found: dict[str, dict[str, str]] = {scope: {} for scope in scopes}
    for scope, name, value in session.exec(
        select(ReminderSetting.scope, ReminderSetting.name, ReminderSetting.value).where(
            col(ReminderSetting.scope).in_(list(scopes))
        )
    ):
        found[scope][name] = value
    return found


def clear_reminder_setting(*, session: Session, scope: str, name: str) -> str | None:
    """Forgets one reminder setting of a scope; returns the value it had, or None."""
    removed = session.execute(
        delete(ReminderSetting)
        .where(col(ReminderSetting.scope) == scope, col(ReminderSetting.name) == name)
        .returning(col(ReminderSetting.value))
    ).scalar_one_or_none()
    return removed


def set_muted(*, session: Session, member_id: int, muted: bool) -> bool:
    """Mutes or unmutes a member's non-essential nudges; False when nothing changed."""
    changed = session.execute(
        update(Member)
        .where(col(Member.id) == member_id, col(Member.muted) != muted)
        .values(muted=muted)
        .returning(col(Member.id))
    ).scalar_one_or_none()
    return changed is not None


class FactChange(SQLModel, table=True):
    """A mark left by database triggers when a table the reminder rules read is written."""

    __tablename__ = "fact_change"

    id: int | None = Field(default=None, primary_key=True)


# The tables the reminder facts are read from: a write to any of them leaves a `fact_change`
# row (triggers, migration 0012), so a tick can tell that nothing changed since the last one.
# On SQLite a trigger marks with `INSERT ... ON CONFLICT (id) DO NOTHING` (migration 0019): the
# OR IGNORE form fails inside an upsert.
WATCHED_TABLES = (
    "activity",
    "activitypartner",
    "alliance",
    "allianceunit",
    "attendance",
    "chataccount",
    "filing",
    "meeting",
    "member",
    "mobile_movement",
    "organization",
    "pairing",
    "pairingorg",
    "reminder_setting",
    "role",
    "role_term",
    "rotaoverride",
)


def facts_changed(session: Session) -> bool:
    """Tells whether a watched table was written since the marks were last taken."""
    return session.exec(select(FactChange.id).limit(1)).first() is not None


def take_fact_changes(session: Session) -> None:
    """Removes the marks of the writes committed so far (in the caller's transaction).

    Facts read after this in the same transaction include every write whose mark it removed;
    a write committed meanwhile keeps its mark for the next tick.
    """
    session.execute(delete(FactChange))


class FactVersionRow(SQLModel, table=True):
    """SQLite's count of the writes to each watched table (`TABLE_ROWS` names its row)."""

    __tablename__ = "fact_version"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    n: int = Field(sa_type=BigInteger)


# The tables whose updates and deletes are also counted apart: a cache of what they derive can
# then find the rows added since (by id, which only grows) when nothing was changed or removed.
GROWING_TABLES = ("attendance", "meeting", "member")


def rewritten(table: str) -> str:
    """Names the count of the updates and deletes of one of `GROWING_TABLES`."""
    return f"{table}:rewritten"


# What a fact version counts: the writes to each watched table, and the rewrites of the growing.
VERSIONED = (*WATCHED_TABLES, *(rewritten(table) for table in GROWING_TABLES))
# Each count's row in `fact_version` (SQLite) and its sequence (PostgreSQL), as migration 0024
# made them. The meetings' answers keep the sequence they had (0022).
TABLE_ROWS = {name: 100 + number for number, name in enumerate(VERSIONED)}
TABLE_SEQUENCES = {
    name: "fact_answer_seq" if name == "attendance" else f"fact_seq_{name.replace(':', '_')}"
    for name in VERSIONED
}
EVERY_TABLE = frozenset(VERSIONED)


@dataclass(frozen=True, slots=True)
class FactVersion:
    """Where the writes to each watched table stood when read (`counts`, in `VERSIONED` order).

    On PostgreSQL the counts are the marks' sequences, which move when a statement runs, before
    its transaction commits: `in_flight` holds the transactions running when they were read,
    any of which may have moved them already and commit later.
    """

    counts: tuple[int, ...]
    in_flight: tuple[int, ...] = ()


# Before its first value a sequence reads as its start, as it does after it: `is_called` tells.
# The sequences' names are this module's constants.
_PG_COUNTS = text(
    "SELECT "  # noqa: S608
    + ", ".join(
        f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {TABLE_SEQUENCES[table]})"  # noqa: S608
        for table in VERSIONED
    )
)
# Read after the counts, in a statement of its own. A transaction that moved a count before it
# was read had its id before this statement gives the reader one, and if it was still running
# when this statement's snapshot was taken, the snapshot lists it as running (in its list, or
# at or above its xmax). Those are the transactions that may commit what a count already
# counted; the reader's own id is past them. Of those, only the ones that left a mark can have
# moved a count: a mark is written before its count moves, under a lock on `fact_change` held to
# the transaction's end, so the lock table names them (by their 32-bit id). Transactions of other
# databases on the server, or that wrote nothing watched, are left out; one that committed
# between the snapshot and the locks read committed before what the reader reads next.
_PG_RUNNING = text(
    "SELECT CAST(pg_current_xact_id() AS text),"
    " CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text),"
    " ARRAY(SELECT CAST(pg_snapshot_xip(pg_current_snapshot()) AS text)),"
    " ARRAY(SELECT CAST(own.transactionid AS text) FROM pg_locks AS marking"
    " JOIN pg_locks AS own ON own.pid = marking.pid AND own.locktype = 'transactionid'"
    " AND own.mode = 'ExclusiveLock' AND own.granted"
    " WHERE marking.locktype = 'relation' AND marking.mode = 'RowExclusiveLock'"
    " AND marking.relation = CAST('fact_change' AS regclass))"
)
_LOW_BITS = 0xFFFF_FFFF
# Whether one of the transactions running when a version was read has committed since.
_PG_COMMITTED = text(
    "SELECT EXISTS (SELECT 1 FROM unnest(CAST(:in_flight AS text[])) AS running (xid)"
    " WHERE pg_xact_status(CAST(running.xid AS xid8)) IS DISTINCT FROM 'in progress'"
    " AND pg_xact_status(CAST(running.xid AS xid8)) IS DISTINCT FROM 'aborted')"
)
_SQLITE_COUNTS = text("SELECT id, n FROM fact_version WHERE id >= :first").bindparams(
    first=min(TABLE_ROWS.values())
)


def _counts(connection: Connection) -> tuple[int, ...]:
    """Reads each watched table's count."""
    if connection.dialect.name == "postgresql":
        return tuple(int(count) for count in connection.execute(_PG_COUNTS).one())
    rows: dict[int, int] = dict(connection.execute(_SQLITE_COUNTS).all())
    return tuple(int(rows[TABLE_ROWS[name]]) for name in VERSIONED)


def fact_version(session: Session) -> FactVersion:
    """Reads where the writes to the watched tables stand; read it before what it versions."""
    connection = session.connection()
    counts = _counts(connection)
    if connection.dialect.name != "postgresql":
        return FactVersion(counts)
    own, xmax, listed, marking = connection.execute(_PG_RUNNING).one()
    running = {int(xid) for xid in listed} | set(range(int(xmax), int(own)))
    # The snapshot's ids are 64-bit (epoch and id); the lock table's, the low 32 bits.
    marked = {int(xid) for xid in marking}
    return FactVersion(counts, tuple(sorted(x for x in running if x & _LOW_BITS in marked)))


def written_since(
    session: Session, version: FactVersion, current: FactVersion | None = None
) -> frozenset[str]:
    """Names the watched tables written since `version` was read (every one when unknown).

    A growing table updated or deleted from is named again as `rewritten(table)`.

    Against the counts as they stand, or as `current` (read since) found them.
    """
    connection = session.connection()
    counts = current.counts if current else _counts(connection)
    written = frozenset(
        table
        for table, before, now in zip(VERSIONED, version.counts, counts, strict=True)
        if before != now
    )
    if written != EVERY_TABLE and version.in_flight:
        params = {"in_flight": [str(xid) for xid in version.in_flight]}
        # Which tables a committed one wrote to is not known: every one is read again.
        if connection.execute(_PG_COMMITTED, params).scalar_one():
            return EVERY_TABLE
    return written
