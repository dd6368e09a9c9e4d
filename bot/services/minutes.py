"""Minutes (会议记录) of any meeting: topic, host, recorder, content, resolutions, attendance."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from bot.core.domain import MeetingStatus
from bot.core.records import MeetingView, RollCall
from bot.services.attendance import AttendanceBook
from bot.services.errors import ServiceError
from bot.services.meetings import Meetings
from bot.services.organizations import OrgTitle, org_title
from storage.models import Meeting, Minutes
from storage.queries import upsert

MAX_TOPIC, MAX_NAME, MAX_TEXT = 200, 100, 5000
# The meetings a secretary is offered to write minutes for: the last two months and today.
RECENT_DAYS = 60


@dataclass(frozen=True, slots=True)
class MinutesView:
    """A meeting's minutes as stored."""

    meeting_id: int
    topic: str
    host: str
    recorder: str
    content: str
    resolutions: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class MinutesRecord:
    """Everything the minutes document shows: the meeting, its unit, the roll call, the minutes."""

    meeting: MeetingView
    unit: OrgTitle
    roll_call: RollCall
    minutes: MinutesView


def minutes_view(row: Minutes) -> MinutesView:
    """Builds the view of a stored row."""
    return MinutesView(
        meeting_id=row.meeting_id,
        topic=row.topic,
        host=row.host,
        recorder=row.recorder,
        content=row.content,
        resolutions=row.resolutions,
        recorded_at=row.recorded_at,
    )


def minutes_of(session: Session, meeting_ids: Collection[int]) -> dict[int, MinutesView]:
    """Reads the minutes of some meetings, by meeting id (meetings without minutes are absent)."""
    if not meeting_ids:
        return {}
    rows = session.exec(select(Minutes).where(col(Minutes.meeting_id).in_(list(meeting_ids))))
    return {row.meeting_id: minutes_view(row) for row in rows}


def save_minutes(
    session: Session,
    *,
    meeting_id: int,
    topic: str,
    host: str,
    recorder: str,
    content: str,
    resolutions: str,
    by: int | None,
    now: datetime,
    today: date,
) -> MinutesView:
    """Stores a held meeting's minutes, replacing earlier ones (one set per meeting, by constraint)."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise ServiceError("meeting_unknown")
    if meeting.held_on > today:
        raise ServiceError("meeting_ahead")
    values = {
        "meeting_id": meeting_id,
        "topic": (topic.strip() or meeting.title)[:MAX_TOPIC],
        "host": host.strip()[:MAX_NAME],
        "recorder": recorder.strip()[:MAX_NAME],
        "content": content.strip()[:MAX_TEXT],
        "resolutions": resolutions.strip()[:MAX_TEXT],
        "recorded_by": by,
        "recorded_at": now,
    }
    if not values["content"]:
        raise ServiceError("minutes_empty")
    upsert(session, Minutes, values=values, conflict=("meeting_id",))
    return minutes_of(session, [meeting_id])[meeting_id]


def meetings_for_minutes(session: Session, *, org_id: int, today: date) -> list[Meeting]:
    """Lists an organization's meetings of the last two months up to today, latest first."""
    rows = session.exec(
        select(Meeting)
        .where(
            Meeting.organization_id == org_id,
            Meeting.held_on >= today - timedelta(days=RECENT_DAYS),
            Meeting.held_on <= today,
            Meeting.status != MeetingStatus.CANCELLED,
        )
        .order_by(col(Meeting.held_on).desc(), col(Meeting.starts_at).desc())
    ).all()
    return list(rows)


def minutes_record(
    session: Session,
    *,
    meeting_id: int,
    meetings: Meetings,
    attendance: AttendanceBook,
) -> MinutesRecord:
    """Gathers a meeting, its unit, its roll call and its minutes; refuses without minutes."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise ServiceError("meeting_unknown")
    found = minutes_of(session, [meeting_id]).get(meeting_id)
    if found is None:
        raise ServiceError("minutes_missing")
    view = meetings.view(meeting)
    return MinutesRecord(
        meeting=view,
        unit=org_title(session, meeting.organization_id),
        roll_call=attendance.roll_call(meeting, view, meetings.expected(meeting)),
        minutes=found,
    )
