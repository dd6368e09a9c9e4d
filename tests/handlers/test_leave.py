"""Asking leave for the next meeting: two steps or one message, and every refusal."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select

from bot.core.clock import FrozenClock
from bot.core.domain import AttendanceStatus, MeetingKind, MeetingStatus
from bot.core.inbound import Channel, ChatKind, Inbound
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Attendance, Conversation, Meeting
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.helpers import Chat


def english_member(chat: Chat, world: World, name: str = "m1") -> Chat:
    """Binds a console user as a member and switches the replies to English."""
    member = chat.bound(world.invites[name])
    member.say("/lang en")
    return member


def attendance(database: Database) -> list[tuple[date, AttendanceStatus, str, int]]:
    """Lists (meeting day, status, reason, member id) of every attendance row."""
    with database.session() as session:
        rows = session.exec(
            select(Attendance, Meeting).join(Meeting, col(Meeting.id) == col(Attendance.meeting_id))
        ).all()
    return [(meeting.held_on, row.status, row.reason, row.member_id) for row, meeting in rows]


def conversations(database: Database) -> list[Conversation]:
    """Lists the stored conversation states."""
    with database.session() as session:
        return list(session.exec(select(Conversation)).all())


def test_leave_in_two_steps(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    reply = member.say("请假")
    # This month's meeting started at 09:00, half an hour ago: the next one is December's.
    assert "Your next meeting:" in reply
    assert "Organization-life day: December 1, 2026 (Tuesday) 09:00" in reply
    assert "What is the reason for your leave?" in reply
    [row] = conversations(database)
    assert (row.flow, row.step) == ("leave", "reason")
    reply = member.say("  家中老人住院，需要陪护  ")
    assert "Leave recorded for:" in reply and "December 1, 2026" in reply
    assert "Reason: 家中老人住院，需要陪护" in reply
    assert attendance(database) == [
        (date(2026, 12, 1), AttendanceStatus.LEAVE, "家中老人住院，需要陪护", world.members["m1"])
    ]
    assert conversations(database) == []


def test_leave_in_one_message(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    reply = member.say("请假 出差在外地")
    assert "Leave recorded for:" in reply and "Reason: 出差在外地" in reply
    assert conversations(database) == []
    assert "Reason: 改为参加培训" in member.say("/leave 改为参加培训")
    assert attendance(database) == [
        (date(2026, 12, 1), AttendanceStatus.LEAVE, "改为参加培训", world.members["m1"])
    ]


def test_leave_in_default_language(chat: Chat, world: World, database: Database) -> None:
    member = chat.bound(world.invites["m2"])
    assert "2026" in member.say("请假：孩子生病")
    assert attendance(database) == [
        (date(2026, 12, 1), AttendanceStatus.LEAVE, "孩子生病", world.members["m2"])
    ]


def test_too_short_or_too_long_reason_asks_again(
    chat: Chat, world: World, database: Database
) -> None:
    member = english_member(chat, world)
    reply = member.say("请假 病")
    assert "A reason needs 2 to 500 characters; yours has 1." in reply
    assert "December 1, 2026" in reply and "What is the reason" in reply
    assert attendance(database) == []
    reply = member.say("x" * 501)
    assert "yours has 501" in reply and "What is the reason" in reply
    assert "yours has 1" in member.say(" x ")
    assert attendance(database) == []
    [row] = conversations(database)
    assert row.step == "reason"
    assert "Leave recorded" in member.say("x" * 500)
    [(_, status, reason, _)] = attendance(database)
    assert status is AttendanceStatus.LEAVE and reason == "x" * 500


def test_cancel_leave(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    member.say("请假")
    assert "Cancelled the leave request; nothing was stored." in member.press("Cancel")
    assert attendance(database) == [] and conversations(database) == []


def test_already_signed_in(
    chat: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 11, 3, 8, 30, tzinfo=SHANGHAI))
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("开启签到 免码")
    member = english_member(chat, world)
    assert "November 3, 2026" in member.say("请假")  # today's meeting has not started yet
    member.say("/checkin")
    reply = member.say("临时有事")
    assert "You already signed in at 08:30; no leave is needed." in reply
    assert conversations(database) == []  # the refusal ends the flow
    assert "You can send" in member.say("临时有事")
    reply = member.say("请假 临时有事")
    assert "already signed in at 08:30" in reply
    assert attendance(database) == [
        (date(2026, 11, 3), AttendanceStatus.PRESENT, "", world.members["m1"])
    ]


def test_no_meeting_ahead(chat: Chat, world: World, database: Database) -> None:
    with database.session() as session:
        for month in (11, 12, 13, 14, 15):
            year, real_month = (2026, month) if month <= 12 else (2027, month - 12)
            day = date(year, real_month, 5)
            session.add(
                Meeting(
                    organization_id=world.orgs["B1"],
                    kind=MeetingKind.ORG_LIFE,
                    period=f"{year:04d}-{real_month:02d}",
                    held_on=day,
                    starts_at=datetime(year, real_month, 5, 9, 0, tzinfo=SHANGHAI),
                    checkin_code="000000",
                    status=MeetingStatus.CANCELLED,
                )
            )
    member = english_member(chat, world)
    assert "Your branch has no upcoming meeting." in member.say("请假")
    assert "no upcoming meeting" in member.say("请假 出差在外地")
    assert conversations(database) == [] and attendance(database) == []


def test_leave_needs_a_bound_member(chat: Chat, world: World, database: Database) -> None:
    assert "绑定" in chat.say("请假 出差")
    assert attendance(database) == [] and conversations(database) == []


def test_leave_reason_is_asked_in_private(
    chat: Chat, world: World, database: Database, assistant: Assistant
) -> None:
    member = english_member(chat, world)
    replies = assistant.handle(
        Inbound(
            Channel.CONSOLE,
            chat_id="g-1",
            user_id="u-console",
            text="请假",
            chat_kind=ChatKind.GROUP,
            private_chat_id="u-console",
        )
    )
    assert "continue in a private chat" in replies[0].text
    assert replies[1].private and "December 1, 2026" in replies[1].text
    [row] = conversations(database)
    assert (row.chat_id, row.step) == ("u-console", "reason")
    assert "Leave recorded" in member.say("外出学习")
    assert len(attendance(database)) == 1


def test_private_steps_go_to_the_chat_the_channel_names(
    chat: Chat, world: World, database: Database, assistant: Assistant
) -> None:
    english_member(chat, world)
    replies = assistant.handle(
        Inbound(
            Channel.CONSOLE,
            chat_id="g-1",
            user_id="u-console",
            text="请假",
            chat_kind=ChatKind.GROUP,
            private_chat_id="dm-42",
        )
    )
    assert "continue in a private chat" in replies[0].text
    [row] = conversations(database)
    # The platform's own rule, not "a user's id is their private chat's id".
    assert (row.chat_id, row.user_id, row.step) == ("dm-42", "u-console", "reason")


def test_without_a_private_chat_the_flow_stays_in_the_group(
    chat: Chat, world: World, database: Database, assistant: Assistant
) -> None:
    english_member(chat, world)
    replies = assistant.handle(
        Inbound(
            Channel.CONSOLE,
            chat_id="g-1",
            user_id="u-console",
            text="请假",
            chat_kind=ChatKind.GROUP,
        )
    )
    assert not any("private chat" in reply.text for reply in replies)
    assert not any(reply.private for reply in replies)
    [row] = conversations(database)
    assert (row.chat_id, row.user_id, row.step) == ("g-1", "u-console", "reason")
