"""The meeting desk's use cases: a year's calendar, moving one meeting, the roll sheet, corrections."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time

import pytest
from sqlmodel import col, select

from bot.config import Settings
from bot.core.domain import AttendanceStatus, MeetingKind
from bot.core.inbound import Channel
from bot.core.records import MeetingView, MemberView
from bot.services.errors import ServiceError
from bot.services.use_cases import Services
from bot.texts.translation import translator
from handlers.errors import explain
from storage.engine import Database
from storage.models import Attendance, AuditEntry, Meeting
from tests.factories import World
from tests.services.test_compliance import HOLIDAYS
from tests.services.test_stats import SH, at

# The first Tuesday of November 2026, half an hour after the default org-life time of 09:00.
NOW = at(2026, 11, 3, 9, 30)


@contextmanager
def use_cases(database: Database, settings: Settings, now: datetime = NOW) -> Iterator[Services]:
    """Opens the use cases over one unit of work."""
    with database.session() as session:
        yield Services(session, now=now, tz=SH, holidays=HOLIDAYS, settings=settings)


def lead(services: Services, world: World, who: str = "sec") -> MemberView:
    """Returns a member of the test world as the use cases see them."""
    return services.members.get(world.members[who])


def todays_meeting(services: Services, world: World) -> MeetingView:
    """Returns B1's organization-life meeting of today (made from the rule)."""
    [meeting] = services.meetings.on_day(world.orgs["B1"], NOW.date())
    return services.meetings.view(meeting)


def lecture(services: Services, world: World, day: date = date(2026, 12, 10)) -> MeetingView:
    """Schedules a party lecture of B1."""
    return services.schedule_meeting(
        lead(services, world), kind=MeetingKind.LECTURE, day=day, at=time(14, 30), venue="会议室"
    )


def audit_actions(database: Database) -> list[tuple[str, dict[str, object]]]:
    """Lists the audit log's actions with their details, oldest first."""
    with database.session() as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [(row.action, json.loads(row.detail)) for row in rows]


