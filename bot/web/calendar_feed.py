"""The private iCalendar feed (RFC 5545) of a member's meetings and duty slots, over HTTP."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.calendar.holidays import HolidayCalendar
from bot.config import Settings
from bot.core.clock import Clock
from bot.core.domain import Duty, MeetingStatus
from bot.core.i18n import N_, Translator
from bot.core.records import MeetingView
from bot.services.calendar_feed import CalendarFeeds, FeedContent, FeedDuty, feed_content
from bot.texts.phrases import DUTIES, MEETING_KINDS, move_note
from bot.texts.translation import translator
from storage.engine import Database

logger = logging.getLogger(__name__)

PRODID = "-//Gongjian//Gongjian calendar feed//EN"
# Meetings are stored with a start only; two hours is what a branch meeting usually takes.
MEETING_LENGTH = timedelta(hours=2)
# Calendar apps poll subscribed feeds; asking for hourly refreshes keeps moved meetings current.
REFRESH = timedelta(hours=1)
FALLBACK_DOMAIN = "gongjian.invalid"
MEDIA_TYPE = "text/calendar; charset=utf-8"

SHORT_DUTIES: dict[Duty, str] = {
    Duty.THEME_DAY: N_("Theme party day duty"),
    Duty.CONVENER: N_("Joint meeting convener"),
    Duty.EXECUTIVE: N_("Executive president unit"),
}


def uid_domain(public_base_url: str | None) -> str:
    """Returns the host name that makes event UIDs globally unique."""
    host = urlsplit(public_base_url).hostname if public_base_url else None
    return host or FALLBACK_DOMAIN


def render_feed(
    content: FeedContent, *, t: Translator, now: datetime, tz: ZoneInfo, domain: str
) -> bytes:
    """Renders a member's feed as an iCalendar document."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", t("Gongjian: {org}", org=content.member.org.name))
    calendar.add("x-wr-timezone", tz.key)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    stamp = now.astimezone(UTC)
    for meeting in content.meetings:
        calendar.add_component(_meeting_event(meeting, t=t, stamp=stamp, tz=tz, domain=domain))
    for duty in content.duties:
        calendar.add_component(_duty_event(duty, t=t, stamp=stamp, domain=domain))
    calendar.add_missing_timezones(
        first_date=content.first_day - timedelta(days=366),
        last_date=content.last_day + timedelta(days=366),
    )
    document: bytes = calendar.to_ical()
    return document


def _meeting_event(
    meeting: MeetingView, *, t: Translator, stamp: datetime, tz: ZoneInfo, domain: str
) -> Event:
    """Builds the event of one meeting, cancelled ones included so calendars drop them."""
    event = Event()
    event.add("uid", f"meeting-{meeting.id}@{domain}")
    event.add("dtstamp", stamp)
    starts = meeting.starts_at.astimezone(tz)
    event.add("dtstart", starts)
    event.add("dtend", starts + MEETING_LENGTH)
    kind = t(MEETING_KINDS[meeting.kind])
    title = t("{label}: {text}", label=kind, text=meeting.title) if meeting.title else kind
    event.add("summary", t("{title} ({org})", title=title, org=meeting.org.name))
    if meeting.venue:
        event.add("location", meeting.venue)
    lines = [meeting.org.name]
    note = move_note(t, meeting)
    if note:
        lines.append(note)
    event.add("description", "\n".join(lines))
    cancelled = meeting.status is MeetingStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def _duty_event(duty: FeedDuty, *, t: Translator, stamp: datetime, domain: str) -> Event:
    """Builds the all-day event spanning one duty slot of an alliance."""
    slot = duty.slot
    event = Event()
    event.add("uid", f"duty-{duty.alliance_id}-{slot.duty.value}-{slot.period}@{domain}")
    event.add("dtstamp", stamp)
    event.add("dtstart", slot.first_day)
    # DTEND of an all-day event is exclusive.
    event.add("dtend", slot.last_day + timedelta(days=1))
    event.add("summary", t("{duty}: {org}", duty=t(SHORT_DUTIES[slot.duty]), org=slot.org.name))
    lines = [
        t(
            "{duty} of {alliance}, {period}",
            duty=t(DUTIES[slot.duty]),
            alliance=duty.alliance_name,
            period=slot.period,
        )
    ]
    if slot.overridden:
        lines.append(t("Changed by a secretary: {reason}", reason=slot.reason))
    event.add("description", "\n".join(lines))
    event.add("transp", "TRANSPARENT")
    return event


def feed_body(
    database: Database,
    token: str,
    *,
    settings: Settings,
    clock: Clock,
    holidays: HolidayCalendar,
) -> bytes | None:
    """Returns the iCalendar document behind a token, or None when the token is not live."""
    now = clock.now()
    with database.session() as session:
        member_id = CalendarFeeds(session, now).member_for(token)
        if member_id is None:
            return None
        content = feed_content(
            session, member_id=member_id, now=now, tz=clock.tz, holidays=holidays
        )
    t = translator(content.member.locale or settings.default_locale)
    return render_feed(
        content, t=t, now=now, tz=clock.tz, domain=uid_domain(settings.public_base_url)
    )


def calendar_routes(database: Database, settings: Settings, clock: Clock) -> list[BaseRoute]:
    """Returns the route serving `GET /calendar/{token}.ics` (404 for unknown or revoked tokens)."""
    holidays = HolidayCalendar.load(settings.holidays_file)

    async def feed(request: Request) -> Response:
        """Answers a calendar app's poll with the member's feed."""
        token = str(request.path_params["token"])
        try:
            body = await asyncio.to_thread(
                feed_body, database, token, settings=settings, clock=clock, holidays=holidays
            )
        except Exception:
            logger.exception("Building a calendar feed failed")
            return PlainTextResponse("Service unavailable", status_code=503)
        if body is None:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(
            body,
            media_type=MEDIA_TYPE,
            headers={
                "Cache-Control": "private, max-age=900",
                "Content-Disposition": 'inline; filename="gongjian.ics"',
                "X-Robots-Tag": "noindex",
            },
        )

    return [Route("/calendar/{token}.ics", feed, methods=["GET", "HEAD"])]
