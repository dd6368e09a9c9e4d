"""Access tokens both platforms' APIs need, shared by every process through the database.

A token is fetched once for all webhook replicas and the scheduler, by whichever process wins
the refresh lease (the rows and their statements live in `storage.channels`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.core.clock import Clock
from storage.channels import (
    claim_token_refresh,
    invalidate_token,
    read_token,
    store_token,
)
from storage.engine import Database
from storage.models import ChannelToken

logger = logging.getLogger(__name__)

# Refresh this long before expiry, so no caller ever holds a token that dies mid-request.
DEFAULT_MARGIN = timedelta(minutes=5)
# How long one process may take to fetch a token before another may try instead.
DEFAULT_LEASE = timedelta(seconds=30)
DEFAULT_POLL_SECONDS = 0.2

Fetch = Callable[[], Awaitable[tuple[str, float]]]
Sleep = Callable[[float], Awaitable[object]]


class TokenUnavailableError(Exception):
    """No fresh token could be had: another process holds the refresh and has not finished."""


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
        return read_token(self._database, name=name)

    def _claim(self, name: str, now: datetime) -> bool:
        """Takes the refresh lease of a stale token; False when it is fresh or leased."""
        return claim_token_refresh(
            self._database, name=name, now=now, margin=self._margin, lease=self._lease
        )

    def _store(self, name: str, token: str, expires_at: datetime, claimed_at: datetime) -> None:
        """Saves a fetched token, unless another process took the lease over meanwhile."""
        stored = store_token(
            self._database, name=name, token=token, expires_at=expires_at, claimed_at=claimed_at
        )
        if not stored:
            logger.warning("Another process took over the %s token refresh", name)

    def _invalidate(self, name: str, token: str, now: datetime) -> None:
        """Expires a refused token and frees the lease, unless a refresh is under way."""
        invalidate_token(
            self._database,
            name=name,
            token=token,
            now=now,
            margin=self._margin,
            lease=self._lease,
        )
