"""Photos sent on Telegram: fetched with python-telegram-bot from the fake Bot API, then kept."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlmodel import select
from telegram import Bot, Update

from bot.channels.telegram import TelegramChannel, telegram_rate_limiter
from bot.channels.telegram.inbound import Picture, inbound_from_update, picture_of
from bot.config import Settings
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Activity, Photo
from tests.factories import World
from tests.fakes import ManualTime
from tests.fakes.telegram_api import (
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    FakeTelegramAPI,
    TgGroup,
    TgUser,
)
from tests.services.test_photos import JPEG, png
from tests.services.test_stats import add_activity

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ALICE = TgUser(5001, "Alice", language_code="en-GB")
SECRETARY = TgUser(5003, "Sec", language_code="en")
MB = 1024 * 1024
NOT_FETCHED = "I could not fetch that photo from the chat platform. Please send it again."


@pytest.fixture
def ticks() -> ManualTime:
    """The clock the rate limiter and the fake's flood control share."""
    return ManualTime()


@pytest.fixture
async def api(ticks: ManualTime) -> AsyncIterator[FakeTelegramAPI]:
    """The fake Bot API, listening on 127.0.0.1."""
    async with FakeTelegramAPI(clock=ticks.monotonic) as fake:
        yield fake


@pytest.fixture
async def channel(
    settings: Settings, api: FakeTelegramAPI, assistant: Assistant, world: World, ticks: ManualTime
) -> AsyncIterator[TelegramChannel]:
    """The Telegram channel in front of the real assistant, long polling the fake."""
    telegram = settings.model_copy(
        update={"telegram_token": SecretStr(TOKEN), "telegram_base_url": api.base_url}
    )
    limiter = telegram_rate_limiter(monotonic=ticks.monotonic, sleep=ticks.sleep)
    channel = TelegramChannel(telegram, assistant, limiter=limiter, poll_timeout=10)
    await channel.start()
    yield channel
    await channel.stop()


async def say(api: FakeTelegramAPI, update: dict[str, Any], replies: int = 1) -> str:
    """Pushes an update, waits for `replies` messages and returns their texts joined."""
    before = len(api.sent())
    api.push(update)
    await api.wait_for("sendMessage", before + replies)
    return "\n".join(api.texts()[before:])


async def press(api: FakeTelegramAPI, user: TgUser, wanted: str, replies: int = 1) -> str:
    """Presses the newest button in the user's private chat labelled `wanted`."""
    for call in reversed(api.sent(user.id)):
        for row in call.params.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if wanted in button["text"]:
                    return await say(api, api.press(call, button["callback_data"], user=user))
    raise AssertionError(f"no button {wanted!r}")


def stored(database: Database) -> list[Photo]:
    """Lists the stored photo rows."""
    with database.session() as session:
        return list(session.exec(select(Photo).order_by(Photo.id)).all())  # type: ignore[arg-type]


def files_under(root: Path) -> list[Path]:
    """Lists the files kept under the photo folder."""
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def fetched(api: FakeTelegramAPI) -> list[str]:
    """Returns the file ids the bot asked for with getFile."""
    return [call.params["file_id"] for call in api.calls_of("getFile")]


async def test_a_photo_during_a_report_is_fetched_at_its_largest_size_and_attached(
    api: FakeTelegramAPI,
    world: World,
    database: Database,
    settings: Settings,
    channel: TelegramChannel,
) -> None:
    await say(api, api.message(f"/start {world.invites['m1']}", user=ALICE))
    assert "Which kind of activity" in await say(api, api.message("/report", user=ALICE))
    picture = png(7)
    answer = await say(api, api.photo(picture, user=ALICE), replies=2)
    assert "1 photo will be attached to this report. Carry on where you were." in answer
    assert "Which kind of activity" in answer
    # The full size was fetched, not the thumbnail.
    assert fetched(api) == ["photo-1-x"]
    assert len(api.calls_of("download")) == 1
    [photo] = stored(database)
    assert photo.activity_id is None and photo.mime_type == "image/png"
    assert (settings.photo_root / photo.path).read_bytes() == picture

    await press(api, ALICE, "Joint study")
    await press(api, ALICE, "Today")
    await press(api, ALICE, "Done")
    await say(api, api.message("12", user=ALICE))
    review = await say(api, api.message("Joint study with photos.", user=ALICE))
    assert "Photos: 1" in review
    assert "Stored as ledger entry No." in await press(api, ALICE, "Confirm")
    with database.session() as session:
        entry = session.exec(select(Activity)).one()
    assert [photo.activity_id for photo in stored(database)] == [entry.id]


