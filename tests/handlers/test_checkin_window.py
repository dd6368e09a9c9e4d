"""Check-in means presence: a window around the start, late arrivals marked (or refused)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import select

from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.engine.assembly import build_assistant
from storage.engine import Database
from storage.models import Attendance
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.helpers import Chat


def code_of(reply: str) -> str:
    """Finds the six-digit check-in code in the secretary's reply."""
    found = re.search(r"(?:签到|/checkin) (\d{6})", reply)
    assert found, reply
    return found[1]


def bound(chat: Chat, world: World, name: str) -> Chat:
    """Binds a console user as the named member, replies in English."""
    member = chat.as_(f"u-{name}").bound(world.invites[name])
    member.say("/lang en")
    return member


def test_late_night_check_in_is_late_and_the_roll_call_says_so(
    chat: Chat, world: World, clock: FrozenClock, database: Database
) -> None:
    sec, m1, m2 = (bound(chat, world, name) for name in ("sec", "m1", "m2"))
    clock.set(datetime(2026, 11, 3, 8, 50, tzinfo=SHANGHAI))
    code = code_of(sec.say("开启签到"))
    assert "Thank you!" in m1.say(f"签到 {code}")
    # At 23:30 a 09:00 meeting is long over: the check-in counts, as late.
    clock.set(datetime(2026, 11, 3, 23, 30, tzinfo=SHANGHAI))
    assert "23:30, late (after the start)" in m2.say(f"签到 {code}")
    roll = sec.say("出勤")
    assert "Signed in 2 of 5" in roll and "Late: m2" in roll
    with database.session() as session:
        late = {row.member_id: row.late for row in session.exec(select(Attendance)).all()}
    assert late == {world.members["m1"]: False, world.members["m2"]: True}


def test_check_in_opens_half_an_hour_before_the_start_or_when_the_secretary_opens_it(
    chat: Chat, world: World, clock: FrozenClock
) -> None:
    sec, m1 = (bound(chat, world, name) for name in ("sec", "m1"))
    sec.say("新建会议 党课 11月3日 15:00 礼堂")
    clock.set(datetime(2026, 11, 3, 14, 0, tzinfo=SHANGHAI))
    # The morning's org-life day is still open (late); the lecture has not opened yet.
    reply = sec.say("开启签到 党课")
    code = code_of(reply)
    clock.set(datetime(2026, 11, 3, 14, 5, tzinfo=SHANGHAI))
    assert "Signed in to Party lecture" in m1.say(f"签到 {code}")
    assert "Thank you!" in m1.last[0].text


def test_check_in_before_the_window_is_refused(
    chat: Chat, world: World, clock: FrozenClock, database: Database
) -> None:
    sec, m1 = bound(chat, world, "sec"), bound(chat, world, "m1")
    sec.say("新建会议 党课 11月4日 15:00 礼堂")
    clock.set(datetime(2026, 11, 4, 14, 0, tzinfo=SHANGHAI))
    assert "Check-in is not open yet: it opens at 14:30" in m1.say("签到")
    clock.set(datetime(2026, 11, 4, 14, 31, tzinfo=SHANGHAI))
    assert "Please send the 6-digit check-in code" in m1.say("签到")
    with database.session() as session:
        assert session.exec(select(Attendance)).all() == []


def test_late_check_ins_may_be_refused_instead(
    chat: Chat, world: World, clock: FrozenClock, database: Database, settings: Settings
) -> None:
    strict = build_assistant(
        settings.model_copy(update={"checkin_late": "refuse"}), clock=clock, database=database
    )
    sec = Chat(strict, "u-sec").bound(world.invites["sec"])
    m1 = Chat(strict, "u-m1").bound(world.invites["m1"])
    m1.say("/lang en")
    clock.set(datetime(2026, 11, 3, 8, 50, tzinfo=SHANGHAI))
    code = code_of(sec.say("开启签到"))
    clock.set(datetime(2026, 11, 3, 9, 16, tzinfo=SHANGHAI))
    assert "Check-in closed at 09:15" in m1.say(f"签到 {code}")
    with database.session() as session:
        assert session.exec(select(Attendance)).all() == []
