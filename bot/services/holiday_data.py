"""China's holiday data against the stored calendar: re-dating org-life days, warning when it runs out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy, org_life_day
from bot.core.domain import MeetingKind, MeetingStatus, MemberStatus
from bot.services.audit_trail import record_change
from bot.services.obligations.rules import is_quiet
from bot.texts.reminders import render_orglife_moved
from bot.texts.translation import translator
from storage.models import ChatAccount, Meeting, Member, Organization
from storage.queries import insert_ignore_rows
from storage.reminders import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# The outbox rule of the one-off notice that an org-life day moved (not planned by the rules).
ORGLIFE_MOVED = "orglife_moved"
# The stretch ahead the holiday data should cover: three months, as the reminders look ahead.
COVERAGE_DAYS = 92
# A secretary's own move wins over the holiday rule.
SECRETARY_MOVE = "moved_by_secretary"


@dataclass(frozen=True, slots=True)
class Redated:
    """An org-life day moved to follow the holiday data."""

    meeting_id: int
    org_id: int
    period: str
    old_day: date
    new_day: date
    notified: int


def missing_holiday_years(holidays: HolidayCalendar, today: date) -> list[int]:
    """Lists the years of the next three months whose official holidays are not known."""
    return holidays.unknown_years(today, today + timedelta(days=COVERAGE_DAYS))


def redate_org_life_days(
    session: Session,
    *,
    holidays: HolidayCalendar,
    now: datetime,
    default_locale: str = "zh_CN",
    quiet_start: time = time(22, 0),
    quiet_end: time = time(7, 30),
) -> list[Redated]:
    """Moves stored org-life days still ahead to where the holiday data now puts them.

    Days a secretary moved, held, cancelled or already begun stay. Members whose day moved are
    told through the outbox (after quiet hours); each move is audited.
    """
    rows = session.exec(
        select(Meeting, Organization)
        .join(Organization, col(Organization.id) == Meeting.organization_id)
        .where(
            Meeting.kind == MeetingKind.ORG_LIFE,
            Meeting.status == MeetingStatus.PLANNED,
            Meeting.held_on >= now.date(),
        )
        .order_by(col(Meeting.held_on), col(Meeting.id))
    ).all()
    moved: list[Redated] = []
    for meeting, org in rows:
        if meeting.starts_at <= now or meeting.move_reason == SECRETARY_MOVE:
            continue
        year, month = (int(part) for part in meeting.period.split("-"))
        try:
            rule = org_life_day(
                year,
                month,
                holidays=holidays,
                ordinal=org.orglife_ordinal,
                weekday=org.orglife_weekday,
                policy=_policy(org.holiday_policy),
            )
        except ValueError:
            continue
        reason = rule.reason.value if rule.reason else None
        holiday = rule.holiday.value if rule.holiday else None
        moved_from = rule.original if rule.moved else None
        if (meeting.held_on, meeting.move_reason, meeting.holiday, meeting.moved_from) == (
            rule.date,
            reason,
            holiday,
            moved_from,
        ):
            continue
        old_day = meeting.held_on
        if rule.date != old_day and rule.date <= now.date():
            continue
        clock = meeting.starts_at.astimezone(now.tzinfo).time()
        meeting.held_on = rule.date
        meeting.starts_at = datetime.combine(rule.date, clock, tzinfo=now.tzinfo)
        meeting.move_reason, meeting.holiday, meeting.moved_from = reason, holiday, moved_from
        session.add(meeting)
        if rule.date == old_day:
            # The note changed (e.g. the year's holidays became known), not the day.
            continue
        assert meeting.id is not None and org.id is not None
        record_change(
            session,
            now=now,
            actor_id=None,
            action="meeting.redate",
            subject=f"meeting:{meeting.id}",
            # "from" is a keyword, so the details are spelled as a mapping.
            **{"from": old_day.isoformat(), "to": rule.date.isoformat(), "holiday": holiday},
        )
        notified = _tell_members(
            session,
            meeting=meeting,
            org=org,
            old_day=old_day,
            now=now,
            default_locale=default_locale,
            send_at=_after_quiet(now, quiet_start, quiet_end),
        )
        moved.append(Redated(meeting.id, org.id, meeting.period, old_day, rule.date, notified))
        log.info("org-life day %s moved for holiday data (%d members told)", meeting.id, notified)
    session.flush()
    return moved


def _tell_members(
    session: Session,
    *,
    meeting: Meeting,
    org: Organization,
    old_day: date,
    now: datetime,
    default_locale: str,
    send_at: datetime,
) -> int:
    """Queues the notice of a moved day for the organization's members who can be reached."""
    reachable = select(ChatAccount.member_id)
    members = session.exec(
        select(Member).where(
            Member.organization_id == org.id,
            Member.status != MemberStatus.DEPARTED,
            col(Member.id).in_(reachable),
        )
    ).all()
    rows = []
    for member in members:
        t = translator(member.locale or default_locale)
        text = render_orglife_moved(
            t,
            org=org.name,
            old_day=old_day,
            new_day=meeting.held_on,
            starts_at=meeting.starts_at.astimezone(now.tzinfo),
            holiday=meeting.holiday,
        )
        subject = f"org:{org.id}"
        period = f"{meeting.period}-{meeting.held_on.isoformat()}"
        rows.append(
            {
                "key": f"{ORGLIFE_MOVED}:{subject}:{period}:m{member.id}",
                "rule": ORGLIFE_MOVED,
                "subject": subject,
                "period": period,
                "member_id": member.id,
                "urgent": False,
                "text": text,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": send_at,
                "last_error": "",
                "created_at": now,
            }
        )
    if not rows:
        return 0
    return len(
        insert_ignore_rows(session, OutboxMessage, rows=rows, conflict=("key",), returning="id")
    )


def _after_quiet(now: datetime, start: time, end: time) -> datetime:
    """Returns `now`, or the end of the quiet hours when they hold at `now`."""
    if not is_quiet(now.time(), start, end):
        return now
    day = now.date() if now.time() < end else now.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=now.tzinfo)


def _policy(text: str) -> HolidayPolicy:
    """Reads an organization's holiday policy, keeping the day when it is unknown."""
    try:
        return HolidayPolicy(text)
    except ValueError:
        return HolidayPolicy.KEEP
