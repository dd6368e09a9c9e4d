"""A fake WeChat / WeCom API server on 127.0.0.1, and a fake platform that calls our callback.

`FakeWeChatAPI` answers the token, customer-service, template and WeCom message/send endpoints
over real HTTP, records every call, hands out tokens that a newer token invalidates (as WeChat
does), and can be told to answer error codes. `WeChatServer` and `WeComServer` build callback
requests the way the platforms' servers do: signed, and in safe mode encrypted with wechatpy.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import httpx
import uvicorn
import xmltodict
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp
from wechatpy.crypto import WeChatCrypto
from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

from bot.channels.weixin.render import OPTION_LINE
from bot.config import Settings, load_settings
from bot.core.i18n import Translator
from bot.core.inbound import Channel, Inbound
from bot.core.ports import Answer
from bot.core.reply import Reply
from bot.engine.assistant import Assistant
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import ChatAccount, Conversation, ProcessedInbound

APP_ID = "wx0123456789abcdef"
APP_SECRET = "app-secret-for-tests"
CORP_ID = "ww0123456789abcdef"
CORP_SECRET = "corp-secret-for-tests"
AGENT_ID = 1000002
TOKEN = "callbacktoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT_ID = "gh_0123456789ab"
TEMPLATE_ID = "tmpl-notice"


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One request to the fake: path, query, JSON body and the errcode it was answered with."""

    path: str
    query: dict[str, str]
    body: dict[str, Any]
    errcode: int


@dataclass(slots=True)
class _Forced:
    """An error the fake answers to the next calls of one path."""

    path: str
    errcode: int
    errmsg: str


