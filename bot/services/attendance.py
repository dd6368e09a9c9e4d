"""Attendance: check-in on the day, leave ahead of it, and the roll call."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.core.domain import AttendanceStatus, MeetingStatus
from bot.core.inbound import Channel
from bot.core.names import clean_line
from bot.core.records import MeetingView, RollCall
from bot.services.arrival import DayMeeting, WrongCodes
from bot.services.errors import ServiceError
from storage.models import Attendance, CheckinFailure, Meeting, Member
from storage.queries import insert_ignore, run

MAX_WRONG_CODES = 5
LOCKOUT = timedelta(minutes=15)


# Built once: every check-in with a code reads the member's wrong-code count first.
FAILURE_LOOKUP = sa_select(col(CheckinFailure.count), col(CheckinFailure.last_at)).where(
    col(CheckinFailure.meeting_id) == bindparam("meeting_id"),
    col(CheckinFailure.member_id) == bindparam("member_id"),
)


# Built once, for every check-in that finds a row already there.
PRESENT_AFTER_ALL = (
    update(Attendance)
    .where(
        col(Attendance.meeting_id) == bindparam("meeting"),
        col(Attendance.member_id) == bindparam("member"),
        col(Attendance.status) != AttendanceStatus.PRESENT,
    )
    .values(
        status=AttendanceStatus.PRESENT,
        at=bindparam("now"),
        channel=bindparam("via"),
        late=bindparam("late"),
    )
    .execution_options(synchronize_session=False)
)
SIGN_IN_LOOKUP = sa_select(col(Attendance.at), col(Attendance.status), col(Attendance.late)).where(
    col(Attendance.meeting_id) == bindparam("meeting"),
    col(Attendance.member_id) == bindparam("member"),
)


@dataclass(frozen=True, slots=True)
class SignIn:
    """A member's sign-in as stored: when, with what status, and whether this call made it."""

    at: datetime
    status: AttendanceStatus
    created: bool
    late: bool = False


class Scheduled(Protocol):
    """A meeting as the check-in window sees it: a stored row or one read for today."""

    @property
    def starts_at(self) -> datetime:
        """When the meeting starts."""

    @property
    def checkin_open(self) -> bool:
        """Whether the secretary opened check-in early."""


@dataclass(frozen=True, slots=True)
class RollEntry:
    """One expected member's answer to a meeting, as the desk lists it (None: no answer yet)."""

    member_id: int
    name: str
    status: AttendanceStatus | None
    late: bool
    at: datetime | None
    reason: str
    # Recorded at the desk rather than signed in from a chat.
    by_desk: bool


@dataclass(frozen=True, slots=True)
class RollSheet:
    """A meeting's roll call as chat shows it, and each expected member's answer by id."""

    meeting: MeetingView
    roll_call: RollCall
    entries: list[RollEntry]


@dataclass(frozen=True, slots=True)
class Correction:
    """A member's answer before and after a secretary's correction."""

    before: AttendanceStatus | None
    before_late: bool
    after: AttendanceStatus
    late: bool


@dataclass(frozen=True, slots=True)
class CheckinWindow:
    """When check-in is open around a meeting's start, and what happens after it closes."""

    opens_before: timedelta = timedelta(minutes=30)
    on_time: timedelta = timedelta(minutes=15)
    refuse_late: bool = False

    def opens(self, meeting: Scheduled) -> datetime:
        """Returns when members may start signing in (unless the secretary opened it earlier)."""
        return meeting.starts_at - self.opens_before

    def closes(self, meeting: Scheduled) -> datetime:
        """Returns the end of the on-time window."""
        return meeting.starts_at + self.on_time

    def is_open(self, meeting: Scheduled, now: datetime) -> bool:
        """Tells whether a check-in at `now` would be taken (on time or late)."""
        if now < self.opens(meeting) and not meeting.checkin_open:
            return False
        return not (self.refuse_late and now > self.closes(meeting))


