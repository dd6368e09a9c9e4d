"""A fake Telegram Bot API server on 127.0.0.1 that python-telegram-bot talks to over real HTTP.

It speaks the Bot API's JSON protocol for the methods the channel uses, records every call,
hands queued updates to long-polling `getUpdates`, enforces flood limits on a clock the test
controls, and answers 429 with `retry_after` when a limit is broken or a test forces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"
BOT_ID = 123456789
BOT_USERNAME = "gongjian_test_bot"
ANONYMOUS_ADMIN_BOT_ID = 1087968824

# Form fields whose values python-telegram-bot sends JSON-encoded.
_JSON_FIELDS = frozenset(
    {"reply_markup", "commands", "scope", "allowed_updates", "reply_parameters", "entities"}
)
_INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "message_thread_id", "max_connections"}
)
_BOOL_FIELDS = frozenset({"show_alert", "drop_pending_updates", "disable_notification"})


@dataclass(frozen=True, slots=True)
class TgUser:
    """A Telegram account as the fake describes it in updates."""

    id: int
    first_name: str
    language_code: str | None = None
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns the Bot API `User` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def private_chat(self) -> dict[str, Any]:
        """Returns the Bot API `Chat` object of this user's private chat with the bot."""
        return {"id": self.id, "type": "private", "first_name": self.first_name}


@dataclass(frozen=True, slots=True)
class TgGroup:
    """A group chat the bot was added to."""

    id: int
    title: str
    type: str = "supergroup"

    def to_dict(self) -> dict[str, Any]:
        """Returns the Bot API `Chat` object."""
        return {"id": self.id, "type": self.type, "title": self.title}


