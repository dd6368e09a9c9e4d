"""Daily housekeeping: retention purge of departed members and pruning of delivery keys."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import MemberStatus
from bot.core.inbound import Channel
from scheduler.housekeeping import housekeep
from storage.engine import Database
from storage.models import Member, ProcessedInbound
from tests.factories import World


def test_housekeeping_purges_past_retention_and_prunes_keys(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    now = clock.now()
    with database.session() as session:
        gone = session.get_one(Member, world.members["m2"])
        gone.status = MemberStatus.DEPARTED
        gone.departed_at = now - timedelta(days=settings.retention_days + 1)
        recent = session.get_one(Member, world.members["m1"])
        recent.status = MemberStatus.DEPARTED
        recent.departed_at = now - timedelta(days=10)
        session.add_all([gone, recent])
        session.add(
            ProcessedInbound(channel=Channel.TELEGRAM, key="old", at=now - timedelta(days=8))
        )
        session.add(
            ProcessedInbound(channel=Channel.TELEGRAM, key="new", at=now - timedelta(hours=1))
        )
    report = housekeep(database, now=now, settings=settings)
    assert (report.purged_members, report.pruned_keys) == (1, 1)
    with database.session() as session:
        assert session.get_one(Member, world.members["m2"]).name != "m2"
        assert session.get_one(Member, world.members["m1"]).name == "m1"
        assert [row.key for row in session.exec(select(ProcessedInbound)).all()] == ["new"]
    again = housekeep(database, now=now, settings=settings)
    assert (again.purged_members, again.pruned_keys) == (0, 0)