class FakeWeChatAPI:
    """An in-process api.weixin.qq.com / qyapi.weixin.qq.com; use `async with FakeWeChatAPI()`."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.valid_tokens: set[str] = set()
        self.window_closed: set[str] = set()
        self.invalid_users: set[str] = set()
        # Images members sent, by MediaId: served by /cgi-bin/media/get (both APIs).
        self.media: dict[str, bytes] = {}
        # Set: media are sent in chunks without a Content-Length. A gate holds downloads back.
        self.media_chunked = False
        # Media of this many bytes, by MediaId, made up as they are sent (never held whole), in
        # chunks without a Content-Length.
        self.streamed_media: dict[str, int] = {}
        self.media_gate: asyncio.Event | None = None
        self.token_gate: asyncio.Event | None = None
        self._forced: list[_Forced] = []
        self._serial = itertools.count(1)
        self._changed = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listens on an ephemeral port of 127.0.0.1."""
        app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        config.load()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._socket])

    async def stop(self) -> None:
        """Shuts the server down."""
        if self.token_gate is not None:
            self.token_gate.set()
        if self._server is not None:
            await self._server.shutdown(sockets=[self._socket] if self._socket else None)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The value for GONGJIAN_WECHAT_API_BASE and GONGJIAN_WECOM_API_BASE."""
        return f"http://127.0.0.1:{self.port}"

    # --- what tests do --------------------------------------------------------------------

    def fail_next(self, path: str, errcode: int, errmsg: str = "forced", times: int = 1) -> None:
        """Makes the next `times` calls of `path` answer `errcode`."""
        self._forced.extend([_Forced(path, errcode, errmsg)] * times)

    def expire_tokens(self) -> None:
        """Makes every token handed out so far expired (42001 from now on)."""
        self.valid_tokens.clear()

    def calls_to(self, path: str, *, ok: bool | None = None) -> list[ApiCall]:
        """Returns the calls of `path`, optionally only the successful (or failed) ones."""
        return [
            call
            for call in self.calls
            if call.path == path and (ok is None or (call.errcode == 0) == ok)
        ]

    def texts(self, path: str = "/cgi-bin/message/custom/send") -> list[str]:
        """Returns the texts successfully sent through a text-message endpoint."""
        return [call.body["text"]["content"] for call in self.calls_to(path, ok=True)]

    @property
    def token_fetches(self) -> int:
        """How many tokens were handed out."""
        return len(
            [
                c
                for c in self.calls
                if c.path in ("/cgi-bin/token", "/cgi-bin/gettoken") and not c.errcode
            ]
        )

    async def wait_for(self, path: str, count: int = 1, *, within: float = 10.0) -> list[ApiCall]:
        """Waits (without polling) until `path` was called successfully `count` times."""
        async with asyncio.timeout(within):
            while len(self.calls_to(path, ok=True)) < count:
                await self._changed.wait()
        return self.calls_to(path, ok=True)

    # --- the protocol ---------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        """Answers one API call the way WeChat does: HTTP 200 with an errcode."""
        path = request.url.path
        query = dict(request.query_params)
        if path == "/cgi-bin/media/get":
            if self.media_gate is not None:
                await self.media_gate.wait()
            return self._media(query)
        raw = await request.body()
        body: dict[str, Any] = json.loads(raw) if raw else {}
        forced = next((f for f in self._forced if f.path == path), None)
        if forced is not None:
            self._forced.remove(forced)
            return self._record(
                path, query, body, {"errcode": forced.errcode, "errmsg": forced.errmsg}
            )
        if path in ("/cgi-bin/token", "/cgi-bin/gettoken"):
            if self.token_gate is not None:
                await self.token_gate.wait()
            answer = self._token(path, query)
        elif path in (
            "/cgi-bin/message/custom/send",
            "/cgi-bin/message/template/send",
            "/cgi-bin/message/send",
        ):
            answer = self._send(path, query, body)
        else:
            answer = {"errcode": 40004, "errmsg": "invalid api"}
        return self._record(path, query, body, answer)

    def _record(
        self, path: str, query: dict[str, str], body: dict[str, Any], answer: dict[str, Any]
    ) -> JSONResponse:
        """Remembers a call and wakes whoever waits for one."""
        self.calls.append(ApiCall(path, query, body, int(answer.get("errcode", 0))))
        self._changed.set()
        self._changed = asyncio.Event()
        return JSONResponse(answer)

    def _media(self, query: dict[str, str]) -> Response:
        """Sends a temporary media file as WeChat does: the bytes, or a JSON error."""
        path = "/cgi-bin/media/get"
        forced = next((f for f in self._forced if f.path == path), None)
        if forced is not None:
            self._forced.remove(forced)
            return self._record(
                path, query, {}, {"errcode": forced.errcode, "errmsg": forced.errmsg}
            )
        if query.get("access_token") not in self.valid_tokens:
            return self._record(
                path, query, {}, {"errcode": 42001, "errmsg": "access_token expired"}
            )
        media_id = query.get("media_id", "")
        content, made_up = self.media.get(media_id), self.streamed_media.get(media_id)
        if content is None and made_up is None:
            return self._record(path, query, {}, {"errcode": 40007, "errmsg": "invalid media_id"})
        self.calls.append(ApiCall(path, query, {}, 0))
        self._changed.set()
        self._changed = asyncio.Event()
        # Always "image/jpeg", as WeChat says whatever the file is: only the bytes tell.
        headers = {"Content-disposition": 'attachment; filename="media.jpg"'}
        if made_up is not None:
            return StreamingResponse(_made_up(made_up), media_type="image/jpeg", headers=headers)
        assert content is not None
        if self.media_chunked:
            pieces = [content[at : at + 65536] for at in range(0, len(content), 65536)]
            return StreamingResponse(iter(pieces), media_type="image/jpeg", headers=headers)
        return Response(content, media_type="image/jpeg", headers=headers)

    def _token(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """Hands out a new token, which (like WeChat's) invalidates the previous ones."""
        if path == "/cgi-bin/token":
            if query.get("appid") != APP_ID:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != APP_SECRET or query.get("grant_type") != "client_credential":
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
        elif query.get("corpid") != CORP_ID or query.get("corpsecret") != CORP_SECRET:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        token = f"ACCESS_TOKEN_{next(self._serial)}"
        self.valid_tokens = {token}
        answer: dict[str, Any] = {"access_token": token, "expires_in": 7200}
        if path == "/cgi-bin/gettoken":
            answer = {"errcode": 0, "errmsg": "ok", **answer}
        return answer

    def _send(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """Checks the token and the message, then accepts it."""
        token = query.get("access_token", "")
        if token not in self.valid_tokens:
            if token.startswith("ACCESS_TOKEN_"):
                return {"errcode": 42001, "errmsg": "access_token expired"}
            return {"errcode": 40001, "errmsg": "invalid credential"}
        if path == "/cgi-bin/message/custom/send":
            if body.get("touser") in self.window_closed:
                return {"errcode": 45015, "errmsg": "response out of time limit"}
            if not body.get("text", {}).get("content"):
                return {"errcode": 44003, "errmsg": "empty content"}
        if path == "/cgi-bin/message/template/send" and body.get("template_id") != TEMPLATE_ID:
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        if path == "/cgi-bin/message/send":
            if body.get("agentid") != AGENT_ID:
                return {"errcode": 40056, "errmsg": "invalid agentid"}
            if body.get("touser") in self.invalid_users:
                return {"errcode": 0, "errmsg": "ok", "invaliduser": body["touser"]}
        return {"errcode": 0, "errmsg": "ok", "msgid": next(self._serial)}


def _made_up(size: int, chunk: int = 65536) -> Iterator[bytes]:
    """Yields `size` bytes of a JPEG-looking file, a chunk at a time."""
    head = b"\xff\xd8\xff\xe0" + b"\x00" * (chunk - 4)
    sent = 0
    while sent < size:
        piece = head if sent == 0 else bytes(chunk)
        piece = piece[: size - sent]
        sent += len(piece)
        yield piece


# --- the platform's side: callback requests ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Callback:
    """One callback request: the query string and the XML body."""

    query: dict[str, str]
    body: str

    @property
    def url_query(self) -> str:
        """The query string, URL-encoded."""
        return urlencode(self.query)


def _sign(*parts: str) -> str:
    """Signs like the platforms: SHA-1 of the sorted parts joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _cdata(value: str) -> str:
    """Wraps text in CDATA, splitting any `]]>` inside it as XML writers do."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class WeChatServer:
    """Builds official-account callbacks: plain or safe mode, for a clock the test controls."""

    now: Callable[[], int]
    safe: bool = False
    token: str = TOKEN
    aes_key: str = AES_KEY
    app_id: str = APP_ID
    account: str = ACCOUNT_ID
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7_000_000_000))
    _nonces: itertools.count[int] = field(default_factory=lambda: itertools.count(100_000))

    @property
    def crypto(self) -> WeChatCrypto:
        """wechatpy's crypto with the account's key."""
        return WeChatCrypto(self.token, self.aes_key, self.app_id)

    def next_id(self) -> int:
        """Returns a new MsgId."""
        return next(self._ids)

    def text(self, user: str, content: str, *, msg_id: int | None = None) -> Callback:
        """A text message from `user`."""
        fields = {"MsgType": _cdata("text"), "Content": _cdata(content)}
        fields["MsgId"] = str(msg_id if msg_id is not None else self.next_id())
        return self.message(user, fields)

    def location(self, user: str, latitude: float, longitude: float, label: str = "") -> Callback:
        """A location message from `user`."""
        return self.message(
            user,
            {
                "MsgType": _cdata("location"),
                "Location_X": str(latitude),
                "Location_Y": str(longitude),
                "Scale": "15",
                "Label": _cdata(label),
                "MsgId": str(self.next_id()),
            },
        )

    def event(self, user: str, event: str, key: str = "") -> Callback:
        """An event (subscribe, CLICK, SCAN, …) from `user`."""
        fields = {"MsgType": _cdata("event"), "Event": _cdata(event)}
        if key:
            fields["EventKey"] = _cdata(key)
        return self.message(user, fields)

    def image(self, user: str, media_id: str = "media") -> Callback:
        """An image message from `user` (its bytes in the fake API's `media`)."""
        return self.message(
            user,
            {
                "MsgType": _cdata("image"),
                "PicUrl": _cdata("http://127.0.0.1/pic.jpg"),
                "MediaId": _cdata(media_id),
                "MsgId": str(self.next_id()),
            },
        )

    def message(
        self, user: str, fields: dict[str, str], *, create_time: int | None = None
    ) -> Callback:
        """Wraps message fields in the callback XML and signs (and in safe mode encrypts) it."""
        inner = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
        created = create_time if create_time is not None else self.now()
        xml = (
            f"<xml><ToUserName>{_cdata(self.account)}</ToUserName>"
            f"<FromUserName>{_cdata(user)}</FromUserName>"
            f"<CreateTime>{created}</CreateTime>{inner}</xml>"
        )
        return self.sign(xml, openid=user)

    def sign(self, xml: str, *, openid: str = "", nonce: str | None = None) -> Callback:
        """Builds the request for raw XML: signature in the query, encryption in safe mode."""
        timestamp = str(self.now())
        nonce = nonce or str(next(self._nonces))
        query = {
            "signature": _sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": openid,
        }
        if not self.safe:
            return Callback(query, xml)
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        encrypted = envelope["Encrypt"]
        query |= {
            "encrypt_type": "aes",
            "msg_signature": _sign(self.token, timestamp, nonce, encrypted),
        }
        body = f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        return Callback(query, body)

    def verification(self, echostr: str = "1234567890123456789") -> dict[str, str]:
        """The query of the URL check WeChat makes when the callback URL is saved."""
        timestamp, nonce = str(self.now()), str(next(self._nonces))
        return {
            "signature": _sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }

    def open_reply(self, callback: Callback, body: str) -> dict[str, str]:
        """Reads our passive reply (decrypting it in safe mode) into its fields."""
        if self.safe:
            envelope = xmltodict.parse(body)["xml"]
            body = self.crypto.decrypt_message(
                body, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
            )
        return dict(xmltodict.parse(body)["xml"])


