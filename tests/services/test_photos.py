"""Photos as evidence: checked by content and size, stored once, attached, listed and exported."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.config import load_settings
from bot.core.inbound import InboundImage
from bot.services.errors import ServiceError
from bot.services.ledger_book import ZIP_MIME, export_ledger
from bot.services.photos import (
    MAX_PER_MESSAGE,
    CheckedPhoto,
    PhotoStore,
    attach_photos,
    check_photos,
    discard_photos,
    latest_report,
    photos_of,
    save_photos,
    sniff,
)
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import Activity, Photo
from tests.factories import World
from tests.services.test_stats import SH, add_activity, at


def png(seed: int = 0) -> bytes:
    """Makes a real 1x1 PNG whose pixel depends on `seed`."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(bytes([0, seed % 256, 0, 0]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


def store(tmp_path: Path, max_bytes: int = 1024 * 1024) -> PhotoStore:
    """A photo store under the test's folder."""
    return PhotoStore(tmp_path / "photos", max_bytes)


def test_types_are_read_from_the_bytes() -> None:
    assert sniff(png()) == ("image/png", "png")
    assert sniff(JPEG) == ("image/jpeg", "jpg")
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("image/webp", "webp")
    assert sniff(b"%PDF-1.7") is None
    assert sniff(b"GIF89a") is None


def test_photos_default_next_to_the_database(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/x/g.db", _env_file=None)
    assert settings.photo_root == tmp_path / "x" / "photos"
    assert settings.photo_max_bytes == 10 * 1024 * 1024
    chosen = load_settings(
        database_url="sqlite:///g.db", photos_dir=tmp_path / "p", photo_max_mb=2, _env_file=None
    )
    assert (chosen.photo_root, chosen.photo_max_bytes) == (tmp_path / "p", 2 * 1024 * 1024)


def test_the_checks_say_what_the_bytes_are(tmp_path: Path) -> None:
    photos = store(tmp_path, max_bytes=1000)
    # The platform's word for the type is not taken: the bytes decide.
    [checked] = check_photos(photos, [InboundImage(png(1), mime_type="image/jpeg")])
    assert checked == CheckedPhoto(png(1), "image/png", "png")
    with pytest.raises(ServiceError) as raised:
        check_photos(photos, [InboundImage(JPEG)] * (MAX_PER_MESSAGE + 1))
    assert raised.value.code == "photo_count"


def test_limits_refuse_and_store_nothing(database: Database, world: World, tmp_path: Path) -> None:
    photos = store(tmp_path, max_bytes=100)
    member = world.members["m1"]
    cases = [
        ([InboundImage(png() + b"\x00" * 200)], "photo_too_large"),
        # A photo the platform said is too big, not downloaded at all.
        ([InboundImage(b"", size=5_000_000)], "photo_too_large"),
        # A download that stopped past the limit: larger than that, by how much nobody knows.
        ([InboundImage(b"", size=101, truncated=True)], "photo_over_limit"),
        ([InboundImage(b"%PDF-1.7 not a photo")], "photo_type"),
        ([InboundImage(png(n)) for n in range(10)], "photo_count"),
    ]
    for images, code in cases:
        with database.session() as session, pytest.raises(ServiceError) as raised:
            save_photos(session, photos, member_id=member, images=images, now=at(2026, 11, 3))
        assert raised.value.code == code
    with database.session() as session:
        assert session.exec(select(Photo)).all() == []
    assert not (tmp_path / "photos").exists()
    with database.session() as session, pytest.raises(ServiceError) as raised:
        save_photos(
            session,
            photos,
            member_id=member,
            images=[InboundImage(b"", size=5 * 1024 * 1024)],
            now=at(2026, 11, 3),
        )
    assert raised.value.details == {"size": "5.0", "limit": "0.0"}


def test_store_attach_list_and_export(database: Database, world: World, tmp_path: Path) -> None:
    photos = store(tmp_path)
    sec = world.members["sec"]
    entry = add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=sec, summary="走访二支部"
    )
    with database.session() as session:
        saved = save_photos(
            session,
            photos,
            member_id=sec,
            images=[InboundImage(png(1)), InboundImage(JPEG), InboundImage(png(1))],
            now=at(2026, 11, 3),
        )
    # The same picture twice is one photo, stored once under its digest.
    assert len({photo.id for photo in saved}) == 2
    assert all(photos.file(photo).read_bytes()[:4] in (png()[:4], JPEG[:4]) for photo in saved)
    assert not list((tmp_path / "photos").rglob("*.part"))
    with database.session() as session:
        latest = latest_report(session, member_id=sec)
        assert latest is not None and latest.id == entry
        # Another member cannot attach them; the owner can, once.
        assert (
            attach_photos(
                session, member_id=world.members["m1"], photo_ids=[saved[0].id], activity_id=entry
            )
            == 0
        )
        assert (
            attach_photos(
                session, member_id=sec, photo_ids=[p.id for p in saved], activity_id=entry
            )
            == 2
        )
        assert (
            attach_photos(
                session, member_id=sec, photo_ids=[p.id for p in saved], activity_id=entry
            )
            == 0
        )
        assert [p.mime_type for p in photos_of(session, [entry])[entry]] == [
            "image/png",
            "image/jpeg",
        ]

    with database.session() as session:
        made = export_ledger(
            session,
            org_id=world.orgs["B1"],
            quarter=Quarter(2026, 4),
            now=at(2026, 11, 3, 12),
            holidays=HolidayCalendar.load(),
            tz=SH,
            t=translator("zh_CN"),
            actor_id=sec,
            photos=photos,
        )
    assert made.document.filename == "台账-第1支部-2026Q4.zip"
    assert made.document.mime_type == ZIP_MIME
    archive = zipfile.ZipFile(io.BytesIO(made.document.content))
    assert sorted(archive.namelist()) == [
        "台账-第1支部-2026Q4.xlsx",
        f"照片/2026-10-12-第{entry}条-1.png",
        f"照片/2026-10-12-第{entry}条-2.jpg",
    ]
    assert archive.read(f"照片/2026-10-12-第{entry}条-1.png") == png(1)
    book = load_workbook(io.BytesIO(archive.read("台账-第1支部-2026Q4.xlsx")))
    sheet = book["活动"]
    assert sheet.cell(5, 9).value == "照片"
    assert (
        sheet.cell(6, 9).value
        == f"照片/2026-10-12-第{entry}条-1.png\n照片/2026-10-12-第{entry}条-2.jpg"
    )


def test_discarded_photos_are_forgotten(database: Database, world: World, tmp_path: Path) -> None:
    photos = store(tmp_path)
    with database.session() as session:
        [saved] = save_photos(
            session,
            photos,
            member_id=world.members["m1"],
            images=[InboundImage(JPEG)],
            now=at(2026, 11, 3),
        )
        discard_photos(session, member_id=world.members["m1"], photo_ids=[saved.id])
        assert session.exec(select(Photo)).all() == []
        assert session.exec(select(Activity)).all() == []
