"""District files a dry run passed, kept in the database until the one who checked them confirms.

Every process of the console reads the same table, so a confirmation lands wherever the load
balancer sends it, and a restart loses nothing. Only a hash of the token is stored; the digest
of the bytes travels with the confirmation and is checked against the stored bytes, so what is
imported is exactly what was checked, once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session

from storage import console

# How long a checked file waits for its confirmation.
LIFETIME = timedelta(minutes=30)
# Checked files kept per person: enough for a few tabs, not a way to fill the database.
KEPT_PER_OWNER = 5
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
DIGEST = re.compile(r"[0-9a-f]{64}")


class Refusal(StrEnum):
    """Why a confirmation imports nothing."""

    # Unknown, expired, or already imported.
    GONE = "gone"
    # Checked by someone else, who alone may confirm it.
    FOREIGN = "foreign"
    # The confirmation's token or digest was changed, or the stored bytes no longer match.
    TAMPERED = "tampered"


@dataclass(frozen=True, slots=True)
class Kept:
    """A checked file's claim ticket: the token and the digest of its bytes."""

    token: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Upload:
    """A checked file handed back for its import."""

    name: str
    data: bytes


def digest(data: bytes) -> str:
    """Returns the SHA-256 of some bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def keep_upload(
    session: Session,
    *,
    member_id: int | None,
    account_id: int | None,
    name: str,
    data: bytes,
    now: datetime,
) -> Kept:
    """Keeps a checked file for its owner (a member or a console account); sweeps stale ones."""
    token = secrets.token_urlsafe(32)
    sha256 = digest(data)
    console.add_pending_import(
        session,
        token_hash=digest(token.encode()),
        member_id=member_id,
        account_id=account_id,
        file_name=name,
        sha256=sha256,
        data=data,
        now=now,
        stale_before=now - LIFETIME,
        keep=KEPT_PER_OWNER,
    )
    return Kept(token=token, sha256=sha256)


def claim_upload(
    session: Session,
    *,
    token: str,
    sha256: str,
    member_id: int | None,
    account_id: int | None,
    now: datetime,
) -> Upload | Refusal:
    """Hands a checked file to its owner once, bound to the digest the dry run showed."""
    if not TOKEN.fullmatch(token) or not DIGEST.fullmatch(sha256):
        return Refusal.TAMPERED
    head = console.pending_import(
        session, token_hash=digest(token.encode()), fresh_after=now - LIFETIME
    )
    if head is None:
        return Refusal.GONE
    if (head.member_id, head.account_id) != (member_id, account_id):
        return Refusal.FOREIGN
    if not hmac.compare_digest(head.sha256, sha256):
        return Refusal.TAMPERED
    data = console.claim_pending_import(session, pending_id=head.id)
    if data is None:
        return Refusal.GONE
    if not hmac.compare_digest(digest(data), head.sha256):
        return Refusal.TAMPERED
    return Upload(name=head.file_name, data=data)
