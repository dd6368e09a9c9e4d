"""Mounts the console under `/console` on the shared HTTP server, static files included."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.calendar.holidays import HolidayCalendar
from bot.config import Settings
from bot.core.clock import Clock
from bot.web.console.desk import Console
from bot.web.console.imports import ENVELOPE, ImportPages
from bot.web.console.ledger import LedgerPages
from bot.web.console.meetings import MeetingPages
from bot.web.console.members import MemberPages
from bot.web.console.pages import FORM_LIMIT, MAX_UPLOAD, Pages, ReminderPages, refused
from bot.web.console.rota import RotaPages
from bot.web.console.structure import StructurePages
from storage.engine import Database

STATIC = Path(__file__).with_name("static")
# Vendored files only change with a release; a day of caching spares phones the download.
STATIC_MAX_AGE = 24 * 3600
# Every console body is capped at a form's size, but the upload form's: well past its own limit
# (which it counts itself) so that it refuses a larger file in the reader's language.
BODY_LIMITS = {"/console/import": 2 * (MAX_UPLOAD + ENVELOPE)}
BODY_LIMIT = FORM_LIMIT
PREFIX = "/console"


class BodyTooLargeError(Exception):
    """A console request's body grew past its limit while it was read."""


def refuse_too_large(settings: Settings) -> ASGIApp:
    """Answers an oversized console body with the refusal page in the reader's language (413)."""

    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        """Answers 413 with the refusal page."""
        await refused(Request(scope), settings, 413)(scope, receive, send)

    return refuse


class RecordId(Convertor[int]):
    """A stored row's id in a path: at most 18 digits, so it always fits the database's integer."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        """Turns the path segment into the id."""
        return int(value)

    def to_string(self, value: int) -> str:
        """Writes the id back into a path."""
        return str(value)


register_url_convertor("id", RecordId())


class CachedStatic(StaticFiles):
    """Static files with a cache lifetime and no content sniffing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Adds the cache headers to every static response."""

        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers.append((b"cache-control", f"public, max-age={STATIC_MAX_AGE}".encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        await super().__call__(scope, receive, send_with_headers)  # type: ignore[arg-type]


def console_routes(
    database: Database, settings: Settings, clock: Clock, holidays: HolidayCalendar
) -> list[BaseRoute]:
    """Builds the `/console` mount: pages, sign-in and the vendored static files."""
    pages = Pages(Console(database=database, clock=clock, settings=settings, holidays=holidays))
    reminders = ReminderPages(pages)
    members = MemberPages(pages)
    rota = RotaPages(pages)
    meetings = MeetingPages(pages)
    ledger = LedgerPages(pages)
    structure = StructurePages(pages)
    imports = ImportPages(pages)
    routes: list[BaseRoute] = [
        Route("/", pages.overview, methods=["GET"]),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/enter/{token}", pages.enter, methods=["GET"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/org/{code}", pages.organization, methods=["GET"]),
        Route("/org/{code}/invites", members.invite, methods=["POST"]),
        Route("/org/{code}/members/{member_id:id}/export", members.export, methods=["POST"]),
        Route("/org/{code}/members/{member_id:id}/erase", members.erase, methods=["POST"]),
        Route("/audit", pages.audit, methods=["GET"]),
        Route("/rota", rota.show, methods=["GET"]),
        Route("/rota/override", rota.override, methods=["POST"]),
        Route("/meetings", meetings.calendar, methods=["GET"]),
        Route("/meetings/new", meetings.new_form, methods=["GET"]),
        Route("/meetings/new", meetings.create, methods=["POST"]),
        Route("/meetings/{meeting_id:id}", meetings.show, methods=["GET"]),
        Route("/meetings/{meeting_id:id}/attendance", meetings.correct, methods=["POST"]),
        Route("/meetings/{meeting_id:id}/move", meetings.move_form, methods=["GET"]),
        Route("/meetings/{meeting_id:id}/move", meetings.move, methods=["POST"]),
        Route("/meetings/{meeting_id:id}/minutes", meetings.minutes, methods=["GET"]),
        Route("/meetings/{meeting_id:id}/minutes", meetings.save_minutes, methods=["POST"]),
        Route("/meetings/{meeting_id:id}/minutes.docx", meetings.minutes_file, methods=["GET"]),
        Route("/reminders", reminders.show, methods=["GET"]),
        Route("/reminders/requeue", reminders.requeue, methods=["POST"]),
        Route("/reminders/settings", reminders.change_setting, methods=["POST"]),
        Route("/ledger", ledger.show, methods=["GET"]),
        Route("/ledger/workbook", ledger.workbook, methods=["GET"]),
        Route("/ledger/summary", ledger.summary, methods=["GET"]),
        Route("/ledger/photos/{photo_id:id}", ledger.photo, methods=["GET"]),
        Route("/ledger/submitted", ledger.submitted, methods=["POST"]),
        Route("/structure", structure.show, methods=["GET"]),
        Route("/structure/pairings/new", structure.new_pairing, methods=["GET"]),
        Route("/structure/pairings/new", structure.save_pairing, methods=["POST"]),
        Route("/structure/pairings/{code}", structure.edit_pairing, methods=["GET"]),
        Route("/structure/pairings/{code}", structure.save_pairing, methods=["POST"]),
        Route("/structure/pairings/{code}/end", structure.end, methods=["POST"]),
        Route("/structure/alliances/new", structure.new_alliance, methods=["GET"]),
        Route("/structure/alliances/new", structure.save_alliance, methods=["POST"]),
        Route("/structure/alliances/{code}", structure.edit_alliance, methods=["GET"]),
        Route("/structure/alliances/{code}", structure.save_alliance, methods=["POST"]),
        Route("/import", imports.show, methods=["GET"]),
        Route("/import", imports.check, methods=["POST"]),
        Route("/import/confirm", imports.confirm, methods=["POST"]),
        Mount("/static", app=CachedStatic(directory=STATIC), name="static"),
    ]

    async def unreadable(request: Request, error: Exception) -> Response:
        """Answers what the router or the form reader refuses with a translated page."""
        status = error.status_code if isinstance(error, HTTPException) else 400
        if isinstance(error, BodyTooLargeError):
            status = 413
        return pages.refuse(request, status, None)

    console = Starlette(
        routes=routes,
        middleware=[Middleware(GZipMiddleware, minimum_size=512)],
        exception_handlers={HTTPException: unreadable, BodyTooLargeError: unreadable},
    )
    return [Mount("/console", app=console)]
