"""The one ASGI app every webhook channel shares: `/healthz` plus the routes channels contribute."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.core.ports import Core

logger = logging.getLogger(__name__)

# Platform callbacks are a few kilobytes; a megabyte leaves room and stops memory abuse.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# A flood of refused requests writes one line per cause per interval, not one per request.
REFUSALS_LOGGED_EVERY = 60.0


class RefusalLog:
    """Counts refused requests per cause and logs each cause at most once per interval."""

    def __init__(
        self,
        *,
        interval: float = REFUSALS_LOGGED_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self.totals: dict[str, int] = {}
        self._unlogged: dict[str, int] = {}
        self._logged_at: dict[str, float] = {}

    def note(self, cause: str) -> None:
        """Counts one refusal; logs the cause with its count when the interval has passed."""
        self.totals[cause] = self.totals.get(cause, 0) + 1
        self._unlogged[cause] = self._unlogged.get(cause, 0) + 1
        now = self._monotonic()
        last = self._logged_at.get(cause)
        if last is not None and now - last < self._interval:
            return
        count = self._unlogged.pop(cause)
        self._logged_at[cause] = now
        if last is None:
            logger.warning("refused: %s", cause)
        else:
            logger.warning("refused: %s (%d times in the last %.0f s)", cause, count, now - last)


# The process's refusal counts, shared by every channel route.
refusals = RefusalLog()


class _BodyTooLargeError(Exception):
    """The request body grew past the cap while being read."""


@dataclass(frozen=True, slots=True)
class BodyCap:
    """The body limits of the paths under `prefix`, and how the app there refuses a larger one.

    A body declared larger than its limit is answered by `refuse` (an ASGI app, given the
    request); one that grows past it while read raises `error` inside the app under the prefix,
    for it to answer in its own way (`refuse` answers if the error escapes it).
    """

    prefix: str
    limit: int
    larger: Mapping[str, int]
    refuse: ASGIApp
    error: type[Exception]

    def covers(self, path: str) -> bool:
        """Tells whether a path lies under the prefix."""
        return path == self.prefix or path.startswith(self.prefix + "/")


class BodySizeLimit:
    """ASGI middleware answering 413 to any request whose body exceeds its limit.

    `max_bytes` for every path but those a cap covers, which have the cap's limits and answer.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES, caps: Sequence[BodyCap] = ()
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.caps = tuple(caps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuses oversized bodies by declared length, or while they stream in."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        cap = next((cap for cap in self.caps if cap.covers(path)), None)
        max_bytes = cap.larger.get(path, cap.limit) if cap else self.default_max_bytes
        refuse = cap.refuse if cap else _too_large
        error = cap.error if cap else _BodyTooLargeError
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > max_bytes:
                    refusals.note("body too large")
                    await refuse(scope, receive, send)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise error
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (_BodyTooLargeError, error):
            if response_started:
                raise
            refusals.note("body too large")
            await refuse(scope, receive, send)
        except ClientDisconnect:
            # The client went away mid-body: nobody to answer, and nothing went wrong here.
            refusals.note("client disconnected before the body was read")


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 413 Request Entity Too Large."""
    await PlainTextResponse("Request body too large", status_code=413)(scope, receive, send)


def build_http_app(
    core: Core,
    routes: Sequence[BaseRoute] = (),
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    caps: Sequence[BodyCap] = (),
) -> Starlette:
    """Builds the shared ASGI app: `/healthz` and each channel's routes, with capped bodies.

    `caps` give the paths under a prefix (the console's) their own limits and refusal.
    """

    async def healthz(request: Request) -> JSONResponse:
        """Answers 200 when the database is reachable, else 503."""
        try:
            healthy = await asyncio.to_thread(core.healthy)
        except Exception:
            logger.exception("Health check failed")
            healthy = False
        if healthy:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    return Starlette(
        routes=[Route("/healthz", healthz, methods=["GET", "HEAD"]), *routes],
        middleware=[Middleware(BodySizeLimit, max_bytes=max_body_bytes, caps=caps)],
    )
