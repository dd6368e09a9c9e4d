"""Meetings: org-life days made from the calendar rule, check-in codes, time and venue."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy, OrgLifeDay, org_life_day, org_life_day_for
from bot.core.domain import MeetingKind, MeetingStatus
from bot.core.names import clean_line
from bot.core.records import MeetingView
from bot.services.errors import ServiceError
from bot.services.organizations import org_view
from storage.models import Meeting, Organization
from storage.queries import insert_ignore


def new_checkin_code() -> str:
    """Returns a random six-digit check-in code."""
    return f"{secrets.randbelow(1_000_000):06d}"


def parse_hhmm(text: str) -> time:
    """Parses `HH:MM` (also with a full-width colon); raises ValueError otherwise."""
    hours, _, minutes = text.strip().replace("：", ":").partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(text)
    return time(int(hours), int(minutes))


# Built once: check-in asks for the day's meetings on every message.
MEETINGS_ON_DAY = (
    select(Meeting)
    .where(
        col(Meeting.organization_id) == bindparam("org_id"),
        col(Meeting.held_on) == bindparam("day"),
        col(Meeting.status) != MeetingStatus.CANCELLED,
    )
    .order_by(col(Meeting.starts_at))
)


class Meetings:
    """Finds and creates meetings; org-life days exist for every branch-month on demand."""

    def __init__(self, session: Session, *, holidays: HolidayCalendar, tz: ZoneInfo) -> None:
        self.session = session
        self.holidays = holidays
        self.tz = tz

    def view(self, meeting: Meeting, org: Organization | None = None) -> MeetingView:
        """Builds the handler-facing view of a meeting."""
        assert meeting.id is not None
        org = org or self.session.get_one(Organization, meeting.organization_id)
        return MeetingView(
            id=meeting.id,
            org=org_view(org),
            kind=meeting.kind,
            held_on=meeting.held_on,
            starts_at=meeting.starts_at.astimezone(self.tz),
            venue=meeting.venue,
            title=meeting.title,
            status=meeting.status,
            code_required=meeting.code_required,
            checkin_open=meeting.checkin_open,
            moved_from=meeting.moved_from,
            move_reason=meeting.move_reason,
            holiday=meeting.holiday,
        )

    def rule_day(self, org: Organization, year: int, month: int) -> OrgLifeDay:
        """Returns an organization's org-life day of a month under its own rule."""
        return org_life_day(
            year,
            month,
            holidays=self.holidays,
            ordinal=org.orglife_ordinal,
            weekday=org.orglife_weekday,
            policy=HolidayPolicy(org.holiday_policy),
        )

    def ensure_org_life(self, org: Organization, year: int, month: int) -> Meeting:
        """Returns the org-life meeting of a month, creating it from the rule if missing."""
        assert org.id is not None
        period = f"{year:04d}-{month:02d}"
        existing = self._org_life(org.id, period)
        if existing is not None:
            return existing
        day = self.rule_day(org, year, month)
        starts = datetime.combine(day.date, parse_hhmm(org.orglife_time), tzinfo=self.tz)
        # Two processes may create the same month at once: the unique key settles it.
        insert_ignore(
            self.session,
            Meeting,
            values={
                "organization_id": org.id,
                "kind": MeetingKind.ORG_LIFE.value,
                "period": period,
                "held_on": day.date,
                "starts_at": starts,
                "venue": org.orglife_venue,
                "title": "",
                "moved_from": day.original if day.moved else None,
                "move_reason": day.reason.value if day.reason else None,
                "holiday": day.holiday.value if day.holiday else None,
                "checkin_code": new_checkin_code(),
                "checkin_open": False,
                "code_required": org.checkin_code_required,
                "status": MeetingStatus.PLANNED.value,
            },
            conflict=("organization_id", "kind", "period"),
        )
        created = self._org_life(org.id, period)
        assert created is not None
        return created

    def _org_life(self, org_id: int, period: str) -> Meeting | None:
        """Returns a stored org-life meeting by period."""
        return self.session.exec(
            select(Meeting).where(
                Meeting.organization_id == org_id,
                Meeting.kind == MeetingKind.ORG_LIFE,
                Meeting.period == period,
            )
        ).first()

    def on_day(self, org_id: int, day: date) -> list[Meeting]:
        """Returns the organization's meetings held on `day`, creating its org-life day if due."""
        org = self.session.get_one(Organization, org_id)
        meetings = list(
            self.session.exec(MEETINGS_ON_DAY, params={"org_id": org_id, "day": day}).all()
        )
        due = org_life_day_for(
            day,
            holidays=self.holidays,
            ordinal=org.orglife_ordinal,
            weekday=org.orglife_weekday,
            policy=HolidayPolicy(org.holiday_policy),
        )
        if due is not None and not any(m.kind is MeetingKind.ORG_LIFE for m in meetings):
            meeting = self.ensure_org_life(org, due.year, due.month)
            if meeting.held_on == day and meeting.status is not MeetingStatus.CANCELLED:
                meetings.insert(0, meeting)
        return meetings

    def upcoming(self, org_id: int, today: date, *, months: int = 3) -> list[MeetingView]:
        """Lists the organization's meetings from today on, making the next org-life days exist."""
        org = self.session.get_one(Organization, org_id)
        year, month = today.year, today.month
        for _ in range(months):
            self.ensure_org_life(org, year, month)
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        rows = self.session.exec(
            select(Meeting)
            .where(
                Meeting.organization_id == org_id,
                Meeting.held_on >= today,
                Meeting.status != MeetingStatus.CANCELLED,
            )
            .order_by(col(Meeting.held_on), col(Meeting.starts_at))
            .limit(6)
        ).all()
        return [self.view(row, org) for row in rows]

    def latest(self, org_id: int, today: date) -> Meeting | None:
        """Returns the organization's meeting today (creating the org-life day) or the last one."""
        todays = self.on_day(org_id, today)
        if todays:
            return todays[0]
        return self.session.exec(
            select(Meeting)
            .where(
                Meeting.organization_id == org_id,
                Meeting.held_on < today,
                Meeting.status != MeetingStatus.CANCELLED,
            )
            .order_by(col(Meeting.held_on).desc(), col(Meeting.starts_at).desc())
        ).first()

    def next_meeting(self, org_id: int, now: datetime) -> Meeting | None:
        """Returns the organization's next meeting that has not started yet."""
        ahead = [m for m in self.upcoming(org_id, now.date(), months=2) if m.starts_at > now]
        return self.session.get(Meeting, ahead[0].id) if ahead else None

    def open_checkin(self, meeting: Meeting, *, code_required: bool) -> Meeting:
        """Opens check-in for a meeting, with or without its code."""
        meeting.checkin_open = True
        meeting.code_required = code_required
        self.session.add(meeting)
        return meeting

    def reschedule(
        self, meeting: Meeting, *, at: time | None, venue: str | None, day: date | None = None
    ) -> Meeting:
        """Changes a meeting's day, time or venue."""
        if meeting.status is MeetingStatus.CANCELLED:
            raise ServiceError("meeting_cancelled")
        local = meeting.starts_at.astimezone(self.tz)
        new_day = day or meeting.held_on
        new_time = at or local.time().replace(tzinfo=None)
        if day is not None and day != meeting.held_on and meeting.moved_from is None:
            meeting.moved_from = meeting.held_on
            meeting.move_reason = "moved_by_secretary"
        meeting.held_on = new_day
        meeting.starts_at = datetime.combine(new_day, new_time, tzinfo=self.tz)
        if venue is not None:
            meeting.venue = clean_line(venue, limit=200)
        self.session.add(meeting)
        return meeting

    def within(self, org_id: int, start: date, end: date) -> list[Meeting]:
        """Lists an organization's meetings held between two dates (inclusive)."""
        return list(
            self.session.exec(
                select(Meeting)
                .where(
                    Meeting.organization_id == org_id,
                    Meeting.held_on >= start,
                    Meeting.held_on <= end,
                )
                .order_by(col(Meeting.held_on))
            ).all()
        )
