"""The delivery loop: claim due outbox rows, push them through the member's channels, record how.

Delivery is at least once: a row is recorded right after its send, so a sender killed in between
sends that row again once its claim lapses; the duplicates are bounded by the batch in flight.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial

from bot.core.clock import Clock
from bot.core.inbound import Channel
from bot.core.metrics import FLOOD_WAITS, PUSHES
from bot.core.ports import DeliveryStatus, Sender, SendResult
from bot.core.reply import Reply
from bot.services.obligations.rules import is_quiet
from storage import outbox
from storage.engine import Database, Session
from storage.outbox import Claimed

log = logging.getLogger(__name__)

NO_CHANNEL = "no chat account on a channel that can push"


def worker_name() -> str:
    """Names this sender uniquely: host, process and a random suffix."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed pushes are retried: exponential backoff, then the dead-letter state."""

    max_attempts: int = 6
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=2)

    def delay(self, attempts: int) -> timedelta:
        """Returns the wait after the `attempts`-th failure."""
        delay: timedelta = self.first_delay * (2 ** max(attempts - 1, 0))
        return min(delay, self.max_delay)


@dataclass(slots=True)
class DeliveryReport:
    """What one delivery round did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    held: int = 0
    undeliverable: int = 0
    dead: int = 0
    lost_claims: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        """Adds another round's counts to this one."""
        for name in ("claimed", "sent", "retried", "held", "undeliverable", "dead", "lost_claims"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


class Delivery:
    """Sends claimed outbox rows through the configured senders, one batch per round."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        senders: Iterable[Sender],
        worker: str | None = None,
        batch: int = 50,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=10),
        retry: RetryPolicy | None = None,
        quiet_hours: tuple[time, time] | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.senders: dict[Channel, Sender] = {sender.channel: sender for sender in senders}
        self.worker = worker or worker_name()
        self.batch = batch
        self.concurrency = max(concurrency, 1)
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.quiet_hours = quiet_hours
        # A channel that answered "too many requests" rests until then, across rounds.
        self.paused: dict[Channel, datetime] = {}

    async def run_once(self) -> DeliveryReport:
        """Claims one batch of due rows and sends them; returns what happened."""
        report = DeliveryReport()
        if not self.senders:
            return report
        now = self.clock.now()
        urgent_only = self.quiet_hours is not None and is_quiet(now.time(), *self.quiet_hours)
        rows = await asyncio.to_thread(self._claim, now, urgent_only)
        report.claimed = len(rows)
        if not rows:
            return report
        accounts = await asyncio.to_thread(self._accounts, [row.member_id for row in rows])
        limit = asyncio.Semaphore(self.concurrency)

        async def deliver(row: Claimed) -> None:
            """Sends one row within the concurrency limit."""
            async with limit:
                await self._deliver(row, accounts.get(row.member_id, ()), report)

        async with asyncio.TaskGroup() as group:
            for row in rows:
                group.create_task(deliver(row))
        return report

    async def drain(
        self, *, max_rounds: int = 1000, stop: Callable[[], bool] | None = None
    ) -> DeliveryReport:
        """Runs rounds until nothing is due now, `max_rounds`, or `stop()`; returns the totals."""
        total = DeliveryReport()
        for _ in range(max_rounds):
            if stop is not None and stop():
                break
            report = await self.run_once()
            total.add(report)
            if report.claimed in (0, report.held):
                break
        return total

    def _claim(self, now: datetime, urgent_only: bool) -> list[Claimed]:
        """Claims a batch in its own transaction."""
        with self.database.session() as session:
            return outbox.claim(
                session,
                now=now,
                worker=self.worker,
                limit=self.batch,
                lease=self.lease,
                urgent_only=urgent_only,
            )

    def _accounts(self, member_ids: Sequence[int]) -> dict[int, tuple[tuple[Channel, str], ...]]:
        """Returns each member's chat accounts, the most recently used first."""
        with self.database.session() as session:
            rows = outbox.chat_accounts(session, member_ids=member_ids)
        epoch = datetime.min.replace(tzinfo=UTC)
        ordered = sorted(rows, key=lambda a: (a.last_seen_at or epoch, a.id or 0), reverse=True)
        found: dict[int, list[tuple[Channel, str]]] = {}
        for account in ordered:
            found.setdefault(account.member_id, []).append((account.channel, account.external_id))
        return {member: tuple(items) for member, items in found.items()}

    async def _deliver(
        self,
        row: Claimed,
        accounts: Sequence[tuple[Channel, str]],
        report: DeliveryReport,
    ) -> None:
        """Tries the member's accounts in turn and records the first conclusive outcome."""
        row_id, worker = row.id, self.worker
        refusals: list[str] = []
        last_channel: Channel | None = None
        for channel, recipient in accounts:
            sender = self.senders.get(channel)
            if sender is None:
                continue
            until = self.paused.get(channel)
            if until is not None and until > self.clock.now():
                reason = f"{channel.value}: waiting out flood control"
                await self._record(
                    report,
                    "held",
                    partial(outbox.release, row_id=row_id, worker=worker, at=until, reason=reason),
                )
                return
            last_channel = channel
            result = await self._send(sender, recipient, row.text)
            now = self.clock.now()
            if result.status is DeliveryStatus.SENT:
                await self._record(
                    report,
                    "sent",
                    partial(
                        outbox.mark_sent, row_id=row_id, worker=worker, now=now, channel=channel
                    ),
                )
                return
            if result.status is DeliveryStatus.UNDELIVERABLE:
                refusals.append(f"{channel.value}: {result.detail or 'refused'}")
                continue
            reason = f"{channel.value}: {result.detail or 'temporary failure'}"
            if result.retry_after is not None:
                # A flood answer is the channel's limit, not the message's fault: it does not
                # count as an attempt, and the whole channel rests as long as it was told.
                until = now + timedelta(seconds=max(result.retry_after, 0.0))
                self.paused[channel] = max(self.paused.get(channel, until), until)
                FLOOD_WAITS.inc(channel.value)
                await self._record(
                    report,
                    "held",
                    partial(outbox.release, row_id=row_id, worker=worker, at=until, reason=reason),
                )
                return
            attempts = row.attempts + 1
            retry_at = (
                now + self.retry.delay(attempts) if attempts < self.retry.max_attempts else None
            )
            failed = partial(
                outbox.mark_failed,
                row_id=row_id,
                worker=worker,
                reason=reason,
                attempts=attempts,
                retry_at=retry_at,
            )
            await self._record(report, "retried" if retry_at else "dead", failed)
            return
        reason = "; ".join(refusals) or NO_CHANNEL
        await self._record(
            report,
            "undeliverable",
            partial(
                outbox.mark_undeliverable,
                row_id=row_id,
                worker=worker,
                reason=reason,
                channel=last_channel,
            ),
        )

    async def _send(self, sender: Sender, recipient: str, text: str) -> SendResult:
        """Calls a sender, turning an unexpected error into a retryable failure."""
        try:
            return await sender.send(recipient=recipient, reply=Reply(text))
        except Exception as error:
            log.warning("sender %s failed", sender.channel.value, exc_info=True)
            return SendResult(DeliveryStatus.RETRY, f"{type(error).__name__}: {error}"[:300])

    async def _record(
        self, report: DeliveryReport, outcome: str, change: Callable[[Session], bool]
    ) -> None:
        """Stores an outcome in its own transaction and counts it."""

        def store() -> bool:
            """Runs the outbox update."""
            with self.database.session() as session:
                return change(session)

        if await asyncio.to_thread(store):
            setattr(report, outcome, getattr(report, outcome) + 1)
            PUSHES.inc(outcome)
        else:
            # Our claim lapsed and another sender took the row: it will record the outcome.
            report.lost_claims += 1
