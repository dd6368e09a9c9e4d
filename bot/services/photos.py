"""Photos as evidence (000: 材料的收集、整理、归档): checked, stored as files, attached to entries.

A photo's file is named by its SHA-256 under the photo folder, written to a temporary name and
renamed, so a reader never sees half a file; its row (unique per member and content) says whose
it is and, once attached, which ledger entry it belongs to.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from bot.core.inbound import InboundImage
from bot.services.errors import ServiceError
from storage.models import Activity, ActivityPartner, Photo
from storage.queries import insert_ignore

# The picture formats every channel delivers and every office program opens.
SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"WEBP", 8, "image/webp", "webp"),
)
MAX_PER_MESSAGE = 9


@dataclass(frozen=True, slots=True)
class PhotoView:
    """A stored photo: where its file is (relative to the photo folder) and what it is."""

    id: int
    activity_id: int | None
    path: str
    mime_type: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PhotoStore:
    """Where photos go and how large one may be."""

    root: Path
    max_bytes: int

    def file(self, photo: PhotoView) -> Path:
        """Returns the file of a stored photo."""
        return self.root / photo.path


def sniff(content: bytes) -> tuple[str, str] | None:
    """Returns the MIME type and extension the bytes really are, or None for other files."""
    for magic, offset, mime, extension in SIGNATURES:
        if content[offset : offset + len(magic)] == magic:
            if mime == "image/webp" and not content.startswith(b"RIFF"):
                continue
            return mime, extension
    return None


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    """A photo that passed the checks: its bytes, what they really are and the file extension."""

    content: bytes
    mime_type: str
    extension: str


def check_photos(store: PhotoStore, images: Sequence[InboundImage]) -> list[CheckedPhoto]:
    """Refuses too many photos, or any over the size limit or of another type; returns them checked."""
    if len(images) > MAX_PER_MESSAGE:
        raise ServiceError("photo_count", limit=MAX_PER_MESSAGE)
    return [CheckedPhoto(image.content, *check(store, image)) for image in images]


def check(store: PhotoStore, image: InboundImage) -> tuple[str, str]:
    """Refuses a photo over the size limit or of another type; returns its MIME type and extension."""
    if image.truncated:
        # Only the first bytes past the limit were read: how large it is, nobody knows.
        raise ServiceError("photo_over_limit", limit=_megabytes(store.max_bytes))
    if image.byte_size > store.max_bytes:
        raise ServiceError(
            "photo_too_large",
            size=_megabytes(image.byte_size),
            limit=_megabytes(store.max_bytes),
        )
    kind = sniff(image.content)
    if kind is None:
        raise ServiceError("photo_type")
    return kind


def _megabytes(size: int) -> str:
    """Formats a size in megabytes with one decimal."""
    return f"{size / (1024 * 1024):.1f}"


def save_photos(
    session: Session,
    store: PhotoStore,
    *,
    member_id: int,
    images: Sequence[InboundImage],
    now: datetime,
) -> list[PhotoView]:
    """Checks every photo first, then stores them; returns the stored (or already stored) photos."""
    checked = check_photos(store, images)
    return store_photos(session, store, member_id=member_id, photos=checked, now=now)


def store_photos(
    session: Session,
    store: PhotoStore,
    *,
    member_id: int,
    photos: Sequence[CheckedPhoto],
    now: datetime,
) -> list[PhotoView]:
    """Stores checked photos; returns the stored (or already stored) photos."""
    ids: list[int] = []
    for photo in photos:
        digest = hashlib.sha256(photo.content).hexdigest()
        relative = f"{digest[:2]}/{digest}.{photo.extension}"
        _write(store.root / relative, photo.content)
        new_id = insert_ignore(
            session,
            Photo,
            values={
                "member_id": member_id,
                "sha256": digest,
                "path": relative,
                "mime_type": photo.mime_type,
                "size": len(photo.content),
                "created_at": now,
            },
            conflict=("member_id", "sha256"),
        )
        if new_id is None:
            new_id = session.exec(
                select(Photo.id).where(Photo.member_id == member_id, Photo.sha256 == digest)
            ).one()
        assert new_id is not None
        ids.append(new_id)
    return photos_by_id(session, ids)


def _write(path: Path, content: bytes) -> None:
    """Writes a file under a temporary name and renames it into place (no half files)."""
    if path.is_file() and path.stat().st_size == len(content):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _view(row: Photo) -> PhotoView:
    """Builds the view of a photo row."""
    assert row.id is not None
    return PhotoView(row.id, row.activity_id, row.path, row.mime_type, row.size, row.created_at)


def photos_by_id(session: Session, ids: Collection[int]) -> list[PhotoView]:
    """Reads photos by id, in the order given."""
    rows = {row.id: row for row in session.exec(select(Photo).where(col(Photo.id).in_(ids)))}
    return [_view(rows[photo_id]) for photo_id in ids if photo_id in rows]


def attach_photos(
    session: Session, *, member_id: int, photo_ids: Collection[int], activity_id: int
) -> int:
    """Attaches the member's unattached photos to a ledger entry; returns how many."""
    if not photo_ids:
        return 0
    result = session.execute(
        update(Photo)
        .where(
            col(Photo.id).in_(list(photo_ids)),
            col(Photo.member_id) == member_id,
            col(Photo.activity_id).is_(None),
        )
        .values(activity_id=activity_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def discard_photos(session: Session, *, member_id: int, photo_ids: Collection[int]) -> None:
    """Forgets the member's photos that were not attached (their files may serve other rows)."""
    session.execute(
        delete(Photo).where(
            col(Photo.id).in_(list(photo_ids)),
            col(Photo.member_id) == member_id,
            col(Photo.activity_id).is_(None),
        )
    )


def photos_of(session: Session, activity_ids: Collection[int]) -> dict[int, list[PhotoView]]:
    """Reads the photos of some ledger entries, by entry, oldest first."""
    found: dict[int, list[PhotoView]] = defaultdict(list)
    if not activity_ids:
        return found
    rows = session.exec(
        select(Photo)
        .where(col(Photo.activity_id).in_(list(activity_ids)))
        .order_by(col(Photo.created_at), col(Photo.id))
    )
    for row in rows:
        assert row.activity_id is not None
        found[row.activity_id].append(_view(row))
    return found


def visible_photo(session: Session, *, photo_id: int, org_ids: Collection[int]) -> PhotoView | None:
    """Returns a photo attached to an entry of `org_ids` (reporter or partner), else None."""
    if not org_ids:
        return None
    # The scope is checked here, not bound: a committee's scope is thousands of organizations,
    # and the statements read one photo's entry whatever its size.
    scope = frozenset(org_ids)
    found = session.exec(
        select(Photo, Activity.organization_id)
        .join(Activity, col(Activity.id) == col(Photo.activity_id))
        .where(col(Photo.id) == photo_id)
    ).first()
    if found is None:
        return None
    row, reporter = found
    if reporter in scope:
        return _view(row)
    partners = session.exec(
        select(ActivityPartner.organization_id).where(
            col(ActivityPartner.activity_id) == row.activity_id
        )
    ).all()
    return _view(row) if any(org in scope for org in partners) else None


def latest_report(session: Session, *, member_id: int) -> Activity | None:
    """Returns the ledger entry the member reported last."""
    return session.exec(
        select(Activity)
        .where(Activity.reporter_id == member_id)
        .order_by(col(Activity.created_at).desc(), col(Activity.id).desc())
    ).first()
