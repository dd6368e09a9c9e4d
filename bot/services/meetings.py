"""Meetings: org-life days made from the calendar rule, check-in codes, time and venue."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import (
    HolidayPolicy,
    OrgLifeDay,
    org_life_day,
    org_life_day_for,
    org_life_days,
)
from bot.core.domain import LEADING_ROLES, MeetingKind, MeetingStatus, MemberStatus
from bot.core.names import clean_line
from bot.core.records import MeetingView, OrgView
from bot.services.errors import ServiceError
from bot.services.organizations import org_view
from storage.models import AllianceUnit, Meeting, Member, Organization, PairingOrg, Role
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


@dataclass(frozen=True, slots=True)
class OrgLifeYear:
    """An organization's org-life rule and the days it gives in one year."""

    org: OrgView
    year: int
    ordinal: int
    weekday: int
    time: str
    policy: HolidayPolicy
    days: list[OrgLifeDay]


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """A calendar's day: a stored meeting, or an org-life day the rule gives and none is stored for."""

    day: date
    meeting: MeetingView | None = None
    rule_day: OrgLifeDay | None = None


@dataclass(frozen=True, slots=True)
class MeetingCalendar:
    """A year of an organization's meetings, its groups' included, and its org-life rule."""

    org: OrgView
    year: int
    # None when the organization's org-life rule is not valid.
    rule: OrgLifeYear | None
    days: list[CalendarDay]


# A meeting the organization bound as `org_id` takes part in: its own, or one of an alliance
# or pairing it belongs to.
TAKES_PART = or_(
    col(Meeting.organization_id) == bindparam("org_id"),
    col(Meeting.alliance_id).in_(
        select(AllianceUnit.alliance_id).where(
            col(AllianceUnit.organization_id) == bindparam("org_id")
        )
    ),
    col(Meeting.pairing_id).in_(
        select(PairingOrg.pairing_id).where(col(PairingOrg.organization_id) == bindparam("org_id"))
    ),
)

# Built once: check-in asks for the day's meetings on every message.
MEETINGS_ON_DAY = (
    select(Meeting)
    .where(
        TAKES_PART,
        col(Meeting.held_on) == bindparam("day"),
        col(Meeting.status) != MeetingStatus.CANCELLED,
    )
    .order_by(col(Meeting.starts_at), col(Meeting.id))
)
UPCOMING = (
    select(Meeting)
    .where(
        TAKES_PART,
        col(Meeting.held_on) >= bindparam("day"),
        col(Meeting.status) != MeetingStatus.CANCELLED,
    )
    .order_by(col(Meeting.held_on), col(Meeting.starts_at), col(Meeting.id))
    .limit(bindparam("limit"))
)
# Cancelled meetings included: a calendar shows them struck out.
TAKING_PART_WITHIN = (
    select(Meeting)
    .where(
        TAKES_PART,
        col(Meeting.held_on) >= bindparam("first"),
        col(Meeting.held_on) <= bindparam("last"),
    )
    .order_by(col(Meeting.held_on), col(Meeting.starts_at), col(Meeting.id))
)


