"""WeChat and WeCom callbacks: signatures before any work, encrypted-only safe mode, used nonces."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
import xmltodict  # type: ignore[import-untyped,unused-ignore]
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel
from bot.channels.weixin import callback, checks
from bot.core.clock import FrozenClock
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Invite
from tests.channels import test_wecom
from tests.channels.test_wechat import Harness, bind
from tests.factories import World
from tests.fakes.wechat_api import (
    FakeWeChatAPI,
    RecordingCore,
    WeChatServer,
    footprint,
    wechat_settings,
)

FORGED = "0" * 40
ANGLES = b"<" * (64 * 1024 - 64)
NESTED = b"<xml>" + b"<a>" * 8000 + b"</a>" * 8000 + b"</xml>"


@pytest.fixture
def parsing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every scan or parse a callback body gets."""
    calls: list[str] = []
    real_guard, real_parse = callback.guard_xml, xmltodict.parse
    real_envelope = callback.read_envelope

    def guard(raw: bytes | str) -> str:
        calls.append("guard_xml")
        return real_guard(raw)

    def envelope(text: str) -> tuple[dict[str, str], bool]:
        calls.append("read_envelope")
        return real_envelope(text)

    def parse(*args: Any, **kwargs: Any) -> Any:
        calls.append("xmltodict.parse")
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(callback, "guard_xml", guard)
    monkeypatch.setattr(callback, "read_envelope", envelope)
    monkeypatch.setattr(xmltodict, "parse", parse)
    return calls


# --- 1. verify before any work ---------------------------------------------------------------


@pytest.mark.parametrize("body", [ANGLES, NESTED], ids=["angles", "nested"])
async def test_a_forged_wechat_signature_is_refused_before_the_body_is_looked_at(
    wx: Harness, parsing: list[str], body: bytes
) -> None:
    callback = wx.server.text("o-1", "帮助")
    parsing.clear()
    query = {**callback.query, "signature": FORGED}
    response = await wx.http.post("/wechat", params=query, content=body)
    assert response.status_code == 403
    assert parsing == []


@pytest.mark.parametrize("body", [ANGLES, NESTED], ids=["angles", "nested"])
async def test_a_forged_wecom_signature_is_refused_before_the_body_is_parsed(
    wc: test_wecom.Harness, parsing: list[str], body: bytes
) -> None:
    callback = wc.server.text("u-1", "帮助")
    parsing.clear()
    forged = body[:100] + b"<Encrypt>" + b"QUJD" * 100 + b"</Encrypt>" + body[100 : 60 * 1024]
    query = {**callback.query, "msg_signature": FORGED}
    for content in (body, forged):
        response = await wc.http.post("/wecom", params=query, content=content)
        assert response.status_code in (400, 403)
    assert parsing == []


async def test_an_unterminated_encrypt_is_refused_after_a_bounded_look(
    wc: test_wecom.Harness, parsing: list[str]
) -> None:
    callback = wc.server.text("u-1", "帮助")
    parsing.clear()
    body = b"<xml><Encrypt>" + b"A" * (60 * 1024)
    response = await wc.http.post("/wecom", params=callback.query, content=body)
    assert response.status_code == 400
    assert parsing == []
    with pytest.raises(checks.RefusedError):
        checks.encrypted_field(b"<Encrypt><![CDATA[a<b]]></Encrypt>")
    assert checks.encrypted_field(b"<Encrypt><![CDATA[QUJD]]></Encrypt>") == "QUJD"


async def test_a_signed_callback_is_still_answered(wx: Harness, wc: test_wecom.Harness) -> None:
    assert await wx.follower("o-1").say("帮助")
    assert await wc.member("u-1").say("帮助")


# --- 2. safe mode takes only encrypted messages; nonces are single-use ----------------------


def plaintext_server(wx: Harness) -> WeChatServer:
    """Builds plaintext callbacks signed with the account's token, as a proxy's log could."""
    return dataclasses.replace(wx.server, safe=False)


@pytest.mark.parametrize("wx", ["safe"], indirect=True)
async def test_safe_mode_refuses_a_plaintext_message_in_the_secretarys_name(
    wx: Harness, world: World, database: Database
) -> None:
    await bind(wx.follower("o-sec"), world, "sec")
    before = footprint(database)
    with database.session() as session:
        invites = len(session.exec(select(Invite)).all())
    forged = plaintext_server(wx).text("o-sec", "邀请 书记 王五")
    response = await wx.post(forged)
    assert response.status_code == 403
    assert footprint(database) == before
    with database.session() as session:
        assert len(session.exec(select(Invite)).all()) == invites


async def test_compatible_mode_is_an_explicit_weaker_setting(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
) -> None:
    settings = wechat_settings(database_url, api.base_url, aes=True)
    assert settings.wechat_compatible_mode is False
    compatible = settings.model_copy(update={"wechat_compatible_mode": True})
    core = RecordingCore(assistant)
    channel = WeChatChannel(compatible, core, database=database, clock=clock)
    server = WeChatServer(lambda: int(clock.now().timestamp()), safe=False)
    transport = httpx.ASGITransport(app=build_http_app(core, channel.routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://gongjian.test") as http:
        callback = server.text("o-1", "帮助")
        response = await http.post("/wechat", params=callback.query, content=callback.body)
    await channel.stop()
    assert response.status_code == 200 and response.text


async def test_a_verification_url_cannot_be_reused_to_post(
    wx: Harness, world: World, database: Database
) -> None:
    query = wx.server.verification("5837397520911249111")
    assert (await wx.http.get("/wechat", params=query)).status_code == 200
    # The same signed URL, taken from a proxy's access log, replayed as a GET and as a POST.
    assert (await wx.http.get("/wechat", params=query)).status_code == 403
    before = footprint(database)
    body = wx.server.text("o-sec", f"绑定 {world.invites['sec']}").body
    signed = {key: query[key] for key in ("signature", "timestamp", "nonce")}
    response = await wx.http.post("/wechat", params=signed, content=body)
    assert response.status_code == 403
    assert footprint(database) == before


async def test_a_wecom_verification_url_cannot_be_replayed(wc: test_wecom.Harness) -> None:
    query = wc.server.verification()
    assert (await wc.http.get("/wecom", params=query)).status_code == 200
    assert (await wc.http.get("/wecom", params=query)).status_code == 403
