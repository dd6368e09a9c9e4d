"""The web console's rows: login links, sessions, password accounts, failed logins, checked uploads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    ColumnElement,
    CursorResult,
    LargeBinary,
    String,
    UniqueConstraint,
    bindparam,
    delete,
    or_,
    text,
    update,
)
from sqlalchemy import select as select_columns
from sqlmodel import Field, Session, SQLModel, col, select

from storage.queries import insert_ignore_rows
from storage.types import UTCDateTime, text_column, utc_column


class ConsoleAccount(SQLModel, table=True):
    """A committee staff member's console login: a name, a scope and an argon2 password hash."""

    __tablename__ = "console_account"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(sa_column=text_column(64))
    name: str = Field(sa_column=text_column(100))
    organization_id: int = Field(foreign_key="organization.id", index=True)
    password_hash: str = Field(sa_column=text_column(200))
    created_at: datetime = Field(sa_column=utc_column())
    disabled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    __table_args__ = (UniqueConstraint("login"),)


class ConsoleLink(SQLModel, table=True):
    """A single-use link a member asked for in chat; only the token's hash is stored."""

    __tablename__ = "console_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=text_column(64))
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    __table_args__ = (UniqueConstraint("token_hash"),)


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser: a member's or a console account's, found by its id's hash."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=text_column(64))
    csrf_token: str = Field(sa_column=text_column(64))
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="console_account.id", index=True)
    created_at: datetime = Field(sa_column=utc_column())
    seen_at: datetime = Field(sa_column=utc_column())
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    __table_args__ = (UniqueConstraint("token_hash"),)


class ConsoleLoginFailure(SQLModel, table=True):
    """Failed sign-ins counted per key (an account or an address) within one window."""

    __tablename__ = "console_login_failure"

    key: str = Field(sa_column=Column("key", String(128), primary_key=True))
    count: int = 0
    window_start: datetime = Field(sa_column=utc_column())


class PendingImport(SQLModel, table=True):
    """A district file a dry run passed, kept for its owner's confirmation; the token's hash only."""

    __tablename__ = "pending_import"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=text_column(64))
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="console_account.id", index=True)
    file_name: str = Field(sa_column=text_column(100))
    sha256: str = Field(sa_column=text_column(64))
    data: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    created_at: datetime = Field(sa_column=utc_column(index=True))

    __table_args__ = (UniqueConstraint("token_hash"),)


@dataclass(frozen=True, slots=True)
class PendingHead:
    """What a kept upload says about itself, without its bytes."""

    id: int
    member_id: int | None
    account_id: int | None
    file_name: str
    sha256: str


def add_link(
    session: Session, *, token_hash: str, member_id: int, now: datetime, expires_at: datetime
) -> None:
    """Stores a new single-use login link."""
    session.add(
        ConsoleLink(
            token_hash=token_hash, member_id=member_id, created_at=now, expires_at=expires_at
        )
    )