async def test_a_photo_outside_a_flow_is_offered_to_the_latest_report_and_exported(
    api: FakeTelegramAPI,
    world: World,
    database: Database,
    settings: Settings,
    channel: TelegramChannel,
) -> None:
    await say(api, api.message(f"/start {world.invites['sec']}", user=SECRETARY))
    entry = add_activity(
        database,
        org=world.orgs["B1"],
        day=date(2026, 10, 12),
        reporter=world.members["sec"],
        title="走访二支部",
    )
    offer = await say(api, api.photo(JPEG, user=SECRETARY))
    assert f"Attach 1 photo to your latest report, No. {entry}" in offer
    assert "走访二支部" in offer
    done = await press(api, SECRETARY, "Attach")
    assert done == f"Attached 1 photo to ledger entry No. {entry}."
    [photo] = stored(database)
    assert photo.activity_id == entry
    assert files_under(settings.photo_root) == [settings.photo_root / photo.path]

    # The ledger the secretary downloads carries the photo next to the workbook.
    await say(api, api.message("/ledger", user=SECRETARY))
    await api.wait_for("sendDocument")
    [ledger] = api.documents(SECRETARY.id)
    assert ledger.filename == "Ledger-第1支部-2026Q4.zip"
    archive = zipfile.ZipFile(io.BytesIO(ledger.content))
    [workbook] = [item for item in archive.namelist() if item.endswith(".xlsx")]
    [name] = [item for item in archive.namelist() if item != workbook]
    assert name == f"Photos/2026-10-12-entry_{entry}-1.jpg"
    assert archive.read(name) == JPEG
    book = load_workbook(io.BytesIO(archive.read(workbook)))
    cells = [str(cell) for sheet in book.worksheets for row in sheet.values for cell in row]
    # The workbook names the photo's file in the entry's row.
    assert any(name in cell for cell in cells)


async def test_a_picture_sent_as_a_file_is_kept_by_its_bytes(
    api: FakeTelegramAPI, world: World, database: Database, channel: TelegramChannel
) -> None:
    await say(api, api.message(f"/start {world.invites['m1']}", user=ALICE))
    await say(api, api.message("/report", user=ALICE))
    update = api.document(png(3), user=ALICE, mime_type="image/png", filename="活动.png")
    assert "1 photo will be attached" in await say(api, update, replies=2)
    assert [photo.mime_type for photo in stored(database)] == ["image/png"]
    # A file that claims to be a picture but is not one is refused by its bytes.
    fake = api.document(b"%PDF-1.7 minutes", user=ALICE, mime_type="image/jpeg")
    refused = await say(api, fake)
    assert refused == "Only JPEG, PNG and WebP photos can be kept as evidence."
    assert len(stored(database)) == 1


async def test_oversized_photos_and_other_files_are_refused_without_downloading(
    api: FakeTelegramAPI,
    world: World,
    database: Database,
    settings: Settings,
    channel: TelegramChannel,
) -> None:
    await say(api, api.message(f"/start {world.invites['m1']}", user=ALICE))
    add_activity(
        database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members["m1"]
    )
    # Every size of this photo is over the limit (10 MB): none is fetched.
    update = api.photo(JPEG, user=ALICE)
    for size in update["message"]["photo"]:
        size["file_size"] = 30 * MB
    refused = await say(api, update)
    assert refused == "That photo is 30.0 MB; photos may be at most 10.0 MB. Send a smaller one."
    # A large picture file, and a file that is no picture at all.
    big = api.document(JPEG, user=ALICE, mime_type="image/jpeg", declared_size=12 * MB)
    assert "That photo is 12.0 MB" in await say(api, big)
    pdf = api.document(b"%PDF-1.7", user=ALICE, mime_type="application/pdf", filename="a.pdf")
    assert await say(api, pdf) == "Only JPEG, PNG and WebP photos can be kept as evidence."
    assert api.calls_of("getFile") == [] and api.calls_of("download") == []
    assert stored(database) == [] and files_under(settings.photo_root) == []

    # Only the full size is over the limit: the largest size within it is taken instead.
    update = api.photo(JPEG + b"\x00" * 64, user=ALICE, declared_size=11 * MB)
    assert "Attach 1 photo" in await say(api, update)
    assert fetched(api) == [update["message"]["photo"][0]["file_id"]]


