"""One console request's unit of work: a session, `now`, the signed-in principal and a translator."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.requests import Request

from bot.calendar.holidays import HolidayCalendar
from bot.config import Settings
from bot.core.clock import Clock
from bot.core.i18n import SUPPORTED_LOCALES, Translator
from bot.services.console_access import ConsoleAccess, Principal
from bot.services.overview_cache import OverviewCache
from bot.services.use_cases import Services
from bot.texts.translation import translator
from storage.engine import Database, Session

SESSION_COOKIE = "gj_console"
LOCALE_COOKIE = "gj_lang"


@dataclass(frozen=True, slots=True)
class Console:
    """What every console page needs: the database, the clock, settings and holidays."""

    database: Database
    clock: Clock
    settings: Settings
    holidays: HolidayCalendar
    overviews: OverviewCache = field(default_factory=OverviewCache)

    @property
    def idle(self) -> timedelta:
        """How long a session lives without a request."""
        return timedelta(minutes=self.settings.console_idle_minutes)

    @property
    def secure_cookies(self) -> bool:
        """Tells whether cookies must only travel over HTTPS (the public URL says so)."""
        return secure_cookies(self.settings)

    def services(self, session: Session, now: datetime) -> Services:
        """Binds the chat's use cases to this request's transaction and moment."""
        return Services(
            session,
            now=now,
            tz=self.settings.tz,
            holidays=self.holidays,
            settings=self.settings,
        )

    @contextmanager
    def unit(self) -> Iterator[tuple[Session, datetime, ConsoleAccess]]:
        """Opens one transaction with the request's `now` and the access rules bound to it."""
        now = self.clock.now()
        with self.database.session() as session:
            yield session, now, ConsoleAccess(session, now, idle=self.idle)


def secure_cookies(settings: Settings) -> bool:
    """Tells whether cookies must only travel over HTTPS (the public URL says so)."""
    return settings.public_url.startswith("https://")


def locale_of(request: Request, settings: Settings) -> str:
    """Picks the page language: ?lang=, then the cookie, then the configured default."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LOCALE_COOKIE)):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return settings.default_locale


def translator_for(request: Request, settings: Settings) -> Translator:
    """Returns the translator of the page's language."""
    return translator(locale_of(request, settings))


def principal_of(request: Request, access: ConsoleAccess) -> Principal | None:
    """Returns who the request's session cookie belongs to, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return None
    return access.principal(token)


def csrf_ok(principal: Principal, submitted: object) -> bool:
    """Checks a form's token against the session's, in constant time."""
    if not isinstance(submitted, str) or not principal.csrf_token:
        return False
    return hmac.compare_digest(submitted.encode(), principal.csrf_token.encode())


def whole(text: str, *, digits: int = 18) -> int | None:
    """Reads a whole number typed in ASCII digits (at most `digits` of them), else None."""
    # str.isdigit() also admits "²" and other digits int() refuses; 18 digits fit any column.
    if text.isascii() and text.isdigit() and len(text) <= digits:
        return int(text)
    return None
