"""Photos in chat: added to the report being written, or offered to the latest report."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from bot.core.inbound import Channel, Inbound, InboundImage
from bot.core.reply import Reply
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Activity, Photo
from tests.factories import World
from tests.services.test_photos import JPEG, png
from tests.services.test_stats import add_activity


def send(assistant: Assistant, text: str = "", *images: bytes) -> list[Reply]:
    """Sends a message (with photos) as one WeChat member."""
    inbound = Inbound(
        channel=Channel.WECHAT,
        chat_id="wx-m1",
        user_id="wx-m1",
        text=text,
        images=tuple(InboundImage(content) for content in images),
    )
    return assistant.handle(inbound)


def photos(database: Database) -> list[Photo]:
    """Lists the stored photo rows."""
    with database.session() as session:
        return list(session.exec(select(Photo)).all())


def test_photos_in_the_report_flow(assistant: Assistant, world: World, database: Database) -> None:
    send(assistant, f"绑定 {world.invites['m1']}")
    send(assistant, "汇报")
    added, again = send(assistant, "", png(1), JPEG)
    assert added.text == "本次汇报将附上2张照片。请继续填写。"
    assert again.text == "请选择要汇报的活动类型："
    send(assistant, "study")
    send(assistant, "今天")
    send(assistant, "无")
    send(assistant, "12")
    [check] = send(assistant, "走访二支部，交流党建经验。")
    assert "照片：2张" in check.text
    [done] = send(assistant, "确认")
    assert "照片：2张" in done.text
    with database.session() as session:
        [entry] = session.exec(select(Activity)).all()
    assert {photo.activity_id for photo in photos(database)} == {entry.id}


def test_photos_outside_a_flow(assistant: Assistant, world: World, database: Database) -> None:
    send(assistant, f"绑定 {world.invites['m1']}")
    [refused] = send(assistant, "", JPEG)
    assert "请先发送“汇报”" in refused.text
    assert photos(database) == []
    entry = add_activity(
        database,
        org=world.orgs["B1"],
        day=date(2026, 10, 12),
        reporter=world.members["m1"],
        title="走访二支部",
    )
    [offer] = send(assistant, "", png(2))
    assert f"第{entry}条" in offer.text and "走访二支部" in offer.text
    assert [b.label for b in offer.flat_buttons] == ["附上", "不附"]
    [more] = send(assistant, "", JPEG)
    assert "2张照片" in more.text
    [done] = send(assistant, "attach")
    assert done.text == f"已将2张照片附到第{entry}条台账记录。"
    assert {photo.activity_id for photo in photos(database)} == {entry}

    send(assistant, "", png(3))
    [skipped] = send(assistant, "skip")
    assert skipped.text == "照片未保存。"
    assert len(photos(database)) == 2


def test_bad_photos_get_a_clear_message(
    assistant: Assistant, world: World, database: Database
) -> None:
    send(assistant, f"绑定 {world.invites['m1']}")
    send(assistant, "汇报")
    [refused] = send(assistant, "", b"%PDF-1.7")  # refused whole: the flow stays as it was
    assert refused.text == "只能保存JPEG、PNG或WebP格式的照片作为佐证材料。"
    inbound = Inbound(
        channel=Channel.WECHAT,
        chat_id="wx-m1",
        user_id="wx-m1",
        images=(InboundImage(b"", size=30 * 1024 * 1024),),
    )
    [big] = assistant.handle(inbound)
    assert big.text == "这张照片有30.0 MB，照片最大为10.0 MB，请发送小一些的照片。"
    assert photos(database) == []
    send(assistant, "取消")
    send(assistant, "请假")
    [busy] = send(assistant, "", JPEG)
    assert busy.text == "请先完成或取消当前操作，再重新发送照片。"
