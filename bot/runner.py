"""`gongjian run`: every configured channel, the HTTP server and background services in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.channels.http import BodyCap, build_http_app
from bot.channels.registry import build_channels
from bot.config import Settings
from bot.core.channel import ChatChannel
from bot.core.clock import Clock
from bot.core.heap import settle_for_serving
from bot.core.ports import Core
from bot.web.metrics import metrics_services
from storage.engine import Database

if TYPE_CHECKING:
    from bot.engine.assistant import Assistant

logger = logging.getLogger(__name__)


class Service(Protocol):
    """Something `serve` starts and stops with the process: a channel, the scheduler, …"""

    @property
    def name(self) -> str:
        """A short name for logs."""
        ...

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """HTTP routes to mount on the shared server (empty when it needs none)."""
        ...

    async def start(self) -> None:
        """Starts the service; returns once it is running."""
        ...

    async def stop(self) -> None:
        """Stops the service and releases what it holds."""
        ...


def configured_channels(
    settings: Settings,
    core: Core,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
) -> list[ChatChannel]:
    """Builds the chat channels the settings configure, through the channel registry."""
    return build_channels(settings, core, database=database, clock=clock)


class _Routes:
    """The HTTP routes that are no channel: downloads, calendar feeds and the web console."""

    name = "files"

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        from bot.services.photos import PhotoStore  # noqa: PLC0415
        from bot.web.calendar_feed import calendar_routes  # noqa: PLC0415
        from bot.web.console.routes import console_routes  # noqa: PLC0415
        from bot.web.downloads import download_routes  # noqa: PLC0415

        self.routes: Sequence[BaseRoute] = [
            *download_routes(
                assistant.database,
                clock=assistant.clock,
                holidays=assistant.holidays,
                photos=PhotoStore(settings.photo_root, settings.photo_max_bytes),
            ),
            *calendar_routes(assistant.database, settings, assistant.clock),
            *console_routes(assistant.database, settings, assistant.clock, assistant.holidays),
        ]

    async def start(self) -> None:
        """Nothing to start: the routes are served by the shared HTTP server."""

    async def stop(self) -> None:
        """Nothing to stop."""


def assistant_services(settings: Settings, assistant: Assistant) -> list[Service]:
    """Builds everything `gongjian run` starts: the channels, then the reminder jobs."""
    from scheduler.service import ReminderJobs  # noqa: PLC0415 (APScheduler loads here)

    channels = configured_channels(
        settings, assistant, database=assistant.database, clock=assistant.clock
    )
    reminders = ReminderJobs(
        database=assistant.database,
        clock=assistant.clock,
        settings=settings,
        holidays=assistant.holidays,
        senders=[channel.sender for channel in channels],
    )
    metrics = metrics_services(settings, assistant.database)
    return [*channels, reminders, _Routes(assistant, settings), *metrics]


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve`, which owns the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Captures nothing: `serve` stops the server itself, after draining it."""
        yield


def http_app(core: Core, routes: Sequence[BaseRoute], settings: Settings) -> Starlette:
    """Builds the shared app; the console's bodies have its limits and its translated refusal."""
    from bot.web.console import routes as console  # noqa: PLC0415

    cap = BodyCap(
        prefix=console.PREFIX,
        limit=console.BODY_LIMIT,
        larger=console.BODY_LIMITS,
        refuse=console.refuse_too_large(settings),
        error=console.BodyTooLargeError,
    )
    return build_http_app(core, routes, caps=[cap])


async def serve(
    settings: Settings,
    core: Core,
    services: Sequence[Service] | None = None,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Runs the HTTP server and `services` (default: the configured channels) until stopped.

    Stops on SIGINT/SIGTERM, or when `stop` is set if one is given. `ready` receives the HTTP
    port once everything is up (useful with port 0).
    """
    services = configured_channels(settings, core) if services is None else list(services)
    routes = [route for service in services for route in service.routes]
    config = uvicorn.Config(
        http_app(core, routes, settings),
        host=settings.http_host,
        port=settings.http_port,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)
    sock = _listen(settings.http_host, settings.http_port)
    port = int(sock.getsockname()[1])
    own_signals = stop is None
    stop = _stop_on_signals() if stop is None else stop
    # Listening before the services start is fine: a webhook that is not ready answers 503 and
    # the platform retries.
    http = asyncio.create_task(server.serve(sockets=[sock]), name="http-server")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    started: list[Service] = []
    failure: BaseException | None = None
    unexpected = False
    try:
        for service in services:
            await service.start()
            started.append(service)
            # The start line (`gongjian run`) already says what runs: details when debugging.
            logger.debug("Started %s", service.name)
        logger.debug("Serving HTTP on %s:%d", settings.http_host, port)
        if own_signals:
            # The process is ours (no caller's `stop`): its heap can be settled for serving.
            settle_for_serving(one_cpu=settings.one_cpu)
        if ready is not None:
            ready(port)
        await asyncio.wait({http, stopping}, return_when=asyncio.FIRST_COMPLETED)
        unexpected = http.done()
    finally:
        stopping.cancel()
        # Drain the HTTP server first so in-flight webhooks finish while channels still run.
        server.should_exit = True
        try:
            await http
        except (Exception, asyncio.CancelledError) as exc:
            failure = exc
        for service in reversed(started):
            try:
                await service.stop()
                logger.debug("Stopped %s", service.name)
            except Exception:
                logger.exception("Stopping %s failed", service.name)
        if own_signals:
            _restore_signals()
    if failure is not None:
        raise failure
    if unexpected:
        raise RuntimeError("the HTTP server stopped unexpectedly")


def _listen(host: str, port: int) -> socket.socket:
    """Binds and listens, raising OSError when the address is taken (uvicorn would exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=2048)
    # Accepted connections inherit this; without it every kept-alive response waits ~40 ms
    # for Nagle's algorithm (asyncio only sets it on sockets it creates itself).
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def _stop_on_signals() -> asyncio.Event:
    """Returns an event that SIGINT or SIGTERM sets."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, event.set)
    return event


def _restore_signals() -> None:
    """Gives SIGINT and SIGTERM back to their defaults once `serve` is done."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(sig)
