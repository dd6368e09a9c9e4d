"""Compliance (/status, 达标) and a quarter's attendance (出勤 本季度) in chat, for secretaries only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.services.structure import set_org_setting
from storage.engine import Database
from storage.models import AuditEntry
from tests.factories import World
from tests.helpers import Chat
from tests.services.test_stats import add_meeting, answer, at, joined
from tests.services.test_structure import NOW


def english(chat: Chat, world: World, name: str) -> Chat:
    """Binds a console user as the named member and switches replies to English."""
    member = chat.as_(f"u-{name}").bound(world.invites[name])
    member.say("/lang en")
    return member


@pytest.fixture
def october(database: Database, world: World) -> World:
    """第1支部 held its October organization-life day; one member was on leave, one absent."""
    joined(database, date(2026, 1, 1))
    meeting = add_meeting(database, org=world.orgs["B1"], day=date(2026, 10, 6))
    answer(database, meeting, world, present=("sec", "deputy", "m1"), leave=("m2",))
    return world


def test_status_by_command_and_keyword(chat: Chat, october: World) -> None:
    sec = english(chat, october, "sec")
    reply = sec.say("/status")
    assert reply.startswith("Compliance of 第1支部 for Q4 2026, as of November 3, 2026:")
    assert (
        "✓ Organization-life day on Oct 6, 2026: done; signed in 3 of 5 (60%), on leave 1" in reply
    )
    assert "○ Organization-life day on Nov 3, 2026: owed, 1 day left" in reply
    assert "Alliance: 红湾联盟" in reply and "Pairing: 一支部-二支部结对" in reply
    assert sec.say("达标") == reply

    last = sec.say("达标 上季度")
    assert last.startswith("Compliance of 第1支部 for Q3 2026, as of September 30, 2026:")
    assert "✗ Ledger feedback for Q3 2026: missed" in last
    assert sec.say("/status 2026年第三季度") == last


def test_status_on_a_later_day(chat: Chat, october: World, clock: FrozenClock) -> None:
    sec = english(chat, october, "sec")
    clock.set(at(2026, 11, 16, 10))
    reply = sec.say("/status")
    assert "✗ Organization-life day on Nov 3, 2026: missed" in reply
    assert "Visits in 2026, 0 of 3: owed, 46 days left; behind: 3 expected by now" in reply


def test_status_refuses_bad_and_future_quarters(chat: Chat, october: World) -> None:
    sec = english(chat, october, "sec")
    assert "Send /status for this quarter" in sec.say("/status soon")
    assert sec.say("达标 2027Q1") == "Q1 2027 has not started yet."


def test_status_is_for_secretaries_only(chat: Chat, world: World, database: Database) -> None:
    for name in ("m1", "liaison"):
        member = english(chat, world, name)
        assert "Only the branch secretary" in member.say("/status")
        assert "Only the branch secretary" in member.say("达标")
    assert "绑定" in chat.say("/status")
    with database.session() as session:
        denied = session.exec(select(AuditEntry).where(AuditEntry.action == "denied")).all()
    assert {entry.subject for entry in denied} == {"command:status"}
    assert len(denied) == 4


# -- a quarter's attendance ---------------------------------------------------------------------


def test_quarter_attendance_table(chat: Chat, october: World) -> None:
    sec = english(chat, october, "sec")
    reply = sec.say("出勤 本季度")
    lines = reply.splitlines()
    assert lines[0] == "Attendance of 第1支部, Q4 2026"
    assert (
        "• Oct 6, 2026 Organization-life day: signed in 3 of 5 (60%), on leave 1, absent 1" in lines
    )
    assert "• liaison: present 0, on leave 0, absent 1 (0%)" in lines
    assert "• m2: present 0, on leave 1, absent 0 (0%)" in lines
    assert "• sec: present 1, on leave 0, absent 0 (100%)" in lines
    assert lines[-1] == "In all: signed in 3 of 5 (60%), on leave 1, absent 1."
    assert sec.say("/attendance 2026Q4") == reply
    assert sec.say("/attendance 2026Q3") == "No meeting of 第1支部 has taken place in Q3 2026 yet."


def test_plain_attendance_is_still_the_roll_call(chat: Chat, october: World) -> None:
    sec = english(chat, october, "sec")
    reply = sec.say("出勤")
    assert "Organization-life day: November 3, 2026" in reply
    assert "Signed in 0 of 5" in reply
    # Today's meeting now exists, without any sign-in: listed, not counted.
    table = sec.say("出勤 本季度")
    assert "• Nov 3, 2026 Organization-life day: nobody signed in" in table
    assert table.splitlines()[-1] == "In all: signed in 3 of 5 (60%), on leave 1, absent 1."


def test_quarter_attendance_bad_input_and_refusal(chat: Chat, october: World) -> None:
    sec = english(chat, october, "sec")
    assert "/attendance this quarter" in sec.say("出勤 明天")
    assert sec.say("/attendance 2027Q2") == "Q2 2027 has not started yet."
    member = english(chat, october, "m1")
    assert "Only the branch secretary" in member.say("出勤 本季度")


def test_status_flags_partners_without_a_liaison_until_one_is_named(
    chat: Chat, world: World, database: Database
) -> None:
    sec = english(chat, world, "sec")
    reply = sec.say("/status")
    # 第1支部 names a liaison; its partners in the test world do not.
    assert "No liaison officer named (联络员) for: B2, B3, B4." in reply
    with database.session() as session:
        set_org_setting(session, org_code="B2", key="liaison", value="m3", now=NOW, actor_id=None)
    assert "No liaison officer named (联络员) for: B3, B4." in sec.say("/status")
