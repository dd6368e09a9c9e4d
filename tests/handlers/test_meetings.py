"""Meetings of every kind the seeds name: scheduled, announced, checked in to, with attendance."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from bot.cli import app
from bot.core.clock import FrozenClock
from bot.core.domain import AttendanceStatus, MeetingKind, MeetingStatus
from storage.engine import Database
from storage.models import Attendance, AuditEntry, Meeting
from storage.reminders import OutboxMessage, OutboxStatus
from tests.conftest import SHANGHAI
from tests.factories import World
from tests.helpers import Chat
from tests.scheduler.test_rules import give_accounts


def english(chat: Chat, world: World, name: str, user: str) -> Chat:
    """Binds a console user as the named member and switches the replies to English."""
    member = chat.as_(user).bound(world.invites[name])
    member.say("/lang en")
    return member


def meetings(database: Database) -> list[Meeting]:
    """Lists the stored meetings by day and start."""
    with database.session() as session:
        return list(
            session.exec(
                select(Meeting).order_by(col(Meeting.held_on), col(Meeting.starts_at))
            ).all()
        )


def notices(database: Database) -> list[OutboxMessage]:
    """Lists the notices queued in the outbox, by id."""
    with database.session() as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.rule == "notice")
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def code_of(reply: str) -> str:
    """Finds the six-digit check-in code in the secretary's reply."""
    found = re.search(r"(?:签到|/checkin) (\d{6})", reply)
    assert found, reply
    return found[1]


BRANCH_KINDS = [
    ("党课", MeetingKind.LECTURE, "Party lecture"),
    ("支委会", MeetingKind.COMMITTEE, "Branch committee meeting"),
    ("党小组会", MeetingKind.GROUP, "Party group meeting"),
    ("支部党员大会", MeetingKind.BRANCH_ASSEMBLY, "Branch general meeting"),
    ("lecture", MeetingKind.LECTURE, "Party lecture"),
    ("assembly", MeetingKind.BRANCH_ASSEMBLY, "Branch general meeting"),
]


@pytest.mark.parametrize(("word", "kind", "label"), BRANCH_KINDS)
def test_three_meetings_one_lesson_are_scheduled_announced_and_taken_attendance_at(
    chat: Chat,
    world: World,
    clock: FrozenClock,
    database: Database,
    word: str,
    kind: MeetingKind,
    label: str,
) -> None:
    give_accounts(database, world)
    sec = english(chat, world, "sec", "u-sec")
    m1 = english(chat, world, "m1", "u-m1")
    reply = sec.say(f"新建会议 {word} 12月10日 14:30 党群服务中心")
    assert "Scheduled:" in reply and label in reply, reply
    assert "December 10, 2026 (Thursday) 14:30, at 党群服务中心" in reply
    [meeting] = [m for m in meetings(database) if m.kind is kind]
    assert (meeting.held_on, meeting.venue) == (date(2026, 12, 10), "党群服务中心")
    # Every member of the branch but the secretary hears of it, through the outbox.
    told = {row.member_id for row in notices(database)}
    assert told == {world.members[n] for n in ("deputy", "liaison", "m1", "m2")}
    assert "日程" not in label and label in m1.say("日程")
    # On the day the secretary opens check-in, the member signs in, the roll call shows it.
    clock.set(datetime(2026, 12, 10, 14, 20, tzinfo=SHANGHAI))
    code = code_of(sec.say("开启签到"))
    assert "Signed in to" in m1.say(f"签到 {code}")
    roll = sec.say("出勤")
    assert label in roll and "Signed in 1 of 5" in roll and "\u2068m1\u2069 14:20" in roll
    with database.session() as session:
        assert session.exec(select(AuditEntry.action)).all().count("meeting.schedule") == 1


def test_scheduling_is_for_secretaries_and_refuses_what_it_cannot_read(
    chat: Chat, world: World, database: Database
) -> None:
    m1 = english(chat, world, "m1", "u-m1")
    assert "Only the branch secretary" in m1.say("新建会议 党课 12月10日 14:30")
    sec = english(chat, world, "sec", "u-sec")
    assert "do not know the meeting kind 茶话会" in sec.say("新建会议 茶话会 12月10日 14:30")
    assert "could not read the date 12月40日" in sec.say("新建会议 党课 12月40日 14:30")
    assert "could not read the time 25:00" in sec.say("新建会议 党课 12月10日 25:00")
    assert "both the date and the time" in sec.say("新建会议 党课 12月10日")
    assert "already passed" in sec.say("新建会议 党课 2026-10-01 14:30")
    assert "Scheduled:" in sec.say("/newmeeting lecture 2026-12-10 14:30 Hall")
    assert "already on the calendar" in sec.say("新建会议 党课 12月10日 14:30")
    assert [m.kind for m in meetings(database) if m.kind is not MeetingKind.ORG_LIFE] == [
        MeetingKind.LECTURE
    ]