def slot_key(starts: datetime) -> str:
    """Returns the unique key of a scheduled meeting: its local start, `2026-12-08T14:30`."""
    return starts.strftime("%Y-%m-%dT%H:%M")


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

    def org_life_year(self, org_id: int, year: int) -> OrgLifeYear:
        """Lists an organization's org-life days of a year; ValueError when its rule is not valid."""
        org = self.session.get_one(Organization, org_id)
        policy = HolidayPolicy(org.holiday_policy)
        days = org_life_days(
            year,
            holidays=self.holidays,
            ordinal=org.orglife_ordinal,
            weekday=org.orglife_weekday,
            policy=policy,
        )
        return OrgLifeYear(
            org_view(org),
            year,
            org.orglife_ordinal,
            org.orglife_weekday,
            org.orglife_time,
            policy,
            days,
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
        own_org_life = any(
            m.kind is MeetingKind.ORG_LIFE and m.organization_id == org_id for m in meetings
        )
        if due is not None and not own_org_life:
            meeting = self.ensure_org_life(org, due.year, due.month)
            if meeting.held_on == day and meeting.status is not MeetingStatus.CANCELLED:
                meetings.insert(0, meeting)
        return meetings

    def ensure_coming(self, org: Organization, today: date, *, months: int = 3) -> None:
        """Makes the org-life days of this month and the next ones exist, from the rule."""
        year, month = today.year, today.month
        for _ in range(months):
            self.ensure_org_life(org, year, month)
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)

    def upcoming(self, org_id: int, today: date, *, months: int = 3) -> list[MeetingView]:
        """Lists the organization's meetings from today on, making the next org-life days exist."""
        org = self.session.get_one(Organization, org_id)
        self.ensure_coming(org, today, months=months)
        rows = self.session.exec(UPCOMING, params={"org_id": org_id, "day": today, "limit": 6})
        return [self.view(row, org if row.organization_id == org_id else None) for row in rows]

    def latest(self, org_id: int, today: date, now: datetime | None = None) -> Meeting | None:
        """Returns the meeting the organization hosts today (the one begun last) or its last one."""
        hosted = [m for m in self.on_day(org_id, today) if m.organization_id == org_id]
        begun = [m for m in hosted if now is not None and m.starts_at <= now]
        if begun or hosted:
            return (begun or hosted)[-1 if begun else 0]
        return self.session.exec(
            select(Meeting)
            .where(
                Meeting.organization_id == org_id,
                Meeting.held_on < today,
                Meeting.status != MeetingStatus.CANCELLED,
            )
            .order_by(col(Meeting.held_on).desc(), col(Meeting.starts_at).desc())
        ).first()

    def next_meeting(self, org_id: int, now: datetime, *, hosted: bool = False) -> Meeting | None:
        """Returns the organization's next meeting not started yet (only its own when `hosted`)."""
        ahead = [m for m in self.upcoming(org_id, now.date(), months=3) if m.starts_at > now]
        if hosted:
            # Its own, even when the groups' meetings fill the first rows of the list.
            return self.session.exec(
                select(Meeting)
                .where(
                    Meeting.organization_id == org_id,
                    Meeting.starts_at > now,
                    Meeting.status != MeetingStatus.CANCELLED,
                )
                .order_by(col(Meeting.starts_at), col(Meeting.id))
            ).first()
        return self.session.get(Meeting, ahead[0].id) if ahead else None

    def calendar(self, org_id: int, year: int, today: date) -> MeetingCalendar:
        """Lists a year's meetings of an organization, and the org-life days still to be stored.

        Past months show what was stored; coming months without a stored org-life day show the
        day its rule gives, which becomes a meeting when it draws near (as 日程 makes it).
        """
        org = self.session.get_one(Organization, org_id)
        if year >= today.year:
            self.ensure_coming(org, today)
        try:
            rule: OrgLifeYear | None = self.org_life_year(org_id, year)
        except ValueError:
            rule = None
        rows = self.taking_part_within(org_id, date(year, 1, 1), date(year, 12, 31))
        stored = {
            row.period
            for row in rows
            if row.kind is MeetingKind.ORG_LIFE and row.organization_id == org_id
        }
        days = [
            CalendarDay(
                row.held_on, meeting=self.view(row, org if row.organization_id == org_id else None)
            )
            for row in rows
        ]
        for rule_day in rule.days if rule else []:
            if rule_day.date >= today and f"{year:04d}-{rule_day.month:02d}" not in stored:
                days.append(CalendarDay(rule_day.date, rule_day=rule_day))
        days.sort(key=lambda entry: (entry.day, entry.meeting is not None))
        return MeetingCalendar(org_view(org), year, rule, days)

    def taking_part_within(self, org_id: int, first: date, last: date) -> list[Meeting]:
        """Lists the meetings an organization takes part in between two dates, cancelled too."""
        params = {"org_id": org_id, "first": first, "last": last}
        return list(self.session.exec(TAKING_PART_WITHIN, params=params).all())

    def takes_part(self, meeting: Meeting, org_id: int) -> bool:
        """Tells whether an organization takes part in a meeting (hosts it or is in its group)."""
        return org_id in self.participant_orgs(meeting)

    def participant_orgs(self, meeting: Meeting) -> list[int]:
        """Lists the organizations taking part: the host, and its alliance's or pairing's units."""
        orgs = [meeting.organization_id]
        if meeting.alliance_id is not None:
            orgs += self.session.exec(
                select(AllianceUnit.organization_id)
                .where(AllianceUnit.alliance_id == meeting.alliance_id)
                .order_by(col(AllianceUnit.rotation_order))
            ).all()
        if meeting.pairing_id is not None:
            orgs += self.session.exec(
                select(PairingOrg.organization_id)
                .where(PairingOrg.pairing_id == meeting.pairing_id)
                .order_by(col(PairingOrg.id))
            ).all()
        return list(dict.fromkeys(orgs))

    def expected(self, meeting: Meeting) -> list[Member]:
        """Lists who is expected: the participants' current members; leaders at a joint meeting."""
        query = select(Member).where(
            col(Member.organization_id).in_(self.participant_orgs(meeting)),
            Member.status != MemberStatus.DEPARTED,
        )
        if meeting.kind is MeetingKind.JOINT_MEETING:
            # 001: the joint meeting is a meeting of the units' party leaders.
            leaders = select(Role.member_id).where(
                col(Role.role).in_(LEADING_ROLES),
                col(Role.organization_id) == Member.organization_id,
            )
            query = query.where(col(Member.id).in_(leaders))
        return list(self.session.exec(query.order_by(col(Member.name), col(Member.id))).all())

    def schedule(
        self,
        org: Organization,
        *,
        kind: MeetingKind,
        starts: datetime,
        venue: str,
        title: str = "",
        alliance_id: int | None = None,
        pairing_id: int | None = None,
    ) -> Meeting:
        """Puts a meeting on the calendar; the same kind at the same start is refused as a double."""
        assert org.id is not None
        if kind is MeetingKind.ORG_LIFE:
            return self._schedule_org_life(org, starts=starts, venue=venue)
        local = starts.astimezone(self.tz)
        period = slot_key(local)
        # The unique key settles a double send (or two secretaries at once).
        new_id = insert_ignore(
            self.session,
            Meeting,
            values={
                "organization_id": org.id,
                "kind": kind.value,
                "period": period,
                "held_on": local.date(),
                "starts_at": local,
                "venue": clean_line(venue, limit=200),
                "title": clean_line(title, limit=200),
                "alliance_id": alliance_id,
                "pairing_id": pairing_id,
                "checkin_code": new_checkin_code(),
                "checkin_open": False,
                "code_required": org.checkin_code_required,
                "status": MeetingStatus.PLANNED.value,
            },
            conflict=("organization_id", "kind", "period"),
        )
        if new_id is None:
            raise ServiceError("meeting_exists")
        return self.session.get_one(Meeting, new_id)

    def _schedule_org_life(self, org: Organization, *, starts: datetime, venue: str) -> Meeting:
        """Sets the month's org-life day (one a month) to the given day, time and venue."""
        local = starts.astimezone(self.tz)
        meeting = self.ensure_org_life(org, local.date().year, local.date().month)
        return self.reschedule(
            meeting,
            day=local.date(),
            at=local.time().replace(tzinfo=None),
            venue=venue or None,
        )

    def open_checkin(self, meeting: Meeting, *, code_required: bool) -> Meeting:
        """Opens check-in for a meeting, with or without its code."""
        meeting.checkin_open = True
        meeting.code_required = code_required
        self.session.add(meeting)
        return meeting

    def reschedule(
        self, meeting: Meeting, *, at: time | None, venue: str | None, day: date | None = None
    ) -> Meeting:
        """Changes a meeting's day, time or venue; a move onto a slot already taken is refused."""
        if meeting.status is MeetingStatus.CANCELLED:
            raise ServiceError("meeting_cancelled")
        local = meeting.starts_at.astimezone(self.tz)
        new_day = day or meeting.held_on
        new_time = at or local.time().replace(tzinfo=None)
        try:
            # The unique key refuses the slot if it is taken; the savepoint undoes only the move.
            with self.session.begin_nested():
                if day is not None and day != meeting.held_on:
                    if meeting.moved_from is None:
                        meeting.moved_from = meeting.held_on
                        meeting.move_reason = "moved_by_secretary"
                    elif day == meeting.moved_from:
                        # Back on its first day: no move is left to explain.
                        meeting.moved_from = None
                        meeting.move_reason = None
                        meeting.holiday = None
                meeting.held_on = new_day
                meeting.starts_at = datetime.combine(new_day, new_time, tzinfo=self.tz)
                if meeting.kind is not MeetingKind.ORG_LIFE:
                    # Other kinds are keyed by their start (org-life days by their month).
                    meeting.period = slot_key(meeting.starts_at)
                if venue is not None:
                    meeting.venue = clean_line(venue, limit=200)
                self.session.add(meeting)
                self.session.flush()
        except IntegrityError:
            raise ServiceError("meeting_exists") from None
        return meeting

    def retime_org_life(self, org_id: int, *, old: time, new: time, now: datetime) -> list[Meeting]:
        """Moves the organization's planned org-life days at the old time to the new one.

        Only days not begun (check-in not opened, and still ahead at the new time too) move;
        a day given a time of its own keeps it. Returns the days moved.
        """
        rows = self.session.exec(
            select(Meeting)
            .where(
                Meeting.organization_id == org_id,
                Meeting.kind == MeetingKind.ORG_LIFE,
                Meeting.status == MeetingStatus.PLANNED,
                col(Meeting.starts_at) > now,
                col(Meeting.checkin_open).is_(False),
            )
            .order_by(col(Meeting.starts_at), col(Meeting.id))
        ).all()
        moved = []
        for meeting in rows:
            if meeting.starts_at.astimezone(self.tz).time().replace(tzinfo=None) != old:
                continue
            starts = datetime.combine(meeting.held_on, new, tzinfo=self.tz)
            if starts <= now:
                # Earlier today than now: the day stays as its members were told.
                continue
            meeting.starts_at = starts
            self.session.add(meeting)
            moved.append(meeting)
        return moved

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
