"""The pure parts shared by the WeChat and WeCom channels: checks, rendering, options, splitting."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import xmltodict
from wechatpy import parse_message
from wechatpy.messages import MESSAGE_TYPES
from wechatpy.replies import TextReply as AccountReply
from wechatpy.work.replies import TextReply as WorkReply

from bot.channels.weixin.callback import message_of_type
from bot.channels.weixin.checks import (
    RefusedError,
    check_fresh,
    check_signature,
    delivery_key,
    guard_xml,
    parse_envelope,
    read_envelope,
    signature_of,
    signed_parameters,
)
from bot.channels.weixin.render import (
    MAX_TEXT_BYTES,
    passive_text,
    render_numbered,
    shared_location,
    start_command,
    xml_text,
)
from bot.channels.weixin.render import split_message as split_text
from bot.core.reply import Button, Reply, button_rows
from bot.services.options import pick_option
from bot.texts.translation import translator

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><Content>&lol3;</Content></xml>"""


def test_signature_is_sha1_of_the_sorted_parts() -> None:
    expected = hashlib.sha1(b"".join(sorted([b"tok", b"1700000000", b"nonce"]))).hexdigest()
    assert signature_of("tok", "1700000000", "nonce") == expected
    check_signature(expected, "tok", "nonce", "1700000000")
    check_signature(expected.upper(), "tok", "nonce", "1700000000")


@pytest.mark.parametrize("given", [None, "", "abc", "z" * 40, "0" * 40])
def test_bad_or_malformed_signatures_are_refused_with_403(given: str | None) -> None:
    with pytest.raises(RefusedError) as refused:
        check_signature(given, "tok", "1700000000", "nonce")
    assert refused.value.status == 403


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"timestamp": "17e8", "nonce": "1"},
        {"timestamp": "1700000000", "nonce": ""},
        {"timestamp": "1700000000", "nonce": "a b"},
        {"timestamp": "1" * 13, "nonce": "1"},
        {"timestamp": "1700000000", "nonce": "n" * 65},
    ],
)
def test_malformed_timestamps_and_nonces_are_refused(query: dict[str, str]) -> None:
    with pytest.raises(RefusedError) as refused:
        signed_parameters(query)
    assert refused.value.status == 403


def test_timestamps_outside_five_minutes_are_refused() -> None:
    now = datetime(2026, 11, 3, 1, 30, tzinfo=UTC)
    stamp = int(now.timestamp())
    check_fresh(str(stamp - 299), now)
    check_fresh(str(stamp + 299), now)
    for outside in (stamp - 301, stamp + 301, 0):
        with pytest.raises(RefusedError):
            check_fresh(str(outside), now)


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>',
        "<!doctype xml><xml/>",
        '<xml><!ENTITY x "y"></xml>',
    ],
)
def test_any_dtd_or_entity_declaration_is_refused_before_parsing(body: str) -> None:
    with pytest.raises(RefusedError) as refused:
        guard_xml(body.encode())
    assert refused.value.status == 400


def test_a_dtd_hidden_in_utf16_is_refused_as_not_utf8() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><xml/>'
    with pytest.raises(RefusedError, match="UTF-8"):
        guard_xml(body.encode("utf-16"))


def test_plain_callback_xml_passes_the_guard_and_parses_flat() -> None:
    text = guard_xml("<xml><A><![CDATA[签到]]></A><B>1</B><C><D>x</D></C></xml>".encode())
    assert parse_envelope(text) == {"A": "签到", "B": "1"}


@pytest.mark.parametrize(
    ("text", "fields", "flat"),
    [
        ("<xml><A>\n<![CDATA[ 签到 ]]>\n</A><B></B></xml>", {"A": "签到"}, True),
        ("<xml><A>1</A><A>2</A><B>x</B></xml>", {"B": "x"}, False),
        ('<xml><A k="v">1</A><B>x</B></xml>', {"B": "x"}, False),
        ("<xml><A><C>1</C></A><B>x</B></xml>", {"B": "x"}, False),
    ],
)
def test_the_envelope_keeps_text_fields_and_says_whether_that_is_all(
    text: str, fields: dict[str, str], flat: bool
) -> None:
    assert read_envelope(text) == (fields, flat)
    # The same fields xmltodict reads (its strings), which the parser used to give.
    parsed = xmltodict.parse(text)["xml"]
    assert fields == {key: value for key, value in parsed.items() if isinstance(value, str)}


def test_a_flat_text_message_is_built_as_wechatpy_parses_it() -> None:
    text = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-1]]>"
        "</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[签到 123456]]></Content><MsgId>42</MsgId></xml>"
    )
    fields, flat = read_envelope(text)
    built, parsed = message_of_type(MESSAGE_TYPES, fields, flat=flat), parse_message(text)
    assert type(built) is type(parsed)
    for name in ("source", "target", "create_time", "type", "content", "id"):
        assert getattr(built, name) == getattr(parsed, name)