def test_theme_day_is_scheduled_and_taken_attendance_at_by_the_unit_on_duty(
    chat: Chat, world: World, clock: FrozenClock, database: Database
) -> None:
    give_accounts(database, world)
    # January 2027 is the first unit's month on duty (the rota starts with it in January 2026).
    sec2 = english(chat, world, "sec2", "u-sec2")
    assert "第1支部 is on duty then" in sec2.say("新建会议 主题党日 2027-01-20 09:00 红色驿站")
    sec = english(chat, world, "sec", "u-sec")
    reply = sec.say("新建会议 主题党日 2027-01-20 09:00 红色驿站")
    assert "Theme party day" in reply and "hosted by 第1支部" in reply
    [theme] = [m for m in meetings(database) if m.kind is MeetingKind.THEME_DAY]
    assert theme.alliance_id == world.alliance_id
    # The other units' members hear of it too, and see it among their meetings.
    told = {row.member_id for row in notices(database)}
    assert {world.members["sec2"], world.members["m3"]} <= told
    m3 = english(chat, world, "m3", "u-m3")
    assert "Theme party day: January 20, 2027" in m3.say("日程")
    clock.set(datetime(2027, 1, 20, 8, 45, tzinfo=SHANGHAI))
    # Only the unit on duty opens check-in; a member of another unit signs in to it.
    assert "no meeting today" in sec2.say("开启签到")
    code = code_of(sec.say("开启签到"))
    assert "Signed in to Theme party day of 第1支部" in m3.say(f"签到 {code}")
    roll = sec.say("考勤")
    assert "\u2068m3\u2069 08:45" in roll
    # Expected: every current member of the alliance's four units (seven people).
    assert "Signed in 1 of 7" in roll


def test_joint_meeting_and_visit_are_scheduled_by_their_organizations(
    chat: Chat, world: World, clock: FrozenClock, database: Database
) -> None:
    sec = english(chat, world, "sec", "u-sec")
    sec2 = english(chat, world, "sec2", "u-sec2")
    m1 = english(chat, world, "m1", "u-m1")
    # The fourth quarter's convener is the first president unit.
    assert "is on duty then" in sec2.say("新建会议 联席会议 12月8日 14:00 会议室")
    assert "Joint meeting" in sec.say("新建会议 联席会议 12月8日 14:00 会议室")
    assert "Visit (走亲串门)" in sec2.say("新建会议 走访 12月9日 10:00 第一支部")
    kinds = {m.kind: m for m in meetings(database) if m.kind is not MeetingKind.ORG_LIFE}
    assert kinds[MeetingKind.JOINT_MEETING].alliance_id == world.alliance_id
    assert kinds[MeetingKind.VISIT].pairing_id == world.pairing_id
    # The joint meeting expects the units' leaders; sec2 signs in to it.
    clock.set(datetime(2026, 12, 8, 13, 50, tzinfo=SHANGHAI))
    code = code_of(sec.say("开启签到"))
    assert "Signed in" in sec2.say(f"签到 {code}")
    assert "Signed in 1 of 3" in sec.say("出勤")
    # The visit is the second branch's: its secretary takes attendance, a first-branch member comes.
    clock.set(datetime(2026, 12, 9, 9, 40, tzinfo=SHANGHAI))
    code = code_of(sec2.say("开启签到"))
    assert "Signed in to Visit (走亲串门) of 第2支部" in m1.say(f"签到 {code}")
    with database.session() as session:
        rows = session.exec(select(Attendance)).all()
    assert {(r.member_id, r.status) for r in rows} == {
        (world.members["sec2"], AttendanceStatus.PRESENT),
        (world.members["m1"], AttendanceStatus.PRESENT),
    }


