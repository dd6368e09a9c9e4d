"""The channels' own rows: numbered options offered, platform access tokens, handled deliveries.

Every webhook process and the scheduler share these through the database, so a token is
fetched once for all of them and a "1" typed to one replica means what another replica offered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from bot.core.domain import MemberStatus
from bot.core.inbound import Channel
from storage.engine import Database
from storage.models import ChannelToken, ChatAccount, Member, OfferedOption, ProcessedInbound
from storage.queries import insert_ignore_rows, run

# "Never valid": the expiry of a placeholder or invalidated token, and a free refresh lease.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Delivery keys are stored up to this length (a platform's ids are far shorter).
KEY_LENGTH = 128
# Expired offered options are swept by every this-many-th write rather than by a job of their own.
SWEEP_EVERY = 256

OPTIONS_LOOKUP = select(col(OfferedOption.options), col(OfferedOption.expires_at)).where(
    col(OfferedOption.channel) == bindparam("channel"),
    col(OfferedOption.user_id) == bindparam("user_id"),
)


def _insert(session: Session) -> Any:
    """Returns the dialect's INSERT construct, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _rowcount(result: Any) -> int:
    """Returns how many rows an UPDATE or DELETE touched."""
    return cast(CursorResult[Any], result).rowcount


# --- numbered options ---------------------------------------------------------------------------


def recall_options(
    session: Session, *, channel: Channel, user_id: str, now: datetime
) -> list[str] | None:
    """Returns the option data offered last, oldest first: [] once expired, None if never stored."""
    row = run(session, OPTIONS_LOOKUP, {"channel": channel.value, "user_id": user_id}).first()
    if row is None:
        return None
    if row.expires_at <= now:
        return []
    try:
        options = json.loads(row.options)
    except ValueError:
        return []
    if not isinstance(options, list):
        return []
    return [str(option) for option in options]


def remember_options(
    session: Session,
    *,
    channel: Channel,
    user_id: str,
    options: Sequence[str],
    now: datetime,
    expires_at: datetime,
    sweep: bool = False,
) -> None:
    """Stores the option data just offered (none clears them); `sweep` also drops expired rows."""
    mine = (col(OfferedOption.channel) == channel.value, col(OfferedOption.user_id) == user_id)
    if not options:
        session.execute(delete(OfferedOption).where(*mine))
    else:
        values = {
            "options": json.dumps(list(options), ensure_ascii=False),
            "expires_at": expires_at,
        }
        session.execute(
            _insert(session)(OfferedOption)
            .values(channel=channel.value, user_id=user_id, **values)
            .on_conflict_do_update(index_elements=["channel", "user_id"], set_=values)
        )
    if sweep:
        session.execute(delete(OfferedOption).where(col(OfferedOption.expires_at) <= now))


def remember_offered(
    database: Database,
    *,
    channel: Channel,
    user_id: str,
    options: Sequence[str],
    now: datetime,
    expires_at: datetime,
    sweep: bool = False,
) -> None:
    """Stores the option data a push offered, in a transaction of its own."""
    with database.session() as session:
        remember_options(
            session,
            channel=channel,
            user_id=user_id,
            options=options,
            now=now,
            expires_at=expires_at,
            sweep=sweep,
        )


def options_of_accounts(accounts: Sequence[tuple[Channel, str]]) -> Any:
    """Matches the offered-options rows of some chat accounts (channel, external id)."""
    if not accounts:
        return col(OfferedOption.user_id).is_(None)
    return tuple_(col(OfferedOption.channel), col(OfferedOption.user_id)).in_(
        [(channel.value, user_id) for channel, user_id in accounts]
    )


# --- deliveries -----------------------------------------------------------------------------------


def record_deliveries(
    session: Session,
    *,
    channel: Channel,
    keys: Sequence[str],
    at: datetime,
    answer: str | None = None,
) -> str | None:
    """Records a delivery's keys (with its answer) in one statement; returns the first seen before."""
    if not keys:
        return None
    stored = dict.fromkeys(key[:KEY_LENGTH] for key in keys)
    new = insert_ignore_rows(
        session,
        ProcessedInbound,
        rows=[{"channel": channel.value, "key": key, "at": at, "answer": answer} for key in stored],
        conflict=("channel", "key"),
        returning="key",
    )
    return next((key for key in keys if key[:KEY_LENGTH] not in new), None)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery's keys and answer, to be recorded with the rest of its group."""

    channel: Channel
    keys: Sequence[str]
    at: datetime
    answer: str | None


