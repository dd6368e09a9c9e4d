"""Single-use, expiring download links for channels that cannot carry files (WeChat, WeCom).

Only the SHA-256 of a token is stored. A link is claimed by one conditional UPDATE, so it works
once even when two requests race; the file is made when the link is claimed, from the stored
parameters, so nothing generated sits on disk or in the database.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.i18n import DEFAULT_LOCALE
from bot.core.reply import Document
from bot.services.attendance import AttendanceBook
from bot.services.documents import minutes_document, year_summary_document
from bot.services.errors import ServiceError
from bot.services.ledger_book import export_ledger
from bot.services.meetings import Meetings
from bot.services.minutes import minutes_record
from bot.services.photos import PhotoStore
from bot.texts.translation import translator
from storage.models import DownloadLink, Member

LEDGER = "ledger"
SUMMARY = "summary"
MINUTES = "minutes"
FILES_PATH = "/files/"
TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclass(frozen=True, slots=True)
class DownloadConfig:
    """Where download links point and how long they last (from the settings)."""

    public_base_url: str | None = None
    link_minutes: int = 60

    @property
    def ttl(self) -> timedelta:
        """How long a link stays valid."""
        return timedelta(minutes=self.link_minutes)

    def url(self, token: str) -> str | None:
        """Returns the public URL of a token, or None when no public base URL is set."""
        if not self.public_base_url:
            return None
        return f"{self.public_base_url.rstrip('/')}{FILES_PATH}{token}"


@dataclass(frozen=True, slots=True)
class ClaimedLink:
    """A link just claimed: who asked for it, what it makes, and with which parameters."""

    member_id: int | None
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def hash_token(token: str) -> str:
    """Returns the stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(
    session: Session,
    *,
    member_id: int | None,
    kind: str,
    params: dict[str, Any],
    now: datetime,
    ttl: timedelta,
) -> str:
    """Stores a new link and returns its token (shown once, never stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        DownloadLink(
            token_hash=hash_token(token),
            member_id=member_id,
            kind=kind,
            params=json.dumps(params, ensure_ascii=False, sort_keys=True),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return token


def claim_link(session: Session, *, token: str, now: datetime) -> ClaimedLink | None:
    """Uses a link up: returns what it is for, or None when unknown, used or expired."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    row = session.execute(
        update(DownloadLink)
        .where(
            col(DownloadLink.token_hash) == hash_token(token),
            col(DownloadLink.used_at).is_(None),
            col(DownloadLink.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(DownloadLink.member_id), col(DownloadLink.kind), col(DownloadLink.params))
    ).first()
    if row is None:
        return None
    member_id, kind, params = row
    return ClaimedLink(member_id, kind, json.loads(params))


def make_document(
    session: Session,
    link: ClaimedLink,
    *,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
    photos: PhotoStore | None = None,
) -> Document:
    """Makes the file a claimed link stands for; raises ServiceError when it cannot be made."""
    locale = str(link.params.get("locale") or DEFAULT_LOCALE)
    try:
        if link.kind == MINUTES:
            meeting_id = int(link.params["meeting_id"])
            org_id = 0
        else:
            org_id = int(link.params["org_id"])
        if link.kind == LEDGER:
            quarter = Quarter.parse(str(link.params["quarter"]))
        elif link.kind == SUMMARY:
            year = int(link.params["year"])
        elif link.kind != MINUTES:
            raise ServiceError("download_unknown")
    except (KeyError, TypeError, ValueError):
        raise ServiceError("download_unknown") from None
    t = translator(locale)
    filled_by = _member_name(session, link.member_id)
    if link.kind == MINUTES:
        record = minutes_record(
            session,
            meeting_id=meeting_id,
            meetings=Meetings(session, holidays=holidays, tz=tz),
            attendance=AttendanceBook(session, now, tz),
        )
        return minutes_document(t, record)
    if link.kind == SUMMARY:
        document = year_summary_document(
            session, org_id=org_id, year=year, now=now, holidays=holidays, tz=tz, t=t
        )
        if document is None:
            raise ServiceError("download_unknown")
        return document
    export = export_ledger(
        session,
        org_id=org_id,
        quarter=quarter,
        now=now,
        holidays=holidays,
        tz=tz,
        t=t,
        actor_id=link.member_id,
        filled_by=filled_by,
        photos=photos,
    )
    return export.document


def _member_name(session: Session, member_id: int | None) -> str:
    """Returns the name of the member who asked for a link (the 填报人), or nothing."""
    if member_id is None:
        return ""
    member = session.get(Member, member_id)
    return member.name if member is not None else ""


def link_is_live(session: Session, *, token: str, now: datetime) -> bool:
    """Tells whether a link would still work, without using it (for HEAD requests)."""
    if not TOKEN_PATTERN.fullmatch(token):
        return False
    found = session.exec(
        select(DownloadLink.id).where(
            col(DownloadLink.token_hash) == hash_token(token),
            col(DownloadLink.used_at).is_(None),
            col(DownloadLink.expires_at) > now,
        )
    ).first()
    return found is not None