@dataclass(frozen=True, slots=True)
class FakeFile:
    """A file the bot uploaded in a multipart request."""

    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One request the bot made: method, decoded parameters, the fake clock and the answer."""

    method: str
    params: dict[str, Any]
    at: float
    status: int
    result: Any = None


@dataclass(slots=True)
class FakeLimits:
    """Flood limits the fake enforces, as (count, seconds); None switches a limit off."""

    overall: tuple[int, float] | None = (30, 1.0)
    per_chat: tuple[int, float] | None = (1, 1.0)
    per_group: tuple[int, float] | None = (20, 60.0)


@dataclass(slots=True)
class _Window:
    """Send times of one chat (or of the whole bot) on the fake clock."""

    times: deque[float] = field(default_factory=deque)

    def retry_after(self, now: float, limit: tuple[int, float] | None) -> float:
        """Returns 0 when a send fits `limit`, else the seconds until it would."""
        if limit is None:
            return 0.0
        count, period = limit
        while self.times and now - self.times[0] >= period:
            self.times.popleft()
        if len(self.times) < count:
            return 0.0
        return self.times[-count] + period - now


class FakeTelegramAPI:
    """An in-process Bot API server for one bot; use as `async with FakeTelegramAPI() as api`."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        bot_id: int = BOT_ID,
        username: str = BOT_USERNAME,
        limits: FakeLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.limits = limits or FakeLimits()
        self.clock = clock
        self.calls: list[ApiCall] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.blocked: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.answered: set[str] = set()
        self._updates: list[dict[str, Any]] = []
        # Files members sent (photos), by file_id: served by getFile and /file/bot<token>/<path>.
        self.files: dict[str, bytes] = {}
        self._next_update_id = 100
        self._next_message_id = 1000
        self._next_query_id = 1
        self._confirmed = 0
        self._forced: list[tuple[str, int]] = []
        self._overall = _Window()
        self._chats: dict[int, _Window] = {}
        self._groups: dict[int, _Window] = {}
        self._chat_objects: dict[int, dict[str, Any]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self.port = 0
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "getFile": self._get_file,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "setMyCommands": self._set_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
        }

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
        """Releases pending long polls and shuts the server down."""
        self._closing = True
        self._notify()
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
        """The value for GONGJIAN_TELEGRAM_BASE_URL (python-telegram-bot appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # --- what tests do --------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        """Queues an update for getUpdates (numbering it unless it has an id) and returns its id."""
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return int(update["update_id"])

    def force_429(self, method: str = "sendMessage", retry_after: int = 3, times: int = 1) -> None:
        """Makes the next `times` calls of `method` fail with flood control."""
        self._forced.extend([(method, retry_after)] * times)

    def block(self, user: TgUser) -> None:
        """Makes the user's private chat refuse messages (never started, or blocked the bot)."""
        self.blocked.add(user.id)

    def migrate(self, group: TgGroup, to: int) -> None:
        """Turns a basic group into a supergroup with a new id, as Telegram does on upgrade."""
        self.migrated[group.id] = to

    def message(
        self,
        text: str,
        *,
        user: TgUser,
        chat: TgGroup | None = None,
        reply_to_bot: bool = False,
        sender_chat: dict[str, Any] | None = None,
        location: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        """Builds a `message` update from `user` in their private chat or in `chat`."""
        chat_dict = chat.to_dict() if chat else user.private_chat()
        self._chat_objects[chat_dict["id"]] = chat_dict
        message: dict[str, Any] = {
            "message_id": self._new_message_id(),
            "date": int(time.time()),
            "chat": chat_dict,
            "from": user.to_dict(),
        }
        if text:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if location is not None:
            message["location"] = {"latitude": location[0], "longitude": location[1]}
        if sender_chat is not None:
            message["sender_chat"] = sender_chat
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": self._new_message_id(),
                "date": int(time.time()),
                "chat": chat_dict,
                "from": self._me(),
                "text": "…",
            }
        return {"message": message}

    def photo(
        self,
        content: bytes,
        *,
        user: TgUser,
        chat: TgGroup | None = None,
        caption: str = "",
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        """Builds a photo message: a thumbnail and the full size, as Telegram sends them."""
        update = self.message(caption, user=user, chat=chat)
        message = update["message"]
        if caption:
            message["caption"] = message.pop("text")
        serial = len(self.files) + 1
        sizes = []
        for suffix, width, data in (("s", 90, content[:16]), ("x", 800, content)):
            file_id = f"photo-{serial}-{suffix}"
            self.files[file_id] = data
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{serial}{suffix}",
                    "width": width,
                    "height": width,
                    "file_size": declared_size if suffix == "x" and declared_size else len(data),
                }
            )
        message["photo"] = sizes
        return update

    def document(
        self,
        content: bytes,
        *,
        user: TgUser,
        mime_type: str,
        filename: str = "file",
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        """Builds a file message (a picture sent without compression, or any other file)."""
        update = self.message("", user=user)
        file_id = f"document-{len(self.files) + 1}"
        self.files[file_id] = content
        update["message"]["document"] = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": declared_size if declared_size is not None else len(content),
        }
        return update

    def press(self, sent: ApiCall, data: str, *, user: TgUser) -> dict[str, Any]:
        """Builds a `callback_query` update: `user` pressing the button `data` under `sent`."""
        query_id = str(self._next_query_id)
        self._next_query_id += 1
        return {
            "callback_query": {
                "id": query_id,
                "from": user.to_dict(),
                "chat_instance": "42",
                "message": sent.result,
                "data": data,
            }
        }

    def calls_of(self, method: str) -> list[ApiCall]:
        """Returns the calls of `method` that succeeded, in order."""
        return [call for call in self.calls if call.method == method and call.status == 200]

    def sent(self, chat_id: int | None = None) -> list[ApiCall]:
        """Returns the messages the bot sent, optionally to one chat."""
        return [
            call
            for call in self.calls_of("sendMessage")
            if chat_id is None or call.params["chat_id"] == chat_id
        ]

    def documents(self, chat_id: int | None = None) -> list[FakeFile]:
        """Returns the files the bot sent with sendDocument, optionally to one chat."""
        return [
            call.params["document"]
            for call in self.calls_of("sendDocument")
            if chat_id is None or call.params["chat_id"] == chat_id
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Returns the texts the bot sent, optionally to one chat."""
        return [call.params["text"] for call in self.sent(chat_id)]

    async def wait_for(self, method: str, count: int = 1, *, within: float = 10.0) -> list[ApiCall]:
        """Waits (without polling) until `method` succeeded `count` times; returns those calls."""
        await self.wait_until(lambda: len(self.calls_of(method)) >= count, within=within)
        return self.calls_of(method)

    async def wait_until(self, predicate: Callable[[], bool], *, within: float = 10.0) -> None:
        """Waits (without polling) until `predicate` holds after some change; fails after `within` s."""
        async with asyncio.timeout(within):
            while not predicate():
                await self._changed.wait()

    async def wait_confirmed(self, update_id: int, *, within: float = 10.0) -> None:
        """Waits until the bot confirmed (by getUpdates offset) that it fetched `update_id`."""
        await self.wait_until(lambda: self._confirmed > update_id, within=within)

    # --- the protocol ---------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        """Routes `/bot<token>/<method>` like the Bot API does, and file downloads."""
        path = request.url.path
        files = f"/file/bot{self.token}/"
        if path.startswith(files):
            content = self.files.get(path.removeprefix(files).removeprefix("photos/"))
            self.calls.append(ApiCall("download", {"path": path}, self.clock(), 200))
            if content is None:
                return Response(status_code=404)
            return Response(content, media_type="application/octet-stream")
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return _error(401, "Unauthorized")
        method = path.removeprefix(prefix)
        params = await _params(request)
        handler = self._methods.get(method)
        if handler is None:
            return self._record(method, params, _error(404, "Not Found"))
        forced = next((i for i, (name, _) in enumerate(self._forced) if name == method), None)
        if forced is not None:
            _, retry_after = self._forced.pop(forced)
            return self._record(method, params, _flood(retry_after))
        if method.startswith("send"):
            wait = self._flood_wait(int(params.get("chat_id", 0)))
            if wait > 0:
                return self._record(method, params, _flood(math.ceil(wait)))
        if method == "getUpdates":
            response = await self._get_updates(params)
        else:
            response = handler(params)
        return self._record(method, params, response)

    def _record(self, method: str, params: dict[str, Any], response: JSONResponse) -> JSONResponse:
        """Remembers a call and wakes whoever waits for one."""
        body = json.loads(bytes(response.body))
        self.calls.append(
            ApiCall(method, params, self.clock(), response.status_code, body.get("result"))
        )
        self._notify()
        return response

    def _notify(self) -> None:
        """Wakes everyone waiting for a change; later waiters wait for the next one."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _flood_wait(self, chat_id: int) -> float:
        """Counts a send against the limits; returns how long to wait when it breaks one."""
        now = self.clock()
        chat = self._chats.setdefault(chat_id, _Window())
        group = self._groups.setdefault(chat_id, _Window()) if chat_id < 0 else None
        wait = max(
            self._overall.retry_after(now, self.limits.overall),
            chat.retry_after(now, self.limits.per_chat),
            group.retry_after(now, self.limits.per_group) if group else 0.0,
        )
        if wait <= 0:
            for window in (self._overall, chat, group):
                if window is not None:
                    window.times.append(now)
        return wait

    def _me(self) -> dict[str, Any]:
        """Returns the bot's own `User` object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Gongjian",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, chat_id: int) -> dict[str, Any]:
        """Returns the `Chat` object for an id, inventing one for chats not seen yet."""
        if chat_id in self._chat_objects:
            return self._chat_objects[chat_id]
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        return {"id": chat_id, "type": "private", "first_name": "Member"}

    def _new_message_id(self) -> int:
        """Numbers messages like Telegram does: increasing ids."""
        self._next_message_id += 1
        return self._next_message_id

    def _get_me(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(self._me())

    async def _get_updates(self, params: dict[str, Any]) -> JSONResponse:
        if self.webhook is not None:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        if offset:
            self._confirmed = max(self._confirmed, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._notify()
        timeout = float(params.get("timeout") or 0)
        with contextlib.suppress(TimeoutError):
            await self.wait_until(lambda: bool(self._updates) or self._closing, within=timeout)
        limit = int(params.get("limit") or 100)
        return _ok(self._updates[:limit])

    def _send_message(self, params: dict[str, Any]) -> JSONResponse:
        chat_id = int(params["chat_id"])
        text = str(params.get("text", ""))
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        if chat_id in self.migrated:
            return JSONResponse(
                {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: group chat was upgraded to a supergroup chat",
                    "parameters": {"migrate_to_chat_id": self.migrated[chat_id]},
                },
                status_code=400,
            )
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None and not _valid_keyboard(markup):
            return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        message: dict[str, Any] = {
            "message_id": self._new_message_id(),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self._me(),
            "text": text,
        }
        if markup is not None:
            message["reply_markup"] = markup
        if "message_thread_id" in params:
            message["message_thread_id"] = params["message_thread_id"]
        self.messages[chat_id, message["message_id"]] = message
        return _ok(message)

    def _send_document(self, params: dict[str, Any]) -> JSONResponse:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        document = params.get("document")
        if not isinstance(document, FakeFile) or not document.content:
            return _error(400, "Bad Request: there is no document in the request")
        if len(document.content) > 50 * 1024 * 1024:
            return _error(400, "Bad Request: file is too big")
        message: dict[str, Any] = {
            "message_id": self._new_message_id(),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self._me(),
            "document": {
                "file_id": f"DOC{self._next_message_id}",
                "file_unique_id": f"U{self._next_message_id}",
                "file_name": document.filename,
                "mime_type": document.content_type,
                "file_size": len(document.content),
            },
        }
        if params.get("caption"):
            message["caption"] = params["caption"]
        if "message_thread_id" in params:
            message["message_thread_id"] = params["message_thread_id"]
        self.messages[chat_id, message["message_id"]] = message
        return _ok(message)

    def _get_file(self, params: dict[str, Any]) -> JSONResponse:
        """Describes a file members sent, with the path to download it from."""
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}",
            }
        )

    def _answer_callback_query(self, params: dict[str, Any]) -> JSONResponse:
        query_id = str(params["callback_query_id"])
        if query_id in self.answered:
            return _error(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.answered.add(query_id)
        return _ok(True)

    def _edit_message_text(self, params: dict[str, Any]) -> JSONResponse:
        message = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None:
            return _error(400, "Bad Request: message to edit not found")
        message = {**message, "text": params["text"]}
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[message["chat"]["id"], message["message_id"]] = message
        return _ok(message)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> JSONResponse:
        message = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None:
            return _error(400, "Bad Request: message to edit not found")
        message = {key: value for key, value in message.items() if key != "reply_markup"}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[message["chat"]["id"], message["message_id"]] = message
        return _ok(message)

    def _set_my_commands(self, params: dict[str, Any]) -> JSONResponse:
        self.commands[str(params.get("language_code") or "")] = list(params["commands"])
        return _ok(True)

    def _set_webhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook = dict(params)
        return _ok(True)

    def _delete_webhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return _ok(True)


def _ok(result: Any) -> JSONResponse:
    """Answers a successful call."""
    return JSONResponse({"ok": True, "result": result})


def _error(code: int, description: str) -> JSONResponse:
    """Answers a failed call the way the Bot API does."""
    return JSONResponse(
        {"ok": False, "error_code": code, "description": description}, status_code=code
    )


def _flood(retry_after: int) -> JSONResponse:
    """Answers 429 with the seconds to wait."""
    return JSONResponse(
        {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        },
        status_code=429,
    )


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Reads a multipart/form-data body: text fields as strings, uploads as `FakeFile`s."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    assert isinstance(message, EmailMessage)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        filename = part.get_filename()
        if filename is not None:
            fields[name] = FakeFile(filename, payload, part.get_content_type())
        else:
            fields[name] = payload.decode()
    return fields


def _valid_keyboard(markup: dict[str, Any]) -> bool:
    """Checks inline buttons: a label and either a URL or 1-64 bytes of callback data."""
    rows: Iterable[list[dict[str, Any]]] = markup.get("inline_keyboard", [])
    for row in rows:
        for button in row:
            if not button.get("text"):
                return False
            if "url" in button:
                continue
            data = str(button.get("callback_data", ""))
            if not 1 <= len(data.encode()) <= 64:
                return False
    return True


async def _params(request: Request) -> dict[str, Any]:
    """Reads parameters from the query string, a urlencoded form or JSON, decoding typed fields."""
    raw: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            raw.update(json.loads(body))
        return raw
    elif content_type.startswith("application/x-www-form-urlencoded"):
        raw.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        raw.update(_multipart(content_type, await request.body()))
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            params[key] = json.loads(value)
        elif key in _INT_FIELDS and isinstance(value, str) and value.lstrip("-").isdigit():
            params[key] = int(value)
        elif key in _BOOL_FIELDS and isinstance(value, str):
            params[key] = value.lower() == "true"
        else:
            params[key] = value
    return params
