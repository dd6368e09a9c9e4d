"""Overviews kept between views until a write or the clock could change them.

A committee's overview reads every record of its district; most views find nothing written
since the last one, and on a meeting day what was written is mostly answers (check-ins). Each
overview is kept with the fact version read before it was computed
(`storage.reminders.fact_version`, moved by the triggers on every table the rules read) and the
moment it stops holding on its own (midnight, or the next meeting starting). A view whose version
still holds and whose moment has not come gets the kept overview. Otherwise only what the
tables written since feed is read again (the version counts the writes to each table: after a
check-in only the meetings' answers, after a rename only the organizations), and only the
branches that a difference reaches are checked again (`bot.services.overview`): a branch whose
counts, facts, liaisons and groups are as they were keeps its standing. Past its moment the
overview is computed anew. Every process keeps its own: a write anywhere moves the versions
they all read.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.heap import collection_paused
from bot.services.overview import (
    Counted,
    Overview,
    counted_overview,
    overview_basis,
)
from storage.engine import Session
from storage.reminders import EVERY_TABLE, FactVersion, fact_version, written_since

# Overviews kept at once (a scope and a quarter each): a district has a few committees, each
# staff member sees one of them. A city-wide overview of 5,000 organizations, with the facts it
# was checked against, holds ~25 MiB.
KEPT_SCOPES = 4
# However quiet the database, an overview is computed anew after this long: a rule's input the
# version does not follow (a holiday file replaced under a running process) catches up.
LONGEST_KEPT = timedelta(minutes=10)

_Key = tuple[frozenset[int], Quarter]


@dataclass(frozen=True, slots=True)
class _Kept:
    """An overview with what it was counted from, its version, its moment, when (monotonic)."""

    counted: Counted
    version: FactVersion
    moment: datetime
    computed_at: float


class OverviewCache:
    """Keeps each scope's latest overview of a quarter while nothing it read has changed."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._kept: OrderedDict[_Key, _Kept] = OrderedDict()
        self._guard = threading.Lock()
        # One computation per scope at a time: views arriving meanwhile wait for its result.
        self._computing: dict[_Key, threading.Lock] = {}

    def overview(
        self,
        session: Session,
        *,
        org_ids: Collection[int],
        quarter: Quarter,
        now: datetime,
        holidays: HolidayCalendar,
        tz: ZoneInfo,
    ) -> Overview:
        """Returns the overview `district_overview` gives, kept from an earlier view if it holds."""
        key = (frozenset(org_ids), quarter)
        with self._guard:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            kept = self._usable(key, now)
            written = written_since(session, kept.version) if kept else EVERY_TABLE
            if kept is not None and not written:
                self._touch(key)
                return kept.counted.overview
            # Read before the records: a write after this moves the version, so it is not lost.
            version = fact_version(session)
            if kept is not None:
                # Once more against the version just read: a write committed since the check
                # would otherwise be counted in it while missing from what is read again.
                written = written_since(session, kept.version, version)
            with collection_paused():
                if kept is None:
                    basis = overview_basis(
                        session, org_ids=key[0], quarter=quarter, now=now, holidays=holidays, tz=tz
                    )
                    counted = counted_overview(session, basis, now=now)
                else:
                    counted = _brought_up_to_date(
                        session, kept.counted, written, org_ids=key[0], now=now, holidays=holidays
                    )
            self._keep(key, _Kept(counted, version, now, self._monotonic()))
            return counted.overview

    def _usable(self, key: _Key, now: datetime) -> _Kept | None:
        """Returns what is kept for `key` if the clock has not moved past it."""
        with self._guard:
            kept = self._kept.get(key)
        if kept is None:
            return None
        if (
            not kept.moment <= now < kept.counted.overview.holds_until
            or self._monotonic() - kept.computed_at > LONGEST_KEPT.total_seconds()
        ):
            return None
        return kept

    def _touch(self, key: _Key) -> None:
        """Marks a scope's overview as the most recently viewed."""
        with self._guard:
            if key in self._kept:
                self._kept.move_to_end(key)

    def _keep(self, key: _Key, kept: _Kept) -> None:
        """Keeps an overview, forgetting the least recently viewed beyond the limit."""
        with self._guard:
            self._kept[key] = kept
            self._kept.move_to_end(key)
            while len(self._kept) > KEPT_SCOPES:
                dropped, _ = self._kept.popitem(last=False)
                self._computing.pop(dropped, None)


def _brought_up_to_date(
    session: Session,
    before: Counted,
    written: frozenset[str],
    *,
    org_ids: Collection[int],
    now: datetime,
    holidays: HolidayCalendar,
) -> Counted:
    """Reads again what the `written` tables feed; checks again only the branches it reaches."""
    basis = before.basis
    if written - {"attendance"}:
        basis = overview_basis(
            session,
            org_ids=org_ids,
            quarter=basis.quarter,
            now=now,
            holidays=holidays,
            tz=basis.tz,
            before=basis,
            written=written,
        )
    return counted_overview(session, basis, now=now, before=before, written=written)
