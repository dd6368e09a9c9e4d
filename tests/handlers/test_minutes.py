"""Minutes (会议记录) of any meeting: the chat flow, the Word document, the ledger, the link."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import docx
import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import MeetingKind
from bot.core.inbound import Channel, Inbound
from bot.core.reply import Reply
from bot.engine.assembly import build_assistant
from bot.services.documents import DOCX_MIME
from bot.services.errors import ServiceError
from bot.services.minutes import save_minutes
from bot.web.downloads import download_routes
from storage.engine import Database
from storage.models import Minutes
from tests.factories import World
from tests.helpers import Chat
from tests.services.test_stats import add_meeting, answer, at, joined


@pytest.fixture
def meetings(database: Database, world: World) -> dict[str, int]:
    """第1支部's October org-life day (with a roll call) and a party lecture still ahead."""
    joined(database, date(2026, 1, 1))
    october = add_meeting(database, org=world.orgs["B1"], day=date(2026, 10, 6), title="十月学习")
    answer(database, october, world, present=("sec", "deputy", "m1"), leave=("m2",))
    lecture = add_meeting(
        database, org=world.orgs["B1"], day=date(2026, 12, 1), kind=MeetingKind.LECTURE
    )
    other = add_meeting(database, org=world.orgs["B2"], day=date(2026, 10, 20))
    return {"october": october, "lecture": lecture, "other": other}


def secretary(chat: Chat, world: World, tmp_path: Path) -> Chat:
    """Binds the secretary on the console (Chinese), saving files under tmp_path/files."""
    sec = chat.as_("u-sec")
    sec.channel.files_dir = tmp_path / "files"
    return sec.bound(world.invites["sec"])


def test_minutes_flow_on_the_console(
    chat: Chat, world: World, meetings: dict[str, int], database: Database, tmp_path: Path
) -> None:
    sec = secretary(chat, world, tmp_path)
    first = sec.say("会议记录")
    assert "为哪次会议填写记录" in first
    # Only the branch's own meetings held so far are offered (not the lecture ahead).
    labels = [b.label for b in sec.last[0].flat_buttons]
    assert labels[0] == "2026年10月6日 组织生活日 十月学习"
    assert not any("党课" in label for label in labels)
    # Another branch's meeting cannot be picked by typing its button data.
    assert "请从下列会议中选择一个" in sec.say(f"meeting:{meetings['other']}")
    assert "会议主题是什么" in sec.press("十月学习")
    assert "会议由谁主持" in sec.press("十月学习")  # keeps the meeting's title as the topic
    assert "记录人是谁" in sec.press("sec")
    assert "请填写会议内容" in sec.say("李四")
    assert "会议内容须为5至5000个字" in sec.say("短")
    assert "会议作出了哪些决议" in sec.say("学习党章第一章，交流学习体会。")
    check = sec.say("一、每月第一个周二集中学习。\n二、支部委员带头讲党课。")
    assert "请核对会议记录" in check and "主持人：sec" in check and "记录人：李四" in check
    done = sec.say("确认")
    assert "会议记录已保存" in done
    _saved, word = sec.last
    assert word.private and word.document is not None
    assert word.document.mime_type == DOCX_MIME
    assert word.document.filename == "会议记录-第1支部-2026-10-06.docx"

    book = docx.Document(io.BytesIO(word.document.content))
    texts = [p.text for p in book.paragraphs]
    assert texts[0] == "会议记录"
    assert texts[1] == "街道党工委第1支部"
    rows = {row.cells[0].text: row.cells[1].text for row in book.tables[0].rows}
    assert rows["会议主题"] == "十月学习"
    assert rows["会议"] == "组织生活日"
    assert rows["时间"].startswith("2026年10月6日 星期二 09:00")
    assert rows["主持人"] == "sec" and rows["记录人"] == "李四"
    # Attendance comes from the roll call: who signed in, who asked leave, who is missing.
    assert rows["考勤"] == "应到5人，实到3人，请假1人，缺席1人"
    assert rows["出席"] == "sec、deputy和m1" or set(
        rows["出席"].replace("和", "、").split("、")
    ) == {
        "sec",
        "deputy",
        "m1",
    }
    assert rows["请假"].startswith("m2")
    assert rows["缺席"] == "liaison"
    headings = [
        p.text for p in book.paragraphs if p.style is not None and p.style.name == "Heading 1"
    ]
    assert headings == ["会议内容", "会议决议"]
    assert "二、支部委员带头讲党课。" in texts

    # The ledger's meetings sheet shows who chaired, who recorded, the content and resolutions.
    sec.say("台账")
    ledger = load_workbook(tmp_path / "files" / "台账-第1支部-2026Q4.xlsx")
    row = [cell.value for cell in ledger["会议"][6]]
    assert row[3] == "十月学习" and row[6] == "sec" and row[7] == "李四"
    assert str(row[8]).startswith("学习党章第一章") and "决议：一、每月第一个周二" in str(row[8])

    # Writing again replaces the minutes (one set per meeting, by constraint).
    sec.say("会议记录")
    sec.press("✓ 2026年10月6日")
    sec.say("十月学习（修订）")
    sec.say("王五")
    sec.say("李四")
    sec.say("学习党章第一章并交流。")
    sec.press("无")
    sec.say("确认")
    with database.session() as session:
        [stored] = session.exec(select(Minutes)).all()
    assert (stored.topic, stored.host, stored.resolutions) == ("十月学习（修订）", "王五", "")

    # Exporting again later, without writing.
    assert "导出哪次会议的记录" in sec.say("会议记录 导出")
    sec.press("十月学习")
    [again] = sec.last
    assert again.document is not None and again.document.filename.endswith(".docx")


