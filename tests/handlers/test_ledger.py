"""The ledger workbook (/ledger, 台账) on every kind of channel, and the year-end summary draft."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import docx
import httpx
import pytest
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.channels.telegram import TelegramChannel, telegram_rate_limiter
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import ActivityKind
from bot.core.inbound import Channel, Inbound
from bot.core.reply import Reply
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from bot.services.documents import DOCX_MIME
from bot.services.ledger_book import XLSX_MIME
from bot.web.downloads import download_routes
from storage.engine import Database
from storage.models import AuditEntry, DownloadLink
from storage.reminders import Filing, FilingMethod
from tests.factories import World
from tests.fakes import ManualTime
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgGroup, TgUser
from tests.helpers import Chat
from tests.services.test_stats import add_activity, add_meeting, answer, at, joined

SECRETARY = TgUser(4003, "Sec", language_code="en")
BRANCH_GROUP = TgGroup(-1004000, "第1支部 党员群")


def english(chat: Chat, world: World, name: str, files: Path) -> Chat:
    """Binds a console user as the named member, in English, saving files under `files`."""
    member = chat.as_(f"u-{name}")
    member.channel.files_dir = files / "files"
    member.bound(world.invites[name])
    member.say("/lang en")
    return member


@pytest.fixture
def records(database: Database, world: World) -> World:
    """An org-life day with attendance and a ledger entry of 第1支部 this quarter."""
    joined(database, date(2026, 1, 1))
    meeting = add_meeting(database, org=world.orgs["B1"], day=date(2026, 10, 6))
    answer(database, meeting, world, present=("sec", "m1"), leave=("m2",))
    add_activity(
        database,
        org=world.orgs["B1"],
        day=date(2026, 10, 12),
        kind=ActivityKind.VISIT,
        partners=(world.orgs["B2"],),
        pairing_id=world.pairing_id,
        reporter=world.members["sec"],
    )
    return world


def filings(database: Database) -> list[tuple[str, str, FilingMethod, int | None]]:
    """Lists the recorded filings."""
    with database.session() as session:
        return [
            (row.scope, row.period, row.method, row.filed_by)
            for row in session.exec(select(Filing)).all()
        ]


# -- console: the file is written where the channel keeps files ---------------------------------


def test_ledger_on_the_console(
    chat: Chat, records: World, database: Database, tmp_path: Path, clock: FrozenClock
) -> None:
    sec = english(chat, records, "sec", tmp_path)
    clock.set(at(2026, 12, 22, 10))
    reply = sec.say("/ledger")
    assert "The Q4 2026 ledger of 第1支部. Ledger entries: 1; meetings: 1." in reply
    assert "Exporting it counts as filing the Q4 2026 ledger: its reminders stop." in reply
    path = tmp_path / "files" / "Ledger-第1支部-2026Q4.xlsx"
    assert f"📎 {path.resolve()}" in reply
    [sent] = sec.last
    assert sent.private and sent.document is not None
    assert sent.document.mime_type == XLSX_MIME
    assert path.read_bytes() == sent.document.content
    book = load_workbook(path)
    assert book.sheetnames[0] == "Activities"
    assert book.worksheets[0]["H6"].value == "sec"
    assert filings(database) == [
        (f"org:{records.orgs['B1']}", "2026Q4", FilingMethod.EXPORTED, records.members["sec"])
    ]

    again = sec.say("台账")
    assert "counts as filing" not in again
    assert (tmp_path / "files" / "Ledger-第1支部-2026Q4 (2).xlsx").is_file()
    assert len(filings(database)) == 1
    with database.session() as session:
        exports = session.exec(select(AuditEntry).where(AuditEntry.action == "ledger.export"))
        assert len(exports.all()) == 2


def test_an_early_ledger_is_a_preview(
    chat: Chat, records: World, database: Database, tmp_path: Path
) -> None:
    sec = english(chat, records, "sec", tmp_path)
    reply = sec.say("台账")
    assert "This is a preview: an export counts as filing from December 22, 2026 on" in reply
    assert (tmp_path / "files" / "Ledger-第1支部-2026Q4.xlsx").is_file()
    assert filings(database) == []


def test_ledger_of_another_quarter_and_bad_input(
    chat: Chat, records: World, database: Database, tmp_path: Path
) -> None:
    sec = english(chat, records, "sec", tmp_path)
    assert "The Q3 2026 ledger of 第1支部. Ledger entries: 0; meetings: 0." in sec.say(
        "台账 2026Q3"
    )
    assert (tmp_path / "files" / "Ledger-第1支部-2026Q3.xlsx").is_file()
    assert "Send /ledger for this quarter's ledger" in sec.say("台账 whenever")
    assert sec.say("/ledger 2027Q1") == "Q1 2027 has not started yet."
    assert [period for _, period, _, _ in filings(database)] == ["2026Q3"]


def test_ledger_is_for_secretaries_only(
    chat: Chat, records: World, database: Database, tmp_path: Path
) -> None:
    member = english(chat, records, "m1", tmp_path)
    assert "Only the branch secretary" in member.say("/ledger")
    assert "Only the branch secretary" in member.say("台账")
    assert not (tmp_path / "files").exists()
    assert filings(database) == []


# -- WeChat and WeCom: a single-use link instead of a file --------------------------------------


def wechat(assistant: Assistant, text: str, channel: Channel = Channel.WECHAT) -> list[Reply]:
    """Sends a message as a WeChat (or WeCom) user."""
    inbound = Inbound(channel=channel, chat_id="wx-sec", user_id="wx-sec", text=text)
    return assistant.handle(inbound)


async def test_ledger_link_on_wechat_works_once(
    settings: Settings, records: World, database: Database, clock: FrozenClock
) -> None:
    configured = settings.model_copy(
        update={"public_base_url": "https://gj.example.org/", "download_link_minutes": 30}
    )
    assistant = build_assistant(configured, clock=clock, database=database)
    wechat(assistant, f"绑定 {records.invites['sec']}")
    wechat(assistant, "/lang en")
    clock.set(at(2026, 12, 28, 10))
    [reply] = wechat(assistant, "台账")
    assert reply.document is None and reply.private
    assert "The link works once, within 30 minutes" in reply.text
    match = re.search(r"https://gj\.example\.org/files/([A-Za-z0-9_-]+)", reply.text)
    assert match, reply.text
    token = match.group(1)
    with database.session() as session:
        [link] = session.exec(select(DownloadLink)).all()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in link.params and link.member_id == records.members["sec"]
    assert link.expires_at == clock.now() + timedelta(minutes=30)
    assert filings(database) == []

    routes = download_routes(database, clock=clock, holidays=assistant.holidays)
    transport = httpx.ASGITransport(app=build_http_app(assistant, routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://gj.test") as client:
        first = await client.get(f"/files/{token}")
        assert first.status_code == 200
        assert first.headers["content-type"] == XLSX_MIME
        disposition = first.headers["content-disposition"]
        assert "filename*=UTF-8''Ledger-%E7%AC%AC1%E6%94%AF%E9%83%A8-2026Q4.xlsx" in disposition
        book = load_workbook(io.BytesIO(first.content))
        # The link remembers the language it was asked in.
        assert book.sheetnames[0] == "Activities"
        assert (await client.get(f"/files/{token}")).status_code == 404
    assert filings(database) == [
        (f"org:{records.orgs['B1']}", "2026Q4", FilingMethod.EXPORTED, records.members["sec"])
    ]


async def test_summary_link_on_wecom_works_once(
    settings: Settings, records: World, database: Database, clock: FrozenClock
) -> None:
    configured = settings.model_copy(update={"public_base_url": "https://gj.example.org/"})
    assistant = build_assistant(configured, clock=clock, database=database)
    wechat(assistant, f"绑定 {records.invites['sec']}", Channel.WECOM)
    *_, reply = wechat(assistant, "年度总结", Channel.WECOM)
    assert reply.document is None and reply.private
    assert "年度工作总结（Word文档）" in reply.text
    match = re.search(r"https://gj\.example\.org/files/([A-Za-z0-9_-]+)", reply.text)
    assert match, reply.text
    routes = download_routes(database, clock=clock, holidays=assistant.holidays)
    transport = httpx.ASGITransport(app=build_http_app(assistant, routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://gj.test") as client:
        first = await client.get(f"/files/{match.group(1)}")
        assert first.status_code == 200
        assert first.headers["content-type"] == DOCX_MIME
        book = docx.Document(io.BytesIO(first.content))
        headings = [p.text for p in book.paragraphs if p.style and p.style.name == "Heading 1"]
        assert headings[:4] == [
            "一、基本情况",
            "二、主要做法和成效",
            "三、存在问题",
            "四、下一步打算",
        ]
        assert (await client.get(f"/files/{match.group(1)}")).status_code == 404
    with database.session() as session:
        actions = [row.action for row in session.exec(select(AuditEntry)).all()]
    assert "summary.link" in actions


def test_no_link_without_a_public_url(
    assistant: Assistant, records: World, database: Database
) -> None:
    wechat(assistant, f"绑定 {records.invites['sec']}", Channel.WECOM)
    wechat(assistant, "/lang en", Channel.WECOM)
    [reply] = wechat(assistant, "/ledger", Channel.WECOM)
    assert "GONGJIAN_PUBLIC_BASE_URL" in reply.text and reply.document is None
    with database.session() as session:
        assert session.exec(select(DownloadLink)).all() == []
    assert filings(database) == []


# -- Telegram: sendDocument, privately when asked in a group ------------------------------------


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
async def telegram(
    settings: Settings, api: FakeTelegramAPI, assistant: Assistant, ticks: ManualTime
) -> AsyncIterator[TelegramChannel]:
    """The Telegram channel in front of the real assistant, long polling the fake."""
    configured = settings.model_copy(
        update={"telegram_token": SecretStr(TOKEN), "telegram_base_url": api.base_url}
    )
    limiter = telegram_rate_limiter(monotonic=ticks.monotonic, sleep=ticks.sleep)
    channel = TelegramChannel(configured, assistant, limiter=limiter, poll_timeout=10)
    await channel.start()
    yield channel
    await channel.stop()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_ledger_on_telegram(
    api: FakeTelegramAPI, records: World, database: Database, telegram: TelegramChannel
) -> None:
    api.push(api.message(f"/start {records.invites['sec']}", user=SECRETARY))
    await api.wait_for("sendMessage", 1)
    api.push(api.message("/ledger", user=SECRETARY))
    [sent] = await api.wait_for("sendDocument", 1)
    assert sent.params["chat_id"] == SECRETARY.id
    [document] = api.documents(SECRETARY.id)
    assert document.filename == "Ledger-第1支部-2026Q4.xlsx"
    assert load_workbook(io.BytesIO(document.content)).sheetnames[0] == "Activities"
    assert "The Q4 2026 ledger of 第1支部" in api.texts(SECRETARY.id)[-1]

    # The year-end summary goes as a Word file too.
    api.push(api.message("/summary", user=SECRETARY))
    await api.wait_for("sendDocument", 2)
    summary = api.documents(SECRETARY.id)[-1]
    assert summary.filename == "Year-end_summary-第1支部-2026.docx"
    assert docx.Document(io.BytesIO(summary.content)).paragraphs[0].text.endswith("2026")

    # Asked in the branch group, the workbook goes to the secretary's private chat only.
    api.push(api.message("/ledger", user=SECRETARY, chat=BRANCH_GROUP))
    await api.wait_for("sendDocument", 3)
    assert [d.filename for d in api.documents(SECRETARY.id) if d.filename.endswith("xlsx")] == [
        "Ledger-第1支部-2026Q4.xlsx"
    ] * 2
    assert api.documents(BRANCH_GROUP.id) == []
    # Early November: a preview, which files nothing.
    assert "This is a preview" in api.texts(SECRETARY.id)[-1]
    assert filings(database) == []


# -- the year-end summary -----------------------------------------------------------------------


def test_summary_drafts(chat: Chat, records: World, tmp_path: Path) -> None:
    sec = english(chat, records, "sec", tmp_path)
    sec.say("/summary")
    alliance, pairing, closing, word = (reply.text for reply in sec.last)
    assert "The year-end summary for 2026 as a Word document." in word
    path = tmp_path / "files" / "Year-end_summary-第1支部-2026.docx"
    book = docx.Document(str(path))
    titles = [p.text for p in book.paragraphs if p.style is not None and p.style.name == "Title"]
    assert titles == ["红湾联盟: work summary for 2026", "一支部-二支部结对: work summary for 2026"]
    assert sec.last[-1].private and sec.last[-1].document is not None
    assert sec.last[-1].document.mime_type == DOCX_MIME
    assert alliance.startswith("红湾联盟: year-end summary for 2026 (draft)")
    assert pairing.startswith("一支部-二支部结对: year-end summary for 2026 (draft)")
    assert "Visits (走亲串门): 1 of the 3 a year: Oct 12, 2026." in pairing
    assert "/submitted summary" in closing
    sec.say("年度总结 今年")
    this_year = [reply.text for reply in sec.last[:-1]]
    sec.say("/summary 2026")
    assert [reply.text for reply in sec.last[:-1]] == this_year
    assert "was in no alliance or pairing in 2025" in sec.say("年度总结 2025")
    assert sec.say("年度总结 2027") == "2027 has not started yet."
    assert "Send /summary for this year" in sec.say("年度总结 soon")
    assert "Send /summary for this year" in sec.say("/summary 1999")


def test_summary_is_for_secretaries_only(chat: Chat, records: World, tmp_path: Path) -> None:
    member = english(chat, records, "m1", tmp_path)
    assert "Only the branch secretary" in member.say("年度总结")