def test_org_life_day_can_be_set_by_hand(chat: Chat, world: World, database: Database) -> None:
    sec = english(chat, world, "sec", "u-sec")
    reply = sec.say("新建会议 组织生活日 12月3日 14:00 礼堂")
    assert "Organization-life day: December 3, 2026 (Thursday) 14:00, at 礼堂" in reply
    [december] = [m for m in meetings(database) if m.period == "2026-12"]
    assert (december.held_on, december.moved_from) == (date(2026, 12, 3), date(2026, 12, 1))


def test_open_checkin_names_the_kind_when_several_meetings_fall_on_one_day(
    chat: Chat, world: World, clock: FrozenClock
) -> None:
    sec = english(chat, world, "sec", "u-sec")
    sec.say("新建会议 党课 11月3日 15:00 礼堂")
    # 09:30 on the org-life day: opening without a kind opens the morning meeting.
    assert "Organization-life day" in sec.say("开启签到")
    assert "Party lecture" in sec.say("开启签到 党课")
    assert "Usage: /opencheckin" in sec.say("开启签到 茶话会")


def test_cli_schedules_a_meeting_through_the_same_use_case(
    world: World, database: Database, database_url: str
) -> None:
    give_accounts(database, world)
    runner = CliRunner()
    env = {"GONGJIAN_DATABASE_URL": database_url}
    args = ["meeting", "schedule", "--org", "B1", "--kind", "支委会", "--date", "2026-12-10"]
    result = runner.invoke(
        app, [*args, "--time", "19:00", "--now", "2026-11-03T09:30", "--lang", "en"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "Branch committee meeting: December 10, 2026" in result.output
    assert len(notices(database)) == 5
    refused = runner.invoke(
        app,
        [
            *("meeting", "schedule", "--org", "B2", "--kind", "主题党日", "--date", "2026-12-20"),
            *("--time", "09:00", "--now", "2026-11-03T09:30", "--lang", "en"),
        ],
        env=env,
    )
    assert refused.exit_code == 2 and "is on duty then" in refused.stderr
    listed = runner.invoke(
        app, ["meeting", "list", "--org", "B1", "--now", "2026-11-03T09:30", "--json"], env=env
    )
    assert '"kind": "committee"' in listed.output


def test_cancelled_meeting_is_announced_and_gone_from_the_calendar(
    chat: Chat, world: World, database: Database
) -> None:
    give_accounts(database, world)
    sec = english(chat, world, "sec", "u-sec")
    sec.say("新建会议 党课 12月10日 14:30 礼堂")
    before = len(notices(database))
    reply = sec.say("取消会议 12月10日 与区委会议冲突")
    assert "Cancelled:" in reply and "Party lecture" in reply
    [lecture] = [m for m in meetings(database) if m.kind is MeetingKind.LECTURE]
    assert lecture.status is MeetingStatus.CANCELLED
    rows = notices(database)
    # The unsent announcement is withdrawn; the cancellation goes out instead.
    assert sum(r.status is OutboxStatus.OBSOLETE for r in rows) == before
    fresh = [r for r in rows if r.status is OutboxStatus.PENDING]
    assert len(fresh) == 4 and all("与区委会议冲突" in r.text for r in fresh)
    assert all("已取消" in r.text for r in fresh)
    m1 = english(chat, world, "m1", "u-m1")
    assert "Party lecture" not in m1.say("日程")


def test_scheduling_answers_in_chinese(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    reply = sec.say("新建会议 党小组会 下周二 19:30 党员活动室")
    assert reply.startswith("已安排：\n党小组会：2026年11月10日（星期二）19:30，地点：党员活动室")
    assert "将通知参会党员。会议当天发送“开启签到”即可开始签到。" in reply
    assert "无法识别会议类型“茶话会”" in sec.say("新建会议 茶话会 下周二 19:30")


def test_partners_meetings_do_not_hide_the_branchs_own_next_meeting(
    chat: Chat, world: World, database: Database
) -> None:
    sec2 = english(chat, world, "sec2", "u-sec2")
    for day in range(4, 10):
        assert "Scheduled:" in sec2.say(f"新建会议 走访 11月{day}日 10:00 第一支部")
    sec = english(chat, world, "sec", "u-sec")
    reply = sec.say("调整会议 14:30")
    assert "Organization-life day: December 1, 2026 (Tuesday) 14:30" in reply
    # The first branch's members see the pairing's visits among their meetings.
    assert "hosted by 第2支部" in sec.say("日程")
