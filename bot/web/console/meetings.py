"""The console's meetings: a branch's calendar, new and moved meetings, the roll call, minutes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response

from bot.calendar.orglife import MoveReason, OrgLifeDay
from bot.core.domain import AttendanceStatus, MeetingKind, MeetingStatus
from bot.core.i18n import Translator
from bot.core.records import MeetingView, MemberView
from bot.services.attendance import RollEntry
from bot.services.console_access import Principal
from bot.services.errors import ServiceError
from bot.services.meetings import MeetingCalendar, parse_hhmm
from bot.services.use_cases import Services
from bot.texts.console import ATTENDANCE_ANSWERS
from bot.texts.phrases import (
    GROUP_MEETINGS,
    HOLIDAY_POLICIES,
    HOLIDAYS,
    MEETING_KINDS,
    ORDINALS,
    move_note,
)
from bot.web.console.desk import whole
from bot.web.console.pages import PAGE_HEADERS, Pages, _response, asked_org, day_label
from bot.web.downloads import content_disposition
from handlers.errors import explain
from storage.engine import Session

# What the correction form offers, as the answer it records: a status, and whether late.
ANSWERS: dict[str, tuple[AttendanceStatus, bool]] = {
    "present": (AttendanceStatus.PRESENT, False),
    "late": (AttendanceStatus.PRESENT, True),
    "leave": (AttendanceStatus.LEAVE, False),
    "absent": (AttendanceStatus.ABSENT, False),
}
MEETING_FIELDS = ("kind", "date", "time", "venue", "title")
MINUTES_FIELDS = ("topic", "host", "recorder", "content", "resolutions")
CORRECTION_FIELDS = ("member", "answer", "reason")
# Longer than any form field the pages offer (minutes content is the longest).
FIELD_LIMIT = 5000
# A page's reads on one meeting, and a form's change to it (where to go next, or a page).
MeetingRead = Callable[[Services, Principal, Translator, MeetingView], Response]
MeetingChange = Callable[
    [Services, Principal, Translator, MeetingView, dict[str, str]], str | Response
]


class FormError(Exception):
    """A form field that cannot be read; the message is already translated."""


@dataclass(frozen=True, slots=True)
class CalendarRow:
    """One line of the calendar, laid out for the page."""

    day: date
    date_label: str
    weekday: str
    time: str
    kind: str
    venue: str
    host: str
    note: str
    meeting_id: int | None
    cancelled: bool
    # Links the reader may follow: the roll call and minutes, a move, or setting a rule's day.
    visible: bool
    movable: bool
    new_link: str


def kept(fields: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """Keeps the named fields of a form, to show them again after a refusal."""
    return {name: fields.get(name, "")[:FIELD_LIMIT] for name in names}


def read_day(t: Translator, text: str) -> date:
    """Reads a form's date (2026-12-10), or explains what is wrong."""
    text = text.strip()
    if not text:
        raise FormError(t("Please give both the date and the time."))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError(explain(t, ServiceError("bad_date", value=text[:20]))) from None


def read_time(t: Translator, text: str) -> time:
    """Reads a form's time of day (14:30), or explains what is wrong."""
    text = text.strip()
    if not text:
        raise FormError(t("Please give both the date and the time."))
    try:
        return parse_hhmm(text)
    except ValueError:
        raise FormError(explain(t, ServiceError("bad_time", value=text[:20]))) from None


def read_kind(t: Translator, text: str) -> MeetingKind:
    """Reads a meeting kind from the form's choice."""
    if text not in MeetingKind.__members__.values():
        raise FormError(t("I do not know the meeting kind {text}.", text=text[:40]))
    return MeetingKind(text)


def rule_note(t: Translator, day: OrgLifeDay) -> str:
    """Says why the rule's org-life day moved, or what to know about it."""
    holiday = t(HOLIDAYS.get(day.holiday.value, HOLIDAYS["other"])) if day.holiday else ""
    if day.reason is MoveReason.MOVED_FOR_HOLIDAY:
        return t("moved from {date} ({holiday})", date=day_label(t, day.original), holiday=holiday)
    if day.reason is MoveReason.KEPT_ON_HOLIDAY:
        return t("falls on {holiday}; the branch keeps the day", holiday=holiday)
    if day.reason is MoveReason.CALENDAR_UNKNOWN:
        return t("holidays of {year} not published yet; check nearer the time", year=day.year)
    return ""