def claim_link(session: Session, *, token_hash: str, now: datetime) -> int | None:
    """Marks a live link used and returns its member, or None when unknown, used or expired."""
    statement = (
        update(ConsoleLink)
        .where(
            col(ConsoleLink.token_hash) == token_hash,
            col(ConsoleLink.used_at).is_(None),
            col(ConsoleLink.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(ConsoleLink.member_id))
    )
    return session.execute(statement).scalar_one_or_none()


def add_session(
    session: Session,
    *,
    token_hash: str,
    csrf_token: str,
    now: datetime,
    member_id: int | None = None,
    account_id: int | None = None,
) -> None:
    """Stores a new signed-in session."""
    session.add(
        ConsoleSession(
            token_hash=token_hash,
            csrf_token=csrf_token,
            member_id=member_id,
            account_id=account_id,
            created_at=now,
            seen_at=now,
        )
    )


def touch_session(
    session: Session, *, token_hash: str, now: datetime, idle_since: datetime
) -> ConsoleSession | None:
    """Returns a live session (seen after `idle_since`) and marks it seen now."""
    found = session.exec(
        select(ConsoleSession).where(
            col(ConsoleSession.token_hash) == token_hash,
            col(ConsoleSession.ended_at).is_(None),
            col(ConsoleSession.seen_at) > idle_since,
        )
    ).first()
    if found is not None:
        found.seen_at = now
        session.add(found)
    return found


def end_sessions(
    session: Session,
    *,
    now: datetime,
    token_hash: str | None = None,
    member_id: int | None = None,
    account_id: int | None = None,
) -> int:
    """Ends one session (by token) or every session of a member or an account."""
    statement = update(ConsoleSession).where(col(ConsoleSession.ended_at).is_(None))
    if token_hash is not None:
        statement = statement.where(col(ConsoleSession.token_hash) == token_hash)
    elif member_id is not None:
        statement = statement.where(col(ConsoleSession.member_id) == member_id)
    elif account_id is not None:
        statement = statement.where(col(ConsoleSession.account_id) == account_id)
    else:
        raise ValueError("name a session, a member or an account")
    result: CursorResult[object] = session.execute(statement.values(ended_at=now))  # type: ignore[assignment]
    return result.rowcount or 0


def account_by_login(session: Session, *, login: str) -> ConsoleAccount | None:
    """Returns the enabled console account with this login name."""
    return session.exec(
        select(ConsoleAccount).where(
            col(ConsoleAccount.login) == login, col(ConsoleAccount.disabled_at).is_(None)
        )
    ).first()


def add_account(
    session: Session,
    *,
    login: str,
    name: str,
    organization_id: int,
    password_hash: str,
    now: datetime,
) -> int | None:
    """Creates a console account unless the login is taken; returns its id or None."""
    rows = insert_ignore_rows(
        session,
        ConsoleAccount,
        rows=[
            {
                "login": login,
                "name": name,
                "organization_id": organization_id,
                "password_hash": password_hash,
                "created_at": now,
            }
        ],
        conflict=("login",),
        returning="id",
    )
    return next(iter(rows), None)


# One statement on both backends: a new key starts at 1, a known one counts up atomically.
_COUNT_FAILURE = text(
    "INSERT INTO console_login_failure (key, count, window_start) VALUES (:key, 1, :now)"
    " ON CONFLICT (key) DO UPDATE SET count = console_login_failure.count + 1"
).bindparams(bindparam("now", type_=UTCDateTime()))


def count_failure(session: Session, *, key: str, now: datetime, window_start: datetime) -> int:
    """Counts one failed sign-in under `key` (a fresh window once the old one ran out)."""
    session.execute(
        delete(ConsoleLoginFailure).where(
            col(ConsoleLoginFailure.key) == key,
            col(ConsoleLoginFailure.window_start) <= window_start,
        )
    )
    session.execute(_COUNT_FAILURE, {"key": key, "now": now})
    return failures(session, key=key, window_start=window_start)


def failures(session: Session, *, key: str, window_start: datetime) -> int:
    """Returns how many failed sign-ins `key` has in the current window."""
    found = session.exec(
        select(ConsoleLoginFailure.count).where(
            col(ConsoleLoginFailure.key) == key,
            col(ConsoleLoginFailure.window_start) > window_start,
        )
    ).first()
    return int(found or 0)


def clear_failures(session: Session, *, key: str) -> None:
    """Forgets a key's failed sign-ins (after a successful one)."""
    session.execute(delete(ConsoleLoginFailure).where(col(ConsoleLoginFailure.key) == key))


def _owned_by(member_id: int | None, account_id: int | None) -> ColumnElement[bool]:
    """Tests a kept upload's owner: a member, or a console account."""
    if member_id is not None:
        return col(PendingImport.member_id) == member_id
    return col(PendingImport.account_id) == account_id


def add_pending_import(
    session: Session,
    *,
    token_hash: str,
    member_id: int | None,
    account_id: int | None,
    file_name: str,
    sha256: str,
    data: bytes,
    now: datetime,
    stale_before: datetime,
    keep: int,
) -> None:
    """Keeps a checked upload, first dropping stale ones and the owner's oldest beyond `keep`."""
    if (member_id is None) == (account_id is None):
        raise ValueError("a kept upload belongs to one member or one console account")
    owner = _owned_by(member_id, account_id)
    surplus = (
        select(PendingImport.id)
        .where(owner)
        .order_by(col(PendingImport.created_at).desc(), col(PendingImport.id).desc())
        .offset(keep - 1)
    )
    session.execute(
        delete(PendingImport).where(
            or_(
                col(PendingImport.created_at) <= stale_before,
                col(PendingImport.id).in_(surplus.scalar_subquery()),
            )
        )
    )
    session.add(
        PendingImport(
            token_hash=token_hash,
            member_id=member_id,
            account_id=account_id,
            file_name=file_name,
            sha256=sha256,
            data=data,
            created_at=now,
        )
    )


def pending_import(
    session: Session, *, token_hash: str, fresh_after: datetime
) -> PendingHead | None:
    """Finds a kept upload by its token's hash, unless it was kept at or before `fresh_after`."""
    row = session.execute(
        select_columns(
            col(PendingImport.id),
            col(PendingImport.member_id),
            col(PendingImport.account_id),
            col(PendingImport.file_name),
            col(PendingImport.sha256),
        ).where(
            col(PendingImport.token_hash) == token_hash,
            col(PendingImport.created_at) > fresh_after,
        )
    ).first()
    if row is None:
        return None
    pending_id, member_id, account_id, file_name, sha256 = row
    assert pending_id is not None
    return PendingHead(
        id=pending_id,
        member_id=member_id,
        account_id=account_id,
        file_name=file_name,
        sha256=sha256,
    )


def claim_pending_import(session: Session, *, pending_id: int) -> bytes | None:
    """Deletes a kept upload and returns its bytes; None when another request took it first."""
    statement = (
        delete(PendingImport)
        .where(col(PendingImport.id) == pending_id)
        .returning(col(PendingImport.data))
    )
    data: bytes | None = session.execute(statement).scalar_one_or_none()
    return data
