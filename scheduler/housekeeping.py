"""Daily housekeeping: forget departed members after the retention period, prune delivery keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.services.privacy import purge_departed
from storage.deliveries import prune_bind_failures
from storage.engine import Database
from storage.queries import prune_delivery_keys

log = logging.getLogger(__name__)

# Platforms retry within minutes (WeChat) or hours (Telegram); a week of keys is plenty.
DELIVERY_KEYS_KEPT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class HousekeepingReport:
    """What one housekeeping round removed."""

    purged_members: int
    pruned_keys: int


def housekeep(database: Database, *, now: datetime, settings: Settings) -> HousekeepingReport:
    """Purges departed members past retention and prunes old inbound delivery keys."""
    with database.session() as session:
        purged = purge_departed(session, now, timedelta(days=settings.retention_days))
    with database.session() as session:
        pruned = prune_delivery_keys(session, before=now - DELIVERY_KEYS_KEPT)
        # Failed-bind counts name chat accounts: kept no longer than the keys.
        prune_bind_failures(session=session, before=now - DELIVERY_KEYS_KEPT)
    if purged or pruned:
        log.info(
            "housekeeping purged %d members' personal data, pruned %d keys", len(purged), pruned
        )
    return HousekeepingReport(purged_members=len(purged), pruned_keys=pruned or 0)