@pytest.mark.parametrize(
    "text",
    [
        "<xml><MsgType>event</MsgType><Event>subscribe</Event><FromUserName>o</FromUserName></xml>",
        "<xml><MsgType>text</MsgType><Content>a</Content><Content>b</Content></xml>",
        "<xml><MsgType>hologram</MsgType><FromUserName>o</FromUserName></xml>",
    ],
)
def test_events_and_unusual_messages_are_left_to_wechatpy(text: str) -> None:
    fields, flat = read_envelope(text)
    assert message_of_type(MESSAGE_TYPES, fields, flat=flat) is None


@pytest.mark.parametrize("text", ["<xml>", "not xml", "<other><a>1</a></other>", ""])
def test_malformed_xml_is_refused_with_400(text: str) -> None:
    with pytest.raises(RefusedError) as refused:
        parse_envelope(text)
    assert refused.value.status == 400


def test_buttons_become_options_numbered_across_replies() -> None:
    t = translator("en")
    replies = [
        Reply("Pick one", button_rows([Button("Study", "study"), Button("Visit", "visit")])),
        Reply("Or stop", ((Button("Cancel", "cancel"),),)),
        Reply("No buttons here"),
    ]
    rendered = render_numbered(replies, t)
    assert rendered.texts == (
        "Pick one\nReply 1: Study\nReply 2: Visit",
        "Or stop\nReply 3: Cancel",
        "No buttons here",
    )
    assert rendered.options == ("study", "visit", "cancel")


def test_numbers_pick_options_and_everything_else_stays_text() -> None:
    options = ["study", "visit", "cancel"]
    assert pick_option("1", options) == "study"
    assert pick_option(" 3 ", options) == "cancel"
    assert pick_option("２", options) == "visit"  # full-width digits from Chinese keyboards
    for text in ("0", "4", "-1", "1.5", "一", "1 2", "", "99999", "12"):
        assert pick_option(text, options) is None
    assert pick_option("1", []) is None


def test_start_commands_carry_only_plausible_invite_codes() -> None:
    assert start_command("INVM1X") == "/start INVM1X"
    assert start_command("") == "/start"
    assert start_command(None) == "/start"
    assert start_command("../../etc") == "/start"
    assert start_command("A" * 17) == "/start"


def test_reply_text_cannot_break_out_of_cdata() -> None:
    safe = xml_text("a]]><evil/>\x00\x07b")
    document = xmltodict.parse(f"<xml><Content><![CDATA[{safe}]]></Content></xml>")
    assert document["xml"]["Content"] == "a]]><evil/>b"


def test_long_texts_are_split_under_the_byte_limit_at_line_breaks() -> None:
    text = "\n".join(f"第{i}行：" + "党建共建" * 20 for i in range(40))
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(piece.encode()) <= MAX_TEXT_BYTES for piece in pieces)
    assert "\n".join(pieces) == text
    assert split_text("short") == ["short"]
    unbroken = "字" * 1000
    assert "".join(split_text(unbroken)) == unbroken


def test_delivery_keys_use_msgid_or_sender_time_and_event() -> None:
    assert delivery_key({"FromUserName": "o1", "MsgId": "42"}) == "msg:42"
    assert (
        delivery_key({"FromUserName": "o1", "CreateTime": "7", "Event": "CLICK"})
        == "event:o1:7:click"
    )
    assert delivery_key({"MsgId": "42"}) is None


def test_locations_must_be_numbers_on_earth() -> None:
    located = shared_location("31.2304", "121.4737", "上海")
    assert located is not None
    assert (located.latitude, located.longitude, located.label) == (31.2304, 121.4737, "上海")
    assert shared_location("91", "0", "") is None
    assert shared_location("x", "0", "") is None
    assert shared_location(None, None, None) is None


def test_check_fresh_uses_the_given_clock_not_the_wall_clock() -> None:
    past = datetime(2001, 1, 1, tzinfo=UTC)
    check_fresh(str(int(past.timestamp())), past)
    with pytest.raises(RefusedError):
        check_fresh(str(int((past + timedelta(hours=1)).timestamp())), past)


def test_a_passive_reply_reads_as_wechatpys_for_both_platforms() -> None:
    text = "签到成功 ]]> 请回复 1\x01"
    for library, agent in ((AccountReply, None), (WorkReply, "1000002")):
        # As the channels rendered it with wechatpy: the text made safe for CDATA first.
        theirs = library(source="gh_account", target="oMember", content=xml_text(text), time=1700)
        if agent:
            theirs.agent = int(agent)
        ours = passive_text(to="oMember", sender="gh_account", at=1700, content=text, agent=agent)
        assert xmltodict.parse(ours)["xml"] == dict(xmltodict.parse(theirs.render())["xml"])
