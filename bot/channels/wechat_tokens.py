"""The WeChat channels' shared rows: access tokens, offered numbered options, last contact.

Every webhook process and the scheduler share these through the database, so a token is
fetched once for all of them and a "1" typed to one replica means what another replica offered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.core.clock import Clock
from bot.core.inbound import Channel
from bot.services.options import SWEEP_EVERY, remember_options
from storage.engine import Database
from storage.models import ChannelToken, ChatAccount, Member

logger = logging.getLogger(__name__)

# "Never valid": the expiry of a placeholder or invalidated token, and a free refresh lease.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Refresh this long before expiry, so no caller ever holds a token that dies mid-request.
DEFAULT_MARGIN = timedelta(minutes=5)
# How long one process may take to fetch a token before another may try instead.
DEFAULT_LEASE = timedelta(seconds=30)
DEFAULT_POLL_SECONDS = 0.2

Fetch = Callable[[], Awaitable[tuple[str, float]]]
Sleep = Callable[[float], Awaitable[object]]


class TokenUnavailableError(Exception):
    """No fresh token could be had: another process holds the refresh and has not finished."""


def _insert(session: Session) -> Any:
    """Returns the dialect's INSERT construct, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _rowcount(result: Any) -> int:
    """Returns how many rows an UPDATE or DELETE touched."""
    return cast(CursorResult[Any], result).rowcount


class TokenStore:
    """Access tokens in `channel_token`, refreshed by one process at a time before they expire.

    A refresh is claimed with one conditional UPDATE (a lease on `refreshed_at`), the fetch runs
    outside any transaction, and the new token is stored only by the lease holder; the others
    keep using the old token while it is valid, or wait for the new one.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        margin: timedelta = DEFAULT_MARGIN,
        lease: timedelta = DEFAULT_LEASE,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._database = database
        self._clock = clock
        self._margin = margin
        self._lease = lease
        self._poll = poll_seconds
        self._sleep = sleep

    async def get(self, name: str, fetch: Fetch) -> str:
        """Returns the token `name`, fetching it with `fetch` when this process wins the refresh."""
        attempts = int(self._lease.total_seconds() / self._poll) + 2
        for _ in range(attempts):
            now = self._clock.now()
            row = await asyncio.to_thread(self._read, name)
            if row is not None and row.token and row.expires_at - self._margin > now:
                return row.token
            if await asyncio.to_thread(self._claim, name, now):
                token, expires_in = await fetch()
                expires_at = now + timedelta(seconds=expires_in)
                await asyncio.to_thread(self._store, name, token, expires_at, now)
                logger.info("Refreshed the %s access token", name)
                return token
            if row is not None and row.token and row.expires_at > now:
                return row.token
            await self._sleep(self._poll)
        raise TokenUnavailableError(name)

    async def invalidate(self, name: str, token: str) -> None:
        """Marks `token` as dead (the platform refused it) unless it was already replaced."""
        await asyncio.to_thread(self._invalidate, name, token, self._clock.now())

    def peek(self, name: str) -> ChannelToken | None:
        """Returns the stored row of a token (for diagnostics and tests)."""
        return self._read(name)

    def _read(self, name: str) -> ChannelToken | None:
        """Reads the row of a token."""
        with self._database.session() as session:
            return session.get(ChannelToken, name)

    def _claim(self, name: str, now: datetime) -> bool:
        """Takes the refresh lease of a stale token; False when it is fresh or leased."""
        with self._database.session() as session:
            session.execute(
                _insert(session)(ChannelToken)
                .values(name=name, token="", expires_at=EPOCH, refreshed_at=EPOCH)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            result = session.execute(
                update(ChannelToken)
                .where(
                    col(ChannelToken.name) == name,
                    col(ChannelToken.expires_at) <= now + self._margin,
                    col(ChannelToken.refreshed_at) <= now - self._lease,
                )
                .values(refreshed_at=now)
            )
            return _rowcount(result) == 1

    def _store(self, name: str, token: str, expires_at: datetime, claimed_at: datetime) -> None:
        """Saves a fetched token, unless another process took the lease over meanwhile."""
        with self._database.session() as session:
            result = session.execute(
                update(ChannelToken)
                .where(col(ChannelToken.name) == name, col(ChannelToken.refreshed_at) == claimed_at)
                .values(token=token, expires_at=expires_at)
            )
            if _rowcount(result) != 1:
                logger.warning("Another process took over the %s token refresh", name)

    def _invalidate(self, name: str, token: str, now: datetime) -> None:
        """Expires a refused token and frees the lease, unless a refresh is under way."""
        with self._database.session() as session:
            row = session.get(ChannelToken, name)
            if row is None or row.token != token:
                return  # already replaced: the caller will read the new one
            seen_refreshed, seen_expires = row.refreshed_at, row.expires_at
            # A refresh is under way when the lease is young and was taken on a stale token;
            # a lease on a token that was then stored fresh is a finished refresh.
            refreshing = (
                seen_refreshed > now - self._lease and seen_expires <= seen_refreshed + self._margin
            )
            values = (
                {"expires_at": EPOCH}
                if refreshing
                else {"expires_at": EPOCH, "refreshed_at": EPOCH}
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


class OfferedOptions:
    """Remembers, per chat account, which button each number stood for in the last message."""

    def __init__(self, database: Database, clock: Clock, *, ttl: timedelta) -> None:
        self._database = database
        self._clock = clock
        self._ttl = ttl
        self._writes = 0

    def remember(self, *, channel: Channel, user_id: str, options: list[str]) -> None:
        """Stores the data of the numbered options just sent (none clears them)."""
        self._writes += 1
        with self._database.session() as session:
            remember_options(
                session,
                channel=channel,
                user_id=user_id,
                options=options,
                now=self._clock.now(),
                ttl=self._ttl,
                sweep=self._writes % SWEEP_EVERY == 0,
            )


def last_contact(
    database: Database, *, channel: Channel, external_id: str
) -> tuple[datetime | None, str | None]:
    """Returns when a chat account last wrote to us and its member's language, if bound."""
    with database.session() as session:
        found = session.exec(
            select(ChatAccount.last_seen_at, Member.locale)
            .join(Member, col(Member.id) == ChatAccount.member_id)
            .where(ChatAccount.channel == channel, ChatAccount.external_id == external_id)
        ).first()
    if found is None:
        return None, None
    last_seen, locale = found
    return last_seen, locale
