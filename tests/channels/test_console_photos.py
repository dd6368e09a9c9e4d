"""Photos on the console: `照片 PATH` reads the file from disk, within the same limits."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import select

from bot.channels.console import ConsoleChannel
from bot.channels.console.photos import photo_paths, read_photos
from bot.config import Settings
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Activity, Photo
from tests.factories import World
from tests.services.test_photos import JPEG, png
from tests.services.test_stats import add_activity

MB = 1024 * 1024


def console(assistant: Assistant, world: World, who: str = "m1") -> ConsoleChannel:
    """A console chat bound to the world's member `who`, in English."""
    channel = ConsoleChannel(assistant, user_id=f"c-{who}")
    channel.send(f"绑定 {world.invites[who]}")
    channel.send("/lang en")
    return channel


def said(channel: ConsoleChannel, line: str) -> str:
    """Sends a line and returns the replies' texts joined."""
    return "\n".join(reply.text for reply in channel.send(line))


def stored(database: Database) -> list[Photo]:
    """Lists the stored photo rows."""
    with database.session() as session:
        return list(session.exec(select(Photo).order_by(Photo.id)).all())  # type: ignore[arg-type]


def test_photo_lines_name_their_files(tmp_path: Path) -> None:
    spaced = tmp_path / "活动 照片.jpg"
    spaced.write_bytes(JPEG)
    assert photo_paths("照片 /tmp/a.jpg") == ["/tmp/a.jpg"]
    assert photo_paths("照片：/tmp/a.jpg '/tmp/b c.png'") == ["/tmp/a.jpg", "/tmp/b c.png"]
    assert photo_paths(f"/photo {spaced}") == [str(spaced)]
    assert photo_paths("照片") == [] and photo_paths("/PHOTO") == []
    assert photo_paths("照片很好看") is None and photo_paths("/photos a") is None
    assert photo_paths("汇报") is None


def test_a_photo_file_during_a_report_is_attached(
    assistant: Assistant, world: World, database: Database, settings: Settings, tmp_path: Path
) -> None:
    channel = console(assistant, world)
    picture = tmp_path / "visit.png"
    picture.write_bytes(png(4))
    assert "Which kind of activity" in said(channel, "汇报")
    answer = said(channel, f"照片 {picture}")
    assert "1 photo will be attached to this report." in answer
    assert "Which kind of activity" in answer
    [photo] = stored(database)
    assert (settings.photo_root / photo.path).read_bytes() == png(4)
    for line in ("1", "今天", "完成", "12", "Joint study with photos."):
        said(channel, line)
    assert "Stored as ledger entry" in said(channel, "确认")
    with database.session() as session:
        entry = session.exec(select(Activity)).one()
    assert [photo.activity_id for photo in stored(database)] == [entry.id]


def test_photo_files_outside_a_flow_are_offered_to_the_latest_report(
    assistant: Assistant, world: World, database: Database, tmp_path: Path
) -> None:
    channel = console(assistant, world)
    entry = add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members["m1"]
    )
    (tmp_path / "a.jpg").write_bytes(JPEG)
    (tmp_path / "b.png").write_bytes(png(9))
    offer = said(channel, f"/photo {tmp_path / 'a.jpg'} {tmp_path / 'b.png'}")
    assert f"Attach 2 photos to your latest report, No. {entry}" in offer
    assert said(channel, "1") == f"Attached 2 photos to ledger entry No. {entry}."


def test_bad_photo_files_are_refused_and_nothing_is_kept(
    assistant: Assistant, world: World, database: Database, settings: Settings, tmp_path: Path
) -> None:
    channel = console(assistant, world)
    add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members["m1"]
    )
    big = tmp_path / "big.jpg"
    big.write_bytes(JPEG + b"\x00" * (11 * MB))
    assert said(channel, f"照片 {big}") == (
        "That photo is 11.0 MB; photos may be at most 10.0 MB. Send a smaller one."
    )
    pdf = tmp_path / "minutes.jpg"
    pdf.write_bytes(b"%PDF-1.7")
    assert said(channel, f"照片 {pdf}") == "Only JPEG, PNG and WebP photos can be kept as evidence."
    missing = tmp_path / "missing.jpg"
    assert said(channel, f"照片 {missing}") == f"There is no file {missing}."
    assert said(channel, f"照片 {tmp_path}") == f"The file {tmp_path} cannot be read."
    assert said(channel, "照片").startswith("Send 照片 followed by the path")
    assert stored(database) == [] and not settings.photo_root.exists()


def test_a_file_over_the_limit_is_measured_not_read(tmp_path: Path) -> None:
    picture = tmp_path / "a.png"
    picture.write_bytes(png(1))
    [image] = read_photos([str(picture)], limit=16)
    assert (image.content, image.size, image.filename) == (b"", len(png(1)), "a.png")
    [whole] = read_photos([str(picture)])
    assert whole.content == png(1)


def test_a_file_that_is_no_photo_is_refused_before_a_report_is_asked_for(
    assistant: Assistant, world: World, database: Database, tmp_path: Path
) -> None:
    channel = console(assistant, world)
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    assert said(channel, f"照片 {pdf}") == "Only JPEG, PNG and WebP photos can be kept as evidence."
    (tmp_path / "a.jpg").write_bytes(JPEG)
    assert said(channel, f"照片 {tmp_path / 'a.jpg'}").startswith("Photos are kept with a report.")