async def test_a_photo_telegram_cannot_hand_out_gets_a_clear_message(
    api: FakeTelegramAPI, world: World, database: Database, channel: TelegramChannel
) -> None:
    await say(api, api.message(f"/start {world.invites['m1']}", user=ALICE))
    await say(api, api.message("/report", user=ALICE))
    update = api.photo(JPEG, user=ALICE)
    api.files.clear()  # getFile answers 400 "invalid file_id"
    answer = await say(api, update, replies=2)
    assert NOT_FETCHED in answer
    # The report goes on where it was.
    assert "Which kind of activity" in answer
    assert stored(database) == []
    assert "On which day" in await press(api, ALICE, "Joint study")


async def test_the_photo_word_typed_as_text_explains_how_to_send_photos(
    api: FakeTelegramAPI, world: World, database: Database, channel: TelegramChannel
) -> None:
    await say(api, api.message(f"/start {world.invites['m1']}", user=ALICE))
    answer = await say(api, api.message("/photo", user=ALICE))
    assert answer.startswith("Send the photos themselves in this chat")
    assert stored(database) == []


def test_the_largest_size_within_the_limit_is_chosen() -> None:
    offline = FakeTelegramAPI()
    data = offline.photo(JPEG, user=ALICE)
    sizes = data["message"]["photo"]
    sizes.append({"file_id": "unsized", "file_unique_id": "u", "width": 2000, "height": 2000})
    message = Update.de_json({"update_id": 1, **data}, Bot(TOKEN)).message  # type: ignore[union-attr]
    assert message is not None
    # A size Telegram did not state is taken (and checked once fetched).
    assert picture_of(message, 10 * MB) == Picture("unsized", "image/jpeg")
    sizes.pop()
    message = Update.de_json({"update_id": 2, **data}, Bot(TOKEN)).message  # type: ignore[union-attr]
    assert message is not None
    assert picture_of(message, len(JPEG)) == Picture("photo-1-x", "image/jpeg", size=len(JPEG))
    assert picture_of(message, 20) == Picture("photo-1-s", "image/jpeg", size=16)
    assert picture_of(message, 10) == Picture(None, "image/jpeg", size=16)
    text = Update.de_json({"update_id": 3, **offline.message("hi", user=ALICE)}, Bot(TOKEN))
    assert text is not None and text.message is not None
    assert picture_of(text.message, MB) is None


def test_photos_and_files_are_evidence_not_unreadable_content() -> None:
    offline = FakeTelegramAPI()

    def inbound(data: dict[str, Any]) -> Any:
        parsed = Update.de_json({"update_id": 1, **data}, Bot(TOKEN))
        return inbound_from_update(parsed, bot_id=BOT_ID, bot_username=BOT_USERNAME)

    photo = inbound(offline.photo(JPEG, user=ALICE))
    assert photo is not None and not photo.unsupported and photo.text == ""
    document = inbound(offline.document(b"%PDF", user=ALICE, mime_type="application/pdf"))
    assert document is not None and not document.unsupported
    # In a group a photo is left alone unless it answers the bot.
    group = TgGroup(-1005000, "党员群")
    assert inbound(offline.photo(JPEG, user=ALICE, chat=group)) is None


async def test_a_strangers_photo_is_not_fetched(
    api: FakeTelegramAPI, database: Database, channel: TelegramChannel
) -> None:
    stranger = TgUser(5099, "Stranger", language_code="en")
    answer = await say(api, api.photo(png(3), user=stranger))
    assert "bind" in answer.lower()
    assert fetched(api) == [] and api.calls_of("download") == []
    assert stored(database) == []
