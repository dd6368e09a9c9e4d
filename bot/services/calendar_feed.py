"""Private calendar feeds: revocable, unguessable tokens (only their hash is stored) and what a feed shows."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, or_, update
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.core.domain import Duty, MemberStatus
from bot.core.records import DutySlot, MeetingView, MemberView
from bot.services.errors import ServiceError
from bot.services.meetings import Meetings
from bot.services.members import Members
from bot.services.rota import Rota
from storage.models import CalendarFeed, Meeting, Member, Organization

TOKEN_BYTES = 32
# What a token looks like (token_urlsafe of 32 bytes is 43 characters); anything else is unknown.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}")
MONTHS_BACK = 3
MONTHS_AHEAD = 12


def new_token() -> str:
    """Returns a fresh unguessable feed token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Returns the stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(base_url: str, token: str) -> str:
    """Builds the public URL of a feed from the server's public base URL."""
    return f"{base_url.rstrip('/')}/calendar/{token}.ics"


def add_months(day: date, months: int) -> date:
    """Returns the first day of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class CalendarFeeds:
    """Issues, revokes and resolves a member's private feed tokens."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def issue(self, member_id: int) -> str:
        """Creates a new feed for a member and returns its token (shown once, never stored)."""
        token = new_token()
        self.session.add(
            CalendarFeed(token_hash=hash_token(token), member_id=member_id, created_at=self.now)
        )
        self.session.flush()
        return token

    def active_since(self, member_id: int) -> datetime | None:
        """Returns when the member's oldest live feed was made, or None when none is live."""
        return self.session.exec(
            select(CalendarFeed.created_at)
            .where(CalendarFeed.member_id == member_id, col(CalendarFeed.revoked_at).is_(None))
            .order_by(col(CalendarFeed.created_at))
        ).first()

    def revoke(self, member_id: int) -> int:
        """Revokes every live feed of a member; returns how many were live."""
        result = self.session.execute(
            update(CalendarFeed)
            .where(col(CalendarFeed.member_id) == member_id, col(CalendarFeed.revoked_at).is_(None))
            .values(revoked_at=self.now)
        )
        return cast(CursorResult[Any], result).rowcount

    def member_for(self, token: str) -> int | None:
        """Returns the member behind a live token, or None (unknown, revoked, or departed)."""
        if not TOKEN_PATTERN.fullmatch(token):
            return None
        found: int | None = self.session.exec(
            select(CalendarFeed.member_id)
            .join(Member, col(Member.id) == CalendarFeed.member_id)
            .where(
                CalendarFeed.token_hash == hash_token(token),
                col(CalendarFeed.revoked_at).is_(None),
                Member.status != MemberStatus.DEPARTED,
            )
        ).first()
        return found


@dataclass(frozen=True, slots=True)
class FeedDuty:
    """One duty slot of one of the member's alliances."""

    alliance_id: int
    alliance_name: str
    slot: DutySlot


@dataclass(frozen=True, slots=True)
class FeedContent:
    """Everything one member's feed shows, between two days."""

    member: MemberView
    first_day: date
    last_day: date
    meetings: list[MeetingView]
    duties: list[FeedDuty]


def feed_content(
    session: Session, *, member_id: int, now: datetime, tz: ZoneInfo, holidays: HolidayCalendar
) -> FeedContent:
    """Gathers a member's meetings and their alliances' duty slots, 3 months back to 12 ahead."""
    today = now.astimezone(tz).date()
    first_day = add_months(today, -MONTHS_BACK)
    last_day = add_months(today, MONTHS_AHEAD + 1) - timedelta(days=1)
    member = Members(session, now).get(member_id)
    meetings = Meetings(session, holidays=holidays, tz=tz)
    org = session.get_one(Organization, member.org.id)
    # Past org-life days are what was recorded; the coming ones exist by the rule.
    for months in range(MONTHS_AHEAD + 1):
        month = add_months(today, months)
        meetings.ensure_org_life(org, month.year, month.month)
    rota = Rota(session, now)
    alliances = rota.alliances_of(member.org.id)
    pairings = rota.pairings_of(member.org.id)
    rows = session.exec(
        select(Meeting)
        .where(
            Meeting.held_on >= first_day,
            Meeting.held_on <= last_day,
            or_(
                col(Meeting.organization_id) == member.org.id,
                col(Meeting.alliance_id).in_([a.id for a in alliances]),
                col(Meeting.pairing_id).in_([p.id for p in pairings]),
            ),
        )
        .order_by(col(Meeting.held_on), col(Meeting.starts_at), col(Meeting.id))
    ).all()
    duties: list[FeedDuty] = []
    for alliance in alliances:
        assert alliance.id is not None
        seen: set[tuple[Duty, str]] = set()
        day = first_day
        while day <= last_day:
            for duty in (Duty.THEME_DAY, Duty.CONVENER):
                try:
                    slot = rota.slot(alliance, duty, day)
                except ServiceError:
                    continue  # an alliance without units has no one on duty
                if (duty, slot.period) not in seen:
                    seen.add((duty, slot.period))
                    duties.append(FeedDuty(alliance.id, alliance.name, slot))
            day = add_months(day, 1)
    return FeedContent(
        member=member,
        first_day=first_day,
        last_day=last_day,
        meetings=[meetings.view(row) for row in rows],
        duties=duties,
    )


class LinkState(StrEnum):
    """What asking for a calendar link gave."""

    ISSUED = "issued"
    ACTIVE = "active"
    UNCONFIGURED = "unconfigured"


@dataclass(frozen=True, slots=True)
class CalendarLink:
    """A member's calendar link: new (with its URL, shown once), already live since, or unavailable."""

    state: LinkState
    url: str | None = None
    since: datetime | None = None