class AttendanceBook:
    """Records who came to which meeting; one row per member per meeting, kept by the database."""

    def __init__(
        self, session: Session, now: datetime, tz: ZoneInfo, window: CheckinWindow | None = None
    ) -> None:
        self.session = session
        self.now = now
        self.tz = tz
        self.window = window or CheckinWindow()

    def check_in(
        self, *, meeting: DayMeeting | Meeting, member_id: int, code: str | None, channel: Channel
    ) -> SignIn:
        """Signs a member in; tells when, and whether this call created the sign-in."""
        if isinstance(meeting, Meeting):
            status, required, expected = meeting.status, meeting.code_required, meeting.checkin_code
        else:
            status, required, expected = (
                meeting.view.status,
                meeting.view.code_required,
                meeting.code,
            )
        if status is MeetingStatus.CANCELLED:
            raise ServiceError("meeting_cancelled")
        window = self.window
        if self.now < window.opens(meeting) and not meeting.checkin_open:
            raise ServiceError("checkin_not_open", at=window.opens(meeting).astimezone(self.tz))
        late = self.now > window.closes(meeting)
        if late and window.refuse_late:
            raise ServiceError("checkin_closed", at=window.closes(meeting).astimezone(self.tz))
        if required:
            if not code:
                raise ServiceError("code_needed")
            self._refuse_if_guessing(meeting, member_id)
            if not hmac.compare_digest(code.encode(), expected.encode()):
                self._count_failure(meeting, member_id)
                # The failure count must survive the refusal, or guessing would cost nothing.
                raise ServiceError("code_wrong", keep_writes=True)
        values = {
            "meeting_id": meeting.id,
            "member_id": member_id,
            "status": AttendanceStatus.PRESENT.value,
            "at": self.now,
            "channel": channel.value,
            "reason": "",
            "late": late,
        }
        signed = SignIn(at=self.now, status=AttendanceStatus.PRESENT, created=True, late=late)
        if insert_ignore(
            self.session, Attendance, values=values, conflict=("meeting_id", "member_id")
        ):
            return signed
        # Someone on leave (or marked absent) who turns up after all is present.
        keys = {"meeting": meeting.id, "member": member_id}
        upgraded = run(
            self.session, PRESENT_AFTER_ALL, {**keys, "now": self.now, "via": channel, "late": late}
        )
        if upgraded.rowcount:
            return signed
        stored = run(self.session, SIGN_IN_LOOKUP, keys).one()
        return SignIn(
            at=stored.at,
            status=AttendanceStatus(stored.status),
            created=False,
            late=bool(stored.late),
        )

    def _refuse_if_guessing(self, meeting: DayMeeting | Meeting, member_id: int) -> None:
        """Refuses a member who sent too many wrong codes for this meeting lately."""
        read = isinstance(meeting, DayMeeting) and meeting.failures_read
        wrong = meeting.wrong if isinstance(meeting, DayMeeting) else None
        if not read:
            params = {"meeting_id": meeting.id, "member_id": member_id}
            failure = run(self.session, FAILURE_LOOKUP, params).first()
            if failure is not None:
                wrong = WrongCodes(failure._mapping["count"], failure._mapping["last_at"])
        if wrong is None or wrong.count < MAX_WRONG_CODES:
            return
        wait = wrong.last_at + LOCKOUT - self.now
        if wait > timedelta(0):
            raise ServiceError("too_many_codes", minutes=max(1, round(wait.total_seconds() / 60)))

    def _count_failure(self, meeting: DayMeeting | Meeting, member_id: int) -> None:
        """Adds one wrong code to the member's count for this meeting."""
        values = {"meeting_id": meeting.id, "member_id": member_id, "count": 1, "last_at": self.now}
        if (
            insert_ignore(
                self.session, CheckinFailure, values=values, conflict=("meeting_id", "member_id")
            )
            is None
        ):
            self.session.execute(
                update(CheckinFailure)
                .where(
                    col(CheckinFailure.meeting_id) == meeting.id,
                    col(CheckinFailure.member_id) == member_id,
                )
                .values(count=col(CheckinFailure.count) + 1, last_at=self.now)
            )

    def ask_leave(self, *, meeting: Meeting, member_id: int, reason: str) -> Attendance:
        """Records leave for a meeting with its reason (updating an earlier reason)."""
        assert meeting.id is not None
        reason = clean_line(reason, limit=500)
        new_id = insert_ignore(
            self.session,
            Attendance,
            values={
                "meeting_id": meeting.id,
                "member_id": member_id,
                "status": AttendanceStatus.LEAVE.value,
                "at": self.now,
                "channel": None,
                "reason": reason,
            },
            conflict=("meeting_id", "member_id"),
        )
        row = self.session.exec(
            select(Attendance).where(
                Attendance.meeting_id == meeting.id, Attendance.member_id == member_id
            )
        ).one()
        if new_id is None:
            if row.status is AttendanceStatus.PRESENT:
                raise ServiceError("already_present", at=row.at.astimezone(self.tz))
            row.status = AttendanceStatus.LEAVE
            row.reason = reason
            row.at = self.now
            self.session.add(row)
        return row

    def cancel_leave(self, *, meeting: Meeting, member_id: int) -> bool:
        """Withdraws a member's leave from a meeting (销假); False when there was none."""
        gone = self.session.execute(
            delete(Attendance)
            .where(
                col(Attendance.meeting_id) == meeting.id,
                col(Attendance.member_id) == member_id,
                col(Attendance.status) == AttendanceStatus.LEAVE,
            )
            .returning(col(Attendance.id))
        ).all()
        return bool(gone)

    def leaves(self, *, member_id: int, meeting_ids: list[int]) -> set[int]:
        """Returns which of the meetings the member is on leave for."""
        if not meeting_ids:
            return set()
        return set(
            self.session.exec(
                select(Attendance.meeting_id).where(
                    Attendance.member_id == member_id,
                    Attendance.status == AttendanceStatus.LEAVE,
                    col(Attendance.meeting_id).in_(meeting_ids),
                )
            ).all()
        )

    def roll_call(self, meeting: Meeting, view: MeetingView, members: list[Member]) -> RollCall:
        """Returns who signed in (and who came late), who is on leave and who is missing."""
        rows = {
            row.member_id: row
            for row in self.session.exec(
                select(Attendance).where(Attendance.meeting_id == meeting.id)
            ).all()
        }
        present: list[tuple[str, datetime]] = []
        late: list[str] = []
        on_leave: list[tuple[str, str]] = []
        missing: list[str] = []
        for member in members:
            row = rows.get(member.id or 0)
            if row is None or row.status is AttendanceStatus.ABSENT:
                missing.append(member.name)
            elif row.status is AttendanceStatus.PRESENT:
                present.append((member.name, row.at))
                if row.late:
                    late.append(member.name)
            else:
                on_leave.append((member.name, row.reason))
        present.sort(key=lambda item: item[1])
        return RollCall(
            meeting=view, present=present, on_leave=on_leave, missing=missing, late=late
        )

    def sheet(self, meeting: Meeting, members: list[Member]) -> list[RollEntry]:
        """Lists every expected member with their answer, in the order given."""
        rows = {
            row.member_id: row
            for row in self.session.exec(
                select(Attendance).where(Attendance.meeting_id == meeting.id)
            ).all()
        }
        entries: list[RollEntry] = []
        for member in members:
            assert member.id is not None
            row = rows.get(member.id)
            entries.append(
                RollEntry(
                    member_id=member.id,
                    name=member.name,
                    status=row.status if row else None,
                    late=bool(row and row.late),
                    at=row.at.astimezone(self.tz) if row else None,
                    reason=row.reason if row else "",
                    by_desk=row is not None and row.channel is None,
                )
            )
        return entries

    def correct(
        self,
        *,
        meeting: Meeting,
        member_id: int,
        status: AttendanceStatus,
        late: bool,
        reason: str,
    ) -> Correction:
        """Sets a member's answer as the secretary records it; one row per member, by constraint.

        A member recorded present is put at the meeting's start, or at the end of the on-time
        window when late: the desk does not know the minute they came in.
        """
        assert meeting.id is not None
        late = late and status is AttendanceStatus.PRESENT
        if status is not AttendanceStatus.PRESENT:
            at = self.now
        else:
            at = self.window.closes(meeting) if late else meeting.starts_at
        before = run(
            self.session, SIGN_IN_LOOKUP, {"meeting": meeting.id, "member": member_id}
        ).first()
        answer = {
            "status": status,
            "at": at,
            "channel": None,
            "reason": "" if status is AttendanceStatus.PRESENT else clean_line(reason, limit=500),
            "late": late,
        }
        keys = {"meeting_id": meeting.id, "member_id": member_id}
        # Not an upsert: SQLite's ON CONFLICT DO UPDATE trips the fact-change trigger's insert.
        if (
            insert_ignore(
                self.session,
                Attendance,
                values={**keys, **answer, "status": status.value},
                conflict=("meeting_id", "member_id"),
            )
            is None
        ):
            self.session.execute(
                update(Attendance)
                .where(
                    col(Attendance.meeting_id) == meeting.id,
                    col(Attendance.member_id) == member_id,
                )
                .values(**answer)
                .execution_options(synchronize_session=False)
            )
        return Correction(
            before=AttendanceStatus(before.status) if before else None,
            before_late=bool(before.late) if before else False,
            after=status,
            late=late,
        )