@dataclass
class WeComServer:
    """Builds WeCom app callbacks: always encrypted, with msg_signature."""

    now: Callable[[], int]
    token: str = TOKEN
    aes_key: str = AES_KEY
    corp_id: str = CORP_ID
    agent_id: int = AGENT_ID
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_000_000_000))
    _nonces: itertools.count[int] = field(default_factory=lambda: itertools.count(500_000))

    @property
    def crypto(self) -> WorkCrypto:
        """wechatpy.work's crypto with the app's key."""
        return WorkCrypto(self.token, self.aes_key, self.corp_id)

    def next_id(self) -> int:
        """Returns a new MsgId."""
        return next(self._ids)

    def text(self, user: str, content: str, *, msg_id: int | None = None) -> Callback:
        """A text message from the member `user`."""
        fields = {"MsgType": _cdata("text"), "Content": _cdata(content)}
        fields["MsgId"] = str(msg_id if msg_id is not None else self.next_id())
        return self.message(user, fields)

    def location(self, user: str, latitude: float, longitude: float, label: str = "") -> Callback:
        """A location message from `user`."""
        return self.message(
            user,
            {
                "MsgType": _cdata("location"),
                "Location_X": str(latitude),
                "Location_Y": str(longitude),
                "Scale": "15",
                "Label": _cdata(label),
                "MsgId": str(self.next_id()),
            },
        )

    def event(self, user: str, event: str, key: str = "") -> Callback:
        """An event from `user`."""
        fields = {"MsgType": _cdata("event"), "Event": _cdata(event)}
        if key:
            fields["EventKey"] = _cdata(key)
        return self.message(user, fields)

    def image(self, user: str, media_id: str = "media") -> Callback:
        """An image message from `user` (its bytes in the fake API's `media`)."""
        return self.message(
            user,
            {
                "MsgType": _cdata("image"),
                "PicUrl": _cdata("http://127.0.0.1/pic.jpg"),
                "MediaId": _cdata(media_id),
                "MsgId": str(self.next_id()),
            },
        )

    def message(
        self, user: str, fields: dict[str, str], *, agent_id: int | None = None
    ) -> Callback:
        """Wraps message fields in the callback XML, encrypts and signs it."""
        inner = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
        agent = self.agent_id if agent_id is None else agent_id
        xml = (
            f"<xml><ToUserName>{_cdata(self.corp_id)}</ToUserName>"
            f"<FromUserName>{_cdata(user)}</FromUserName>"
            f"<CreateTime>{self.now()}</CreateTime>{inner}<AgentID>{agent}</AgentID></xml>"
        )
        return self.sign(xml)

    def sign(self, xml: str, *, nonce: str | None = None) -> Callback:
        """Encrypts raw XML and signs the envelope."""
        timestamp = str(self.now())
        nonce = nonce or str(next(self._nonces))
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        encrypted = envelope["Encrypt"]
        query = {
            "msg_signature": _sign(self.token, timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        body = (
            f"<xml><ToUserName>{_cdata(self.corp_id)}</ToUserName>"
            f"<AgentID>{_cdata(str(self.agent_id))}</AgentID><Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        )
        return Callback(query, body)

    def verification(self, plain: str = "echo-1234567890") -> dict[str, str]:
        """The query of WeCom's URL check: an encrypted echostr."""
        timestamp, nonce = str(self.now()), str(next(self._nonces))
        envelope = xmltodict.parse(self.crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        echostr = envelope["Encrypt"]
        return {
            "msg_signature": _sign(self.token, timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }

    def open_reply(self, callback: Callback, body: str) -> dict[str, str]:
        """Decrypts our passive reply into its fields."""
        envelope = xmltodict.parse(body)["xml"]
        plain = self.crypto.decrypt_message(
            body, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
        return dict(xmltodict.parse(plain)["xml"])


# --- test harness ---------------------------------------------------------------------------


class RecordingCore:
    """The real assistant, remembering each message it handled; `gate` can hold answers back."""

    def __init__(self, core: Assistant) -> None:
        self.core = core
        self.inbounds: list[Inbound] = []
        self.gate: threading.Event | None = None
        # Replies to give instead of the assistant's (the delivery is still recorded).
        self.canned: list[Reply] | None = None

    def handle(self, inbound: Inbound) -> list[Reply]:
        return self.answer(inbound).replies

    def answer(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Answer:
        if self.gate is not None:
            self.gate.wait(10)
        answer = self.core.answer(inbound, once=once, numbered=numbered)
        if answer.repeat is None:
            self.inbounds.append(inbound)
            if self.canned is not None:
                return replace(answer, replies=self.canned)
        return answer

    def translator_for(
        self, *, channel: Channel, user_id: str, hint: str | None = None
    ) -> Translator:
        return self.core.translator_for(channel=channel, user_id=user_id, hint=hint)

    def command_menu(self, locale: str) -> list[tuple[str, str]]:
        return self.core.command_menu(locale)

    def healthy(self) -> bool:
        return self.core.healthy()

    def bound(self, *, channel: Channel, user_id: str) -> bool:
        return self.core.bound(channel=channel, user_id=user_id)


def footprint(database: Database) -> tuple[int, int, int]:
    """Counts what a request could have left behind: deliveries, accounts, conversations."""
    with database.session() as session:
        return (
            session.exec(select(func.count()).select_from(ProcessedInbound)).one(),
            session.exec(select(func.count()).select_from(ChatAccount)).one(),
            session.exec(select(func.count()).select_from(Conversation)).one(),
        )


def wechat_settings(
    database_url: str, api_base: str, *, aes: bool = True, template: bool = False
) -> Settings:
    """Settings of an official account whose API is the fake at `api_base`."""
    return load_settings(
        database_url=database_url,
        wechat_token=TOKEN,
        wechat_aes_key=AES_KEY if aes else None,
        wechat_app_id=APP_ID,
        wechat_app_secret=APP_SECRET,
        wechat_api_base=api_base,
        wechat_template_id=TEMPLATE_ID if template else None,
        _env_file=None,
    )


def wecom_settings(database_url: str, api_base: str) -> Settings:
    """Settings of a WeCom app whose API is the fake at `api_base`."""
    return load_settings(
        database_url=database_url,
        wecom_corp_id=CORP_ID,
        wecom_agent_id=AGENT_ID,
        wecom_secret=CORP_SECRET,
        wecom_token=TOKEN,
        wecom_aes_key=AES_KEY,
        wecom_api_base=api_base,
        _env_file=None,
    )


class Follower:
    """One WeChat or WeCom user writing to our callback URL through the real HTTP app."""

    def __init__(
        self, http: httpx.AsyncClient, server: WeChatServer | WeComServer, user: str, path: str
    ) -> None:
        self.http = http
        self.server = server
        self.user = user
        self.path = path
        self.last = ""

    async def deliver(self, callback: Callback) -> httpx.Response:
        """POSTs a callback the way the platform does."""
        return await self.http.post(
            self.path,
            params=callback.query,
            content=callback.body.encode(),
            headers={"Content-Type": "text/xml"},
        )

    async def send(self, callback: Callback) -> str:
        """Delivers a callback and returns the passive reply's text ("" for `success`)."""
        response = await self.deliver(callback)
        assert response.status_code == 200, (response.status_code, response.text)
        if response.text == "success":
            self.last = ""
            return ""
        fields = self.server.open_reply(callback, response.text)
        assert fields["ToUserName"] == self.user
        assert fields["MsgType"] == "text"
        self.last = str(fields["Content"])
        return self.last

    async def say(self, text: str) -> str:
        """Sends a text message and returns the passive reply's text."""
        return await self.send(self.server.text(self.user, text))

    async def choose(self, label: str, locale: str = "en") -> str:
        """Replies with the number of the option whose label contains `label`."""
        return await self.say(str(option_number(self.last, label, locale)))


def option_number(text: str, label: str, locale: str = "en") -> int:
    """Finds the number a rendered reply gives the option labelled `label`."""
    t = translator(locale)
    for line in text.splitlines():
        for number in range(1, 100):
            prefix = t(OPTION_LINE, number=number, label="")
            if line.startswith(prefix) and label in line[len(prefix) :]:
                return number
    raise AssertionError(f"no option {label!r} in {text!r}")


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serves an ASGI app with uvicorn on an ephemeral port of 127.0.0.1; yields its base URL."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    config.load()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await server.shutdown(sockets=[sock])