def test_minutes_are_for_secretaries(chat: Chat, world: World, meetings: dict[str, int]) -> None:
    member = chat.as_("u-m1").bound(world.invites["m1"])
    assert member.say("会议记录") == "该操作仅限支部书记或副书记使用。"


def test_minutes_refusals(database: Database, world: World, meetings: dict[str, int]) -> None:
    with database.session() as session, pytest.raises(ServiceError) as raised:
        save_minutes(
            session,
            meeting_id=meetings["october"],
            topic="t",
            host="h",
            recorder="r",
            content="   ",
            resolutions="",
            by=None,
            now=at(2026, 11, 3),
            today=date(2026, 11, 3),
        )
    assert raised.value.code == "minutes_empty"
    for meeting_id, code in ((meetings["lecture"], "meeting_ahead"), (999, "meeting_unknown")):
        with database.session() as session, pytest.raises(ServiceError) as raised:
            save_minutes(
                session,
                meeting_id=meeting_id,
                topic="t",
                host="h",
                recorder="r",
                content="学习党章",
                resolutions="",
                by=None,
                now=at(2026, 11, 3),
                today=date(2026, 11, 3),
            )
        assert raised.value.code == code
    with database.session() as session:
        assert session.exec(select(Minutes)).all() == []


def wecom(assistant: object, text: str) -> list[Reply]:
    """Sends a message as a WeCom user."""
    inbound = Inbound(channel=Channel.WECOM, chat_id="wx-sec", user_id="wx-sec", text=text)
    return assistant.handle(inbound)  # type: ignore[attr-defined, no-any-return]


async def test_minutes_link_on_wecom(
    settings: Settings,
    world: World,
    meetings: dict[str, int],
    database: Database,
    clock: FrozenClock,
) -> None:
    configured = settings.model_copy(update={"public_base_url": "https://gj.example.org/"})
    assistant = build_assistant(configured, clock=clock, database=database)
    wecom(assistant, f"绑定 {world.invites['sec']}")
    [ask] = wecom(assistant, "会议记录")
    option = next(b for b in ask.flat_buttons if "十月学习" in b.label)
    wecom(assistant, option.data)
    wecom(assistant, "keep")
    wecom(assistant, "sec")
    wecom(assistant, "sec")
    wecom(assistant, "学习党章第一章，交流学习体会。")
    wecom(assistant, "无")
    _saved, link = wecom(assistant, "确认")
    assert link.document is None and link.private
    match = re.search(r"https://gj\.example\.org/files/([A-Za-z0-9_-]+)", link.text)
    assert match, link.text
    routes = download_routes(database, clock=clock, holidays=assistant.holidays)
    transport = httpx.ASGITransport(app=build_http_app(assistant, routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://gj.test") as client:
        got = await client.get(f"/files/{match.group(1)}")
        assert got.status_code == 200 and got.headers["content-type"] == DOCX_MIME
        rows = {
            row.cells[0].text: row.cells[1].text
            for row in docx.Document(io.BytesIO(got.content)).tables[0].rows
        }
        assert rows["会议主题"] == "十月学习"
        assert (await client.get(f"/files/{match.group(1)}")).status_code == 404
