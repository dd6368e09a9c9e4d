"""The shared HTTP app and the runner that serves it next to the channels."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bot.channels.http import BodyCap, build_http_app
from bot.config import Settings
from bot.runner import serve
from tests.fakes import ScriptedCore


async def echo_length(request: Request) -> PlainTextResponse:
    """A channel route standing in for /wechat: answers with the body length."""
    return PlainTextResponse(str(len(await request.body())))


WECHAT_ROUTE = Route("/wechat", echo_length, methods=["POST"])


def client_for(
    core: ScriptedCore, routes: Sequence[BaseRoute] = (), **kwargs: int
) -> httpx.AsyncClient:
    """An HTTP client calling the app in process."""
    app = build_http_app(core, routes, **kwargs)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gongjian")


async def test_healthz_answers_when_the_database_does() -> None:
    core = ScriptedCore()
    async with client_for(core) as client:
        response = await client.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
        core.is_healthy = False
        response = await client.get("/healthz")
        assert (response.status_code, response.json()) == (503, {"status": "unavailable"})


async def test_healthz_is_unavailable_when_the_check_raises() -> None:
    core = ScriptedCore()

    def broken() -> bool:
        raise ConnectionError("database down")

    core.healthy = broken  # type: ignore[method-assign]
    async with client_for(core) as client:
        assert (await client.get("/healthz")).status_code == 503


async def test_channels_contribute_routes() -> None:
    async with client_for(ScriptedCore(), [WECHAT_ROUTE]) as client:
        response = await client.post("/wechat", content=b"<xml/>")
        assert (response.status_code, response.text) == (200, "6")
        assert (await client.get("/nowhere")).status_code == 404


async def test_declared_oversized_body_is_refused_before_reading() -> None:
    async with client_for(ScriptedCore(), [WECHAT_ROUTE], max_body_bytes=10) as client:
        assert (await client.post("/wechat", content=b"x" * 10)).status_code == 200
        assert (await client.post("/wechat", content=b"x" * 11)).status_code == 413


async def test_streamed_oversized_body_is_refused() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 8

    async with client_for(ScriptedCore(), [WECHAT_ROUTE], max_body_bytes=20) as client:
        response = await client.post("/wechat", content=chunks())
        assert response.status_code == 413


class _FormTooLargeError(Exception):
    """The error the capped app answers itself."""


async def test_a_cap_gives_its_paths_their_limits_refusal_and_error() -> None:
    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("too big for the form", status_code=413)(scope, receive, send)

    async def read_in_the_page(request: Request) -> PlainTextResponse:
        try:
            return PlainTextResponse(str(len(await request.body())))
        except _FormTooLargeError:
            return PlainTextResponse("the page says no", status_code=413)

    cap = BodyCap(
        prefix="/forms",
        limit=20,
        larger={"/forms/upload": 30},
        refuse=refuse,
        error=_FormTooLargeError,
    )
    routes = [
        WECHAT_ROUTE,
        Route("/forms/upload", echo_length, methods=["POST"]),
        Route("/forms/page", read_in_the_page, methods=["POST"]),
    ]
    app = build_http_app(ScriptedCore(), routes, max_body_bytes=10, caps=[cap])
    transport = httpx.ASGITransport(app=app)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 8

    async with httpx.AsyncClient(transport=transport, base_url="http://gongjian") as client:
        assert (await client.post("/forms/upload", content=b"x" * 30)).text == "30"
        refused = await client.post("/forms/upload", content=b"x" * 31)
        assert (refused.status_code, refused.text) == (413, "too big for the form")
        assert (await client.post("/forms/page", content=b"x" * 20)).text == "20"
        # Grown past the limit while the page reads it: the page answers its own error.
        streamed = await client.post("/forms/page", content=chunks())
        assert (streamed.status_code, streamed.text) == (413, "the page says no")
        # Elsewhere, the shared limit and answer.
        other = await client.post("/wechat", content=b"x" * 11)
        assert other.status_code == 413 and other.text != "too big for the form"


class RecordingService:
    """A service like the WeChat channel or the scheduler, recording its life cycle."""

    def __init__(self, name: str, log: list[str], routes: Sequence[BaseRoute] = ()) -> None:
        self._name = name
        self._log = log
        self._routes = list(routes)

    @property
    def name(self) -> str:
        """The service's name."""
        return self._name

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """What it mounts on the shared server."""
        return self._routes

    async def start(self) -> None:
        """Records the start."""
        self._log.append(f"start {self._name}")

    async def stop(self) -> None:
        """Records the stop."""
        self._log.append(f"stop {self._name}")


def local_settings() -> Settings:
    """Settings for an HTTP server on an ephemeral port, no channels configured."""
    return Settings(_env_file=None, http_host="127.0.0.1", http_port=0)


async def test_serve_runs_services_and_the_http_server_until_stopped() -> None:
    log: list[str] = []
    services = [
        RecordingService("wechat", log, [WECHAT_ROUTE]),
        RecordingService("scheduler", log),
    ]
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(local_settings(), ScriptedCore(), services, stop=stop, ready=port.set_result)
    )
    base = f"http://127.0.0.1:{await port}"
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.post("/wechat", content=b"abc")).text == "3"
    assert log == ["start wechat", "start scheduler"]
    stop.set()
    await task
    assert log[2:] == ["stop scheduler", "stop wechat"]


async def test_serve_without_channels_serves_healthz_only() -> None:
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(local_settings(), ScriptedCore(), stop=stop, ready=port.set_result)
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{await port}") as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.post("/telegram/webhook")).status_code == 404
    stop.set()
    await task


async def test_a_service_that_fails_to_start_stops_the_others() -> None:
    log: list[str] = []

    class Broken(RecordingService):
        async def start(self) -> None:
            raise RuntimeError("bad token")

    services = [RecordingService("first", log), Broken("broken", log)]
    with pytest.raises(RuntimeError, match="bad token"):
        await serve(local_settings(), ScriptedCore(), services, stop=asyncio.Event())
    assert log == ["start first", "stop first"]


async def test_a_taken_port_is_an_os_error_not_an_exit() -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        settings = Settings(_env_file=None, http_host="127.0.0.1", http_port=taken.getsockname()[1])
        with pytest.raises(OSError):
            await serve(settings, ScriptedCore(), [], stop=asyncio.Event())
    finally:
        taken.close()
