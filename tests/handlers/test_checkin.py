"""Check-in on the organization-life day and the secretary's code and roll call."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.core.domain import AttendanceStatus, MeetingKind
from storage.engine import Database
from storage.models import Attendance, AuditEntry, Meeting
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.helpers import Chat


def open_code(chat: Chat, world: World) -> str:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    reply = sec.say("/opencheckin")
    match = re.search(r"code: (\d{6})", reply)
    assert match, reply
    return match.group(1)


def attendance_rows(database: Database) -> list[Attendance]:
    with database.session() as session:
        return list(session.exec(select(Attendance)).all())


def test_checkin_with_code_records_once(chat: Chat, world: World, database: Database) -> None:
    code = open_code(chat, world)
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "Signed in" in member.say(f"签到 {code}")
    second = member.say(f"/checkin {code}")
    assert "already signed in at 09:30" in second
    [row] = attendance_rows(database)
    assert row.member_id == world.members["m1"] and row.status is AttendanceStatus.PRESENT
    assert row.at == datetime(2026, 11, 3, 9, 30, tzinfo=SHANGHAI)


def test_checkin_needs_the_right_code(chat: Chat, world: World, database: Database) -> None:
    code = open_code(chat, world)
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "6-digit" in member.say("签到")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert "wrong" in member.say(f"签到 {wrong}")
    assert "6 digits" in member.say("签到 12ab")
    assert attendance_rows(database) == []


def test_no_meeting_today(chat: Chat, world: World, clock: FrozenClock, database: Database) -> None:
    clock.advance(timedelta(days=1))
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "no meeting today" in member.say("签到 123456")
    assert attendance_rows(database) == []


def test_member_of_another_branch_cannot_use_the_code(
    chat: Chat, world: World, database: Database
) -> None:
    code = open_code(chat, world)
    stranger = chat.as_("u-m3").bound(world.invites["m3"])
    stranger.say("/lang en")
    reply = stranger.say(f"签到 {code}")
    assert "wrong" in reply or "no meeting" in reply
    assert attendance_rows(database) == []


def test_open_checkin_is_for_secretaries_and_audited(
    chat: Chat, world: World, database: Database
) -> None:
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "Only the branch secretary" in member.say("开启签到")
    assert "Only the branch secretary" in member.say("出勤")
    open_code(chat, world)
    with database.session() as session:
        actions = [row.action for row in session.exec(select(AuditEntry)).all()]
    assert actions.count("denied") == 2 and "checkin.open" in actions


def test_checkin_without_code_when_secretary_says_so(
    chat: Chat, world: World, database: Database
) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "without a code" in sec.say("开启签到 免码")
    member = chat.bound(world.invites["m1"])
    member.say("签到")
    assert len(attendance_rows(database)) == 1


def test_org_life_meeting_is_created_once_on_demand(
    chat: Chat, world: World, database: Database
) -> None:
    open_code(chat, world)
    chat.bound(world.invites["m1"]).say("签到")
    with database.session() as session:
        meetings = session.exec(select(Meeting).where(Meeting.kind == MeetingKind.ORG_LIFE)).all()
    assert [(m.period, str(m.held_on)) for m in meetings] == [("2026-11", "2026-11-03")]


def test_roll_call_counts_present_leave_missing(chat: Chat, world: World) -> None:
    code = open_code(chat, world)
    chat.bound(world.invites["m1"]).say(f"签到 {code}")
    sec = chat.as_("u-sec")
    reply = sec.say("出勤")
    assert "Signed in 1 of 5 (20%)" in reply
    # Each name sits in a bidi isolate, so no name can reorder the ones after it.
    assert (
        "Missing: \u2068deputy\u2069, \u2068liaison\u2069, \u2068m2\u2069, and \u2068sec\u2069"
        in reply
    )


def test_guessing_codes_locks_the_member_out(
    chat: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    code = open_code(chat, world)
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert "wrong" in member.say(f"签到 {wrong}")
    assert "Too many wrong codes. Try again in 15 minutes" in member.say(f"签到 {code}")
    assert attendance_rows(database) == []
    clock.advance(timedelta(minutes=16))
    assert "Signed in" in member.say(f"签到 {code}")


def test_member_on_leave_who_turns_up_is_signed_in(
    chat: Chat, world: World, database: Database
) -> None:
    code = open_code(chat, world)
    with database.session() as session:
        meeting = session.exec(select(Meeting)).one()
        assert meeting.id is not None
        session.add(
            Attendance(
                meeting_id=meeting.id,
                member_id=world.members["m1"],
                status=AttendanceStatus.LEAVE,
                at=datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI),
                reason="travel",
            )
        )
    member = chat.bound(world.invites["m1"])
    member.say("/lang en")
    assert "Signed in" in member.say(f"签到 {code}")
    assert "already signed in at 09:30" in member.say(f"签到 {code}")
    [row] = attendance_rows(database)
    assert row.status is AttendanceStatus.PRESENT
    assert row.at == datetime(2026, 11, 3, 9, 30, tzinfo=SHANGHAI)