def test_the_calendar_lists_stored_meetings_group_meetings_and_the_rules_days_ahead(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        lecture(services, world)
        # November's theme day is B3's duty; B1 takes part in it.
        services.schedule_meeting(
            None,
            kind=MeetingKind.THEME_DAY,
            day=date(2026, 11, 20),
            at=time(9, 0),
            venue="",
            org_id=world.orgs["B3"],
        )
        this_year = services.meeting_calendar(world.orgs["B1"], 2026)
        next_year = services.meeting_calendar(world.orgs["B1"], 2027)
    kinds = [(entry.day, entry.meeting.kind) for entry in this_year.days if entry.meeting]
    assert kinds == [
        (date(2026, 11, 3), MeetingKind.ORG_LIFE),
        (date(2026, 11, 20), MeetingKind.THEME_DAY),
        (date(2026, 12, 1), MeetingKind.ORG_LIFE),
        (date(2026, 12, 10), MeetingKind.LECTURE),
    ]
    theme = next(e.meeting for e in this_year.days if e.meeting and e.day.day == 20)
    assert theme is not None and theme.org.code == "B3"
    assert [entry.rule_day for entry in this_year.days if entry.rule_day] == []
    # January is stored (the coming three months are); the rest of 2027 comes from the rule.
    stored = [entry.meeting.held_on.month for entry in next_year.days if entry.meeting]
    ruled = [entry.rule_day.month for entry in next_year.days if entry.rule_day]
    assert stored == [1] and ruled == list(range(2, 13))
    assert next_year.rule is not None and next_year.rule.time == "09:00"


def test_a_past_year_shows_only_what_was_stored(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        calendar = services.meeting_calendar(world.orgs["B1"], 2025)
    assert calendar.days == []


def test_moving_one_meeting_by_id_is_audited_and_keeps_the_other_meetings(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        first = lecture(services, world)
        second = lecture(services, world, date(2026, 12, 17))
        moved = services.move_meeting(
            lead(services, world),
            meeting_id=second.id,
            day=date(2026, 12, 18),
            at=time(15, 0),
            venue="党群服务中心",
        )
        untouched = services.meeting(first.id)
    assert (moved.held_on, moved.starts_at.time(), moved.venue) == (
        date(2026, 12, 18),
        time(15, 0),
        "党群服务中心",
    )
    assert moved.moved_from == date(2026, 12, 17)
    assert untouched is not None and untouched.held_on == date(2026, 12, 10)
    assert ("meeting.reschedule", "2026-12-18") in [
        (action, detail.get("day")) for action, detail in audit_actions(database)
    ]


def meeting_row(database: Database, meeting_id: int) -> Meeting:
    """Reads a stored meeting."""
    with database.session() as session:
        return session.get_one(Meeting, meeting_id)


def test_a_move_frees_the_old_slot_and_takes_the_new_one(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        moved = lecture(services, world)
        services.move_meeting(
            lead(services, world),
            meeting_id=moved.id,
            day=date(2026, 12, 11),
            at=time(15, 0),
            venue=None,
        )
    assert meeting_row(database, moved.id).period == "2026-12-11T15:00"
    # The old slot takes a new lecture; the new one is refused a second.
    with use_cases(database, settings) as services:
        again = lecture(services, world)
    assert meeting_row(database, again.id).period == "2026-12-10T14:30"
    with pytest.raises(ServiceError) as refused, use_cases(database, settings) as services:
        services.schedule_meeting(
            lead(services, world),
            kind=MeetingKind.LECTURE,
            day=date(2026, 12, 11),
            at=time(15, 0),
            venue="",
        )
    assert refused.value.code == "meeting_exists"


def test_the_next_meeting_moved_in_chat_takes_its_new_slot(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        moved = lecture(services, world, date(2026, 11, 20))
        services.reschedule(lead(services, world), day=date(2026, 11, 27), at=None, venue=None)
    assert meeting_row(database, moved.id).period == "2026-11-27T14:30"
    with pytest.raises(ServiceError) as refused, use_cases(database, settings) as services:
        lecture(services, world, date(2026, 11, 27))
    assert refused.value.code == "meeting_exists"
    with use_cases(database, settings) as services:
        lecture(services, world, date(2026, 11, 20))


@pytest.mark.parametrize("door", ["move_meeting", "reschedule"])
def test_a_move_onto_a_taken_slot_is_refused_and_changes_nothing(
    database: Database, settings: Settings, world: World, door: str
) -> None:
    with use_cases(database, settings) as services:
        taken = lecture(services, world, date(2026, 11, 27))
        moving = lecture(services, world, date(2026, 11, 20))
    with pytest.raises(ServiceError) as refused, use_cases(database, settings) as services:
        if door == "move_meeting":
            services.move_meeting(
                lead(services, world),
                meeting_id=moving.id,
                day=date(2026, 11, 27),
                at=None,
                venue="别处",
            )
        else:
            services.reschedule(
                lead(services, world), day=date(2026, 11, 27), at=None, venue="别处"
            )
    assert refused.value.code == "meeting_exists"
    assert explain(translator("zh_CN"), refused.value) == "该时间已安排同类会议。"
    row = meeting_row(database, moving.id)
    assert (row.held_on, row.period, row.venue) == (
        date(2026, 11, 20),
        "2026-11-20T14:30",
        "会议室",
    )
    assert meeting_row(database, taken.id).held_on == date(2026, 11, 27)
    assert "meeting.reschedule" not in [action for action, _ in audit_actions(database)]


@pytest.mark.parametrize(
    ("who", "day", "code"),
    [
        ("m1", date(2026, 12, 11), "not_allowed"),
        ("sec2", date(2026, 12, 11), "meeting_unknown"),
        ("sec", date(2026, 11, 2), "date_in_past"),
    ],
)
def test_a_move_is_refused_to_others_and_into_the_past(
    database: Database, settings: Settings, world: World, who: str, day: date, code: str
) -> None:
    with use_cases(database, settings) as services:
        meeting_id = lecture(services, world).id
    with pytest.raises(ServiceError) as refused, use_cases(database, settings) as services:
        services.move_meeting(
            lead(services, world, who), meeting_id=meeting_id, day=day, at=None, venue=None
        )
    assert refused.value.code == code


def test_a_meeting_that_has_begun_cannot_be_moved(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        today = todays_meeting(services, world)
        with pytest.raises(ServiceError) as refused:
            services.move_meeting(
                lead(services, world),
                meeting_id=today.id,
                day=date(2026, 11, 10),
                at=None,
                venue=None,
            )
    assert refused.value.code == "meeting_begun"


def test_the_roll_sheet_lists_every_expected_member_with_their_answer(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        meeting = todays_meeting(services, world)
        row = services.session.get_one(Meeting, meeting.id)
        services.attendance.check_in(
            meeting=row,
            member_id=world.members["m1"],
            code=row.checkin_code,
            channel=Channel.TELEGRAM,
        )
        sheet = services.roll_sheet(meeting.id)
    answers = {entry.name: entry.status for entry in sheet.entries}
    assert answers == {
        "deputy": None,
        "liaison": None,
        "m1": AttendanceStatus.PRESENT,
        "m2": None,
        "sec": None,
    }
    assert sheet.roll_call.expected == 5 and len(sheet.roll_call.present) == 1
    with pytest.raises(ServiceError) as refused, use_cases(database, settings) as services:
        services.roll_sheet(999_999)
    assert refused.value.code == "meeting_unknown"


def test_a_correction_records_a_late_arrival_with_its_reason_in_the_audit_log(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        meeting = todays_meeting(services, world)
        services.correct_attendance(
            lead(services, world),
            meeting_id=meeting.id,
            member_id=world.members["m2"],
            status=AttendanceStatus.PRESENT,
            late=True,
            reason="手机没电，现场签到表为证",
        )
        sheet = services.roll_sheet(meeting.id)
    entry = next(e for e in sheet.entries if e.name == "m2")
    assert (entry.status, entry.late, entry.by_desk) == (AttendanceStatus.PRESENT, True, True)
    assert sheet.roll_call.late == ["m2"]
    [detail] = [d for a, d in audit_actions(database) if a == "attendance.correct"]
    assert detail == {
        "member": world.members["m2"],
        "before": None,
        "before_late": False,
        "after": "present",
        "late": True,
        "reason": "手机没电，现场签到表为证",
    }


def test_a_correction_replaces_the_members_own_answer(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings, at(2026, 11, 2, 18)) as services:
        meeting = todays_meeting(services, world)
        m1 = lead(services, world, "m1")
        services.ask_leave(m1, meeting_id=meeting.id, reason="出差")
    with use_cases(database, settings) as services:
        services.correct_attendance(
            lead(services, world, "deputy"),
            meeting_id=meeting.id,
            member_id=world.members["m1"],
            status=AttendanceStatus.PRESENT,
            reason="出差取消，到会",
        )
    with database.session() as session:
        [row] = session.exec(select(Attendance)).all()
    assert (row.status, row.late, row.reason) == (AttendanceStatus.PRESENT, False, "")
    assert row.at == meeting.starts_at
    [detail] = [d for a, d in audit_actions(database) if a == "attendance.correct"]
    assert (detail["before"], detail["after"]) == ("leave", "present")


@pytest.mark.parametrize(
    ("who", "member", "status", "reason", "code"),
    [
        ("sec", "m1", AttendanceStatus.ABSENT, "  ", "reason_needed"),
        ("sec", "m3", AttendanceStatus.ABSENT, "x", "not_expected"),
        ("m1", "m2", AttendanceStatus.ABSENT, "x", "not_allowed"),
        ("liaison", "m2", AttendanceStatus.ABSENT, "x", "not_allowed"),
        ("sec2", "m2", AttendanceStatus.ABSENT, "x", "meeting_unknown"),
    ],
)
def test_a_bad_correction_is_refused_and_changes_nothing(
    database: Database,
    settings: Settings,
    world: World,
    who: str,
    member: str,
    status: AttendanceStatus,
    reason: str,
    code: str,
) -> None:
    with use_cases(database, settings) as services:
        meeting_id = todays_meeting(services, world).id
    with pytest.raises(ServiceError) as refused, use_cases(database, settings) as services:
        services.correct_attendance(
            lead(services, world, who),
            meeting_id=meeting_id,
            member_id=world.members[member],
            status=status,
            reason=reason,
        )
    assert refused.value.code == code
    with database.session() as session:
        assert session.exec(select(Attendance)).all() == []
    assert [a for a, _ in audit_actions(database) if a == "attendance.correct"] == []


def test_ahead_of_a_meeting_only_leave_can_be_recorded(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        meeting_id = lecture(services, world).id
        with pytest.raises(ServiceError) as refused:
            services.correct_attendance(
                lead(services, world),
                meeting_id=meeting_id,
                member_id=world.members["m1"],
                status=AttendanceStatus.PRESENT,
                reason="x",
            )
        assert refused.value.code == "attendance_ahead"
        services.correct_attendance(
            lead(services, world),
            meeting_id=meeting_id,
            member_id=world.members["m1"],
            status=AttendanceStatus.LEAVE,
            reason="住院，电话请假",
        )
        sheet = services.roll_sheet(meeting_id)
    assert sheet.roll_call.on_leave == [("m1", "住院，电话请假")]


def test_any_meetings_minutes_document_can_be_written_without_a_member(
    database: Database, settings: Settings, world: World
) -> None:
    with use_cases(database, settings) as services:
        meeting_id = todays_meeting(services, world).id
        services.record_minutes(
            lead(services, world),
            meeting_id=meeting_id,
            topic="学习",
            host="sec",
            recorder="deputy",
            content="传达学习",
            resolutions="",
        )
        document = services.meeting_minutes_document(meeting_id, translator("zh_CN"))
    assert document.filename.endswith(".docx") and document.content[:2] == b"PK"