def record_group(session: Session, records: Sequence[DeliveryRecord]) -> bool:
    """Records a group's delivery keys in one statement; tells whether any was recorded before.

    A key that comes twice in the group counts as recorded before. When any was, the caller
    gives the group's transaction up (each delivery is then recorded on its own).
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        for key in dict.fromkeys(key[:KEY_LENGTH] for key in record.keys):
            name = (record.channel.value, key)
            if name in rows:
                return True
            rows[name] = {"channel": name[0], "key": key, "at": record.at, "answer": record.answer}
    if not rows:
        return False
    new = insert_ignore_rows(
        session,
        ProcessedInbound,
        rows=list(rows.values()),
        conflict=("channel", "key"),
        returning="id",
    )
    return len(new) != len(rows)


def last_contact(
    database: Database, *, channel: Channel, external_id: str
) -> tuple[datetime | None, str | None]:
    """Returns when a chat account last wrote to us and its member's language, if bound."""
    with database.session() as session:
        found = session.execute(
            select(col(ChatAccount.last_seen_at), col(Member.locale))
            .join(Member, col(Member.id) == col(ChatAccount.member_id))
            .where(
                col(ChatAccount.channel) == channel.value,
                col(ChatAccount.external_id) == external_id,
            )
        ).first()
    if found is None:
        return None, None
    last_seen, locale = found
    return last_seen, locale


def bound_member(database: Database, *, channel: Channel, external_id: str) -> int | None:
    """Returns the id of the current member a chat account is bound to, else None.

    A departed member's account counts as unbound, as it does when the core reads who wrote.
    """
    with database.session() as session:
        found: int | None = session.execute(
            select(col(Member.id))
            .join(ChatAccount, col(ChatAccount.member_id) == col(Member.id))
            .where(
                col(ChatAccount.channel) == channel.value,
                col(ChatAccount.external_id) == external_id,
                col(Member.status) != MemberStatus.DEPARTED,
            )
        ).scalar_one_or_none()
    return found


# --- access tokens --------------------------------------------------------------------------------


def read_token(database: Database, *, name: str) -> ChannelToken | None:
    """Reads the row of an access token."""
    with database.session() as session:
        return session.get(ChannelToken, name)


def claim_token_refresh(
    database: Database, *, name: str, now: datetime, margin: timedelta, lease: timedelta
) -> bool:
    """Takes the refresh lease of a stale token; False when it is fresh or leased."""
    with database.session() as session:
        session.execute(
            _insert(session)(ChannelToken)
            .values(name=name, token="", expires_at=EPOCH, refreshed_at=EPOCH)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        result = session.execute(
            update(ChannelToken)
            .where(
                col(ChannelToken.name) == name,
                col(ChannelToken.expires_at) <= now + margin,
                col(ChannelToken.refreshed_at) <= now - lease,
            )
            .values(refreshed_at=now)
        )
        return _rowcount(result) == 1


def store_token(
    database: Database, *, name: str, token: str, expires_at: datetime, claimed_at: datetime
) -> bool:
    """Saves a fetched token, unless another process took the lease over meanwhile."""
    with database.session() as session:
        result = session.execute(
            update(ChannelToken)
            .where(col(ChannelToken.name) == name, col(ChannelToken.refreshed_at) == claimed_at)
            .values(token=token, expires_at=expires_at)
        )
        return _rowcount(result) == 1


def invalidate_token(
    database: Database,
    *,
    name: str,
    token: str,
    now: datetime,
    margin: timedelta,
    lease: timedelta,
) -> None:
    """Expires a refused token and frees the lease, unless a refresh is under way."""
    with database.session() as session:
        row = session.get(ChannelToken, name)
        if row is None or row.token != token:
            return  # already replaced: the caller will read the new one
        seen_refreshed, seen_expires = row.refreshed_at, row.expires_at
        # A refresh is under way when the lease is young and was taken on a stale token;
        # a lease on a token that was then stored fresh is a finished refresh.
        refreshing = seen_refreshed > now - lease and seen_expires <= seen_refreshed + margin
        values = (
            {"expires_at": EPOCH} if refreshing else {"expires_at": EPOCH, "refreshed_at": EPOCH}
        )
        # Compare-and-set on what was read, so a lease taken meanwhile is never freed.
        session.execute(
            update(ChannelToken)
            .where(
                col(ChannelToken.name) == name,
                col(ChannelToken.token) == token,
                col(ChannelToken.refreshed_at) == seen_refreshed,
                col(ChannelToken.expires_at) == seen_expires,
            )
            .values(**values)
        )