def leads_home(principal: Principal) -> bool:
    """Allows the secretaries and deputies of their own branch, in person (they schedule)."""
    return principal.leads(principal.home_org_id)


def answer_of(entry: RollEntry) -> str:
    """Names a roll entry's answer by the key the page and the form use."""
    if entry.status is None:
        return "none"
    if entry.status is AttendanceStatus.PRESENT:
        return "late" if entry.late else "present"
    return entry.status.value


class MeetingPages:
    """A branch's meetings: everyone admitted reads within scope; its secretaries change them."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def _services(self, session: Session) -> Services:
        """Binds the use cases to this request's transaction."""
        return self.pages.console.services(session, self.pages.console.clock.now())

    def _actor(self, services: Services, principal: Principal) -> MemberView:
        """Returns the signed-in officer as the use cases see them."""
        assert principal.member_id is not None
        return services.members.get(principal.member_id)

    def _find(
        self, request: Request, services: Services, principal: Principal, *, officers: bool
    ) -> MeetingView | Response:
        """Finds the path's meeting: 404 outside scope; with `officers`, 403 but for its officers."""
        found = services.meeting(int(request.path_params["meeting_id"]))
        if found is None or not principal.can_see(found.org.id):
            return self.pages.refuse(request, 404, principal)
        if officers and not principal.leads(found.org.id):
            return self.pages.refuse(request, 403, principal)
        return found

    async def _reading(
        self, request: Request, work: MeetingRead, *, officers: bool = False
    ) -> Response:
        """Runs a page's reads on the path's meeting once `_find` lets the principal at it."""

        def run(session: Session, principal: Principal, t: Translator) -> Response:
            services = self._services(session)
            found = self._find(request, services, principal, officers=officers)
            if isinstance(found, Response):
                return found
            return work(services, principal, t, found)

        return _response(await self.pages.guarded(request, run))

    async def _changing(self, request: Request, work: MeetingChange) -> Response:
        """Runs a form's change on the path's meeting, for its branch's officers only."""

        def run(
            session: Session,
            now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> str | Response:
            services = self.pages.console.services(session, now)
            found = self._find(request, services, principal, officers=True)
            if isinstance(found, Response):
                return found
            return work(services, principal, t, found, fields)

        return await self.pages.changed(request, run)

    # -- the calendar ---------------------------------------------------------------------

    async def calendar(self, request: Request) -> Response:
        """Lists a year of a branch's meetings: the principal's own, or one chosen in scope."""
        now = self.pages.console.clock.now().astimezone(self.pages.console.settings.tz)
        try:
            year = int(request.query_params.get("year", ""))
        except ValueError:
            year = now.year
        year = min(max(year, 2000), 2100)
        code = request.query_params.get("org", "").strip()[:32]

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            services = self._services(session)
            org = asked_org(session, principal, code)
            if org is None:
                return self.pages.refuse(request, 404, principal)
            calendar = services.meeting_calendar(org.id, year)
            choices = services.orgs.among(principal.org_ids) if len(principal.org_ids) > 1 else []
            return self.pages.render(
                request,
                "meetings.html",
                principal=principal,
                org=org,
                year=year,
                rule=self._rule(t, calendar),
                rows=self._rows(t, calendar, principal, now.date()),
                choices=choices,
                may_schedule=principal.leads(org.id),
            )

        return _response(await self.pages.guarded(request, work))

    def _rule(self, t: Translator, calendar: MeetingCalendar) -> str:
        """Describes the organization's org-life rule in a sentence."""
        rule = calendar.rule
        if rule is None:
            return ""
        # 2024-01-01 was a Monday, the rule's weekday 0.
        weekday = t.weekday(date(2024, 1, 1) + timedelta(days=rule.weekday))
        return t(
            "Rule: the {ordinal} {weekday} of every month at {time}; on a public holiday: {policy}.",
            ordinal=t(ORDINALS.get(rule.ordinal, ORDINALS[1])),
            weekday=weekday,
            time=rule.time,
            policy=t(HOLIDAY_POLICIES[rule.policy]),
        )

    def _rows(
        self, t: Translator, calendar: MeetingCalendar, principal: Principal, today: date
    ) -> list[CalendarRow]:
        """Lays out the calendar's days for the page."""
        rows: list[CalendarRow] = []
        for entry in calendar.days:
            meeting, rule_day = entry.meeting, entry.rule_day
            if meeting is not None:
                cancelled = meeting.status is MeetingStatus.CANCELLED
                note = t("cancelled") if cancelled else move_note(t, meeting)
                rows.append(
                    CalendarRow(
                        day=entry.day,
                        date_label=day_label(t, entry.day),
                        weekday=t.weekday(entry.day),
                        time=t.time(meeting.starts_at),
                        kind=t(MEETING_KINDS[meeting.kind]),
                        venue=meeting.venue,
                        host=meeting.org.name
                        if meeting.kind in GROUP_MEETINGS or meeting.org.id != calendar.org.id
                        else "",
                        note=note,
                        meeting_id=meeting.id,
                        cancelled=cancelled,
                        visible=principal.can_see(meeting.org.id),
                        movable=principal.leads(meeting.org.id)
                        and not cancelled
                        and entry.day >= today,
                        new_link="",
                    )
                )
            elif rule_day is not None and calendar.rule is not None:
                rows.append(
                    CalendarRow(
                        day=entry.day,
                        date_label=day_label(t, entry.day),
                        weekday=t.weekday(entry.day),
                        time=calendar.rule.time,
                        kind=t(MEETING_KINDS[MeetingKind.ORG_LIFE]),
                        venue="",
                        host="",
                        note=" · ".join(
                            part for part in (t("by the rule"), rule_note(t, rule_day)) if part
                        ),
                        meeting_id=None,
                        cancelled=False,
                        visible=False,
                        movable=False,
                        new_link=(
                            f"/console/meetings/new?kind=org_life&date={entry.day.isoformat()}"
                            f"&time={calendar.rule.time}"
                        )
                        if principal.leads(calendar.org.id)
                        else "",
                    )
                )
        return rows

    # -- a new meeting ---------------------------------------------------------------------

    async def new_form(self, request: Request) -> Response:
        """Shows the form for a new meeting of the officer's own branch."""
        query = request.query_params
        values = {name: query.get(name, "")[:40] for name in MEETING_FIELDS}

        def work(session: Session, principal: Principal, t: Translator) -> Response:
            return self._new_page(request, principal, t, values)

        return _response(await self.pages.guarded(request, work, allowed=leads_home))

    def _new_page(
        self,
        request: Request,
        principal: Principal,
        t: Translator,
        values: Mapping[str, str],
        *,
        error: str = "",
    ) -> Response:
        """Renders the new-meeting form with the values given and any refusal."""
        today = self.pages.console.clock.now().astimezone(self.pages.console.settings.tz).date()
        return self.pages.render(
            request,
            "meeting_new.html",
            400 if error else 200,
            principal=principal,
            values=values,
            error=error,
            today=today.isoformat(),
            kinds=[(kind.value, t(MEETING_KINDS[kind])) for kind in MeetingKind],
        )

    async def create(self, request: Request) -> Response:
        """Schedules a meeting of the officer's branch through the chat's use case."""

        def work(
            session: Session,
            now: datetime,
            principal: Principal,
            t: Translator,
            fields: dict[str, str],
        ) -> str | Response:
            services = self.pages.console.services(session, now)
            values = kept(fields, MEETING_FIELDS)
            try:
                meeting = services.schedule_meeting(
                    self._actor(services, principal),
                    kind=read_kind(t, values["kind"]),
                    day=read_day(t, values["date"]),
                    at=read_time(t, values["time"]),
                    venue=values["venue"],
                    title=values["title"],
                )
            except FormError as problem:
                return self._new_page(request, principal, t, values, error=str(problem))
            except ServiceError as refusal:
                session.rollback()
                return self._new_page(request, principal, t, values, error=explain(t, refusal))
            return f"/console/meetings/{meeting.id}?done=scheduled"

        return await self.pages.changed(request, work, allowed=leads_home)

    # -- moving a meeting --------------------------------------------------------------------

    async def move_form(self, request: Request) -> Response:
        """Shows a meeting's day, time and venue to change (its branch's officers only)."""

        def work(
            _services: Services, principal: Principal, t: Translator, found: MeetingView
        ) -> Response:
            values = {
                "date": found.held_on.isoformat(),
                "time": f"{found.starts_at:%H:%M}",
                "venue": found.venue,
            }
            return self._move_page(request, principal, t, found, values)

        return await self._reading(request, work, officers=True)

    def _move_page(
        self,
        request: Request,
        principal: Principal,
        t: Translator,
        meeting: MeetingView,
        values: Mapping[str, str],
        *,
        error: str = "",
    ) -> Response:
        """Renders the move form for a meeting with the values given and any refusal."""
        return self.pages.render(
            request,
            "meeting_move.html",
            400 if error else 200,
            principal=principal,
            meeting=self._heading(t, meeting),
            meeting_id=meeting.id,
            values=values,
            error=error,
        )

    async def move(self, request: Request) -> Response:
        """Moves a meeting that has not begun through the chat's use case; its members are told."""

        def work(
            services: Services,
            principal: Principal,
            t: Translator,
            found: MeetingView,
            fields: dict[str, str],
        ) -> str | Response:
            values = kept(fields, ("date", "time", "venue"))
            try:
                services.move_meeting(
                    self._actor(services, principal),
                    meeting_id=found.id,
                    day=read_day(t, values["date"]),
                    at=read_time(t, values["time"]),
                    venue=values["venue"],
                )
            except FormError as problem:
                return self._move_page(request, principal, t, found, values, error=str(problem))
            except ServiceError as refusal:
                services.session.rollback()
                return self._move_page(
                    request, principal, t, found, values, error=explain(t, refusal)
                )
            return f"/console/meetings/{found.id}?done=moved"

        return await self._changing(request, work)

    # -- the roll call and corrections -------------------------------------------------------

    def _heading(self, t: Translator, meeting: MeetingView) -> dict[str, str]:
        """Lays out what a meeting page's heading says about the meeting."""
        return {
            "kind": t(MEETING_KINDS[meeting.kind]),
            "date": t.date(meeting.held_on, "long"),
            "weekday": t.weekday(meeting.held_on),
            "time": t.time(meeting.starts_at),
            "venue": meeting.venue,
            "title": meeting.title,
            "host": meeting.org.name,
            "code": meeting.org.code,
            "year": str(meeting.held_on.year),
            "note": t("cancelled")
            if meeting.status is MeetingStatus.CANCELLED
            else move_note(t, meeting),
        }

    async def show(self, request: Request) -> Response:
        """Shows a meeting's roll call: present, late, on leave and absent, with the correction form."""
        done = request.query_params.get("done", "")

        def work(
            services: Services, principal: Principal, t: Translator, found: MeetingView
        ) -> Response:
            return self._roll_page(request, services, principal, t, found, done=done)

        return await self._reading(request, work)

    def _roll_page(
        self,
        request: Request,
        services: Services,
        principal: Principal,
        t: Translator,
        meeting: MeetingView,
        *,
        values: Mapping[str, str] | None = None,
        error: str = "",
        done: str = "",
    ) -> Response:
        """Renders a meeting's roll call with the correction form's values and any refusal."""
        sheet = services.roll_sheet(meeting.id)
        roll = sheet.roll_call
        tz = self.pages.console.settings.tz
        return self.pages.render(
            request,
            "meeting.html",
            400 if error else 200,
            principal=principal,
            meeting=self._heading(t, meeting),
            meeting_id=meeting.id,
            totals=t(
                "Signed in {present} of {expected} ({rate}%), on leave {leave}, missing {missing}.",
                present=len(roll.present),
                expected=roll.expected,
                rate=round(roll.rate * 100),
                leave=len(roll.on_leave),
                missing=len(roll.missing),
            ),
            entries=[
                {
                    "id": entry.member_id,
                    "name": entry.name,
                    "answer": answer_of(entry),
                    "at": t.time(entry.at.astimezone(tz))
                    if entry.at and entry.status is AttendanceStatus.PRESENT
                    else "",
                    "reason": entry.reason,
                    "by_desk": entry.by_desk,
                }
                for entry in sheet.entries
            ],
            answer_names={key: t(name) for key, name in ATTENDANCE_ANSWERS.items()},
            answers=list(ANSWERS),
            may_write=principal.leads(meeting.org.id),
            cancelled=meeting.status is MeetingStatus.CANCELLED,
            values=values or {},
            error=error,
            done=done if done in ("scheduled", "moved", "corrected") else "",
        )

    async def correct(self, request: Request) -> Response:
        """Records a member's answer as the secretary corrects it, with a reason (audited)."""

        def work(
            services: Services,
            principal: Principal,
            t: Translator,
            found: MeetingView,
            fields: dict[str, str],
        ) -> str | Response:
            values = kept(fields, CORRECTION_FIELDS)
            try:
                if values["answer"] not in ANSWERS:
                    raise FormError(t("Choose what to record: present, late, on leave or absent."))
                status, late = ANSWERS[values["answer"]]
                member_id = whole(values["member"]) or 0
                services.correct_attendance(
                    self._actor(services, principal),
                    meeting_id=found.id,
                    member_id=member_id,
                    status=status,
                    late=late,
                    reason=values["reason"][:500],
                )
            except FormError as problem:
                return self._roll_page(
                    request, services, principal, t, found, values=values, error=str(problem)
                )
            except ServiceError as refusal:
                services.session.rollback()
                return self._roll_page(
                    request, services, principal, t, found, values=values, error=explain(t, refusal)
                )
            return f"/console/meetings/{found.id}?done=corrected"

        return await self._changing(request, work)

    # -- minutes ---------------------------------------------------------------------------

    async def minutes(self, request: Request) -> Response:
        """Shows a meeting's minutes; its branch's officers may write or replace them."""
        done = request.query_params.get("done") == "1"

        def work(
            services: Services, principal: Principal, t: Translator, found: MeetingView
        ) -> Response:
            return self._minutes_page(request, services, principal, t, found, done=done)

        return await self._reading(request, work)

    def _minutes_page(
        self,
        request: Request,
        services: Services,
        principal: Principal,
        t: Translator,
        meeting: MeetingView,
        *,
        values: Mapping[str, str] | None = None,
        error: str = "",
        done: bool = False,
    ) -> Response:
        """Renders a meeting's minutes and, for its officers, the form to write them."""
        stored = services.minutes_of([meeting.id]).get(meeting.id)
        if values is None:
            values = {
                "topic": stored.topic if stored else meeting.title,
                "host": stored.host if stored else "",
                "recorder": stored.recorder if stored else "",
                "content": stored.content if stored else "",
                "resolutions": stored.resolutions if stored else "",
            }
        return self.pages.render(
            request,
            "meeting_minutes.html",
            400 if error else 200,
            principal=principal,
            meeting=self._heading(t, meeting),
            meeting_id=meeting.id,
            minutes=stored,
            values=values,
            error=error,
            done=done,
            may_write=principal.leads(meeting.org.id),
        )

    async def save_minutes(self, request: Request) -> Response:
        """Stores a held meeting's minutes through the chat's use case (audited)."""

        def work(
            services: Services,
            principal: Principal,
            t: Translator,
            found: MeetingView,
            fields: dict[str, str],
        ) -> str | Response:
            values = kept(fields, MINUTES_FIELDS)
            try:
                services.record_minutes(
                    self._actor(services, principal), meeting_id=found.id, **values
                )
            except ServiceError as refusal:
                services.session.rollback()
                return self._minutes_page(
                    request, services, principal, t, found, values=values, error=explain(t, refusal)
                )
            return f"/console/meetings/{found.id}/minutes?done=1"

        return await self._changing(request, work)

    async def minutes_file(self, request: Request) -> Response:
        """Downloads a meeting's minutes as a Word document, for anyone who may read them."""

        def work(
            services: Services, principal: Principal, t: Translator, found: MeetingView
        ) -> Response:
            try:
                document = services.meeting_minutes_document(found.id, t)
            except ServiceError:
                return self.pages.refuse(request, 404, principal)
            return Response(
                document.content,
                media_type=document.mime_type,
                headers={
                    **PAGE_HEADERS,
                    "Content-Disposition": content_disposition(document.filename),
                },
            )

        return await self._reading(request, work)
