"""The rules of the seeds: where records count, the convener, the three reports, holiday data."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.orglife import HolidayPolicy
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.domain import ActivityKind, AttendanceStatus, Duty, MeetingKind
from bot.services.compliance import Subject
from bot.services.holiday_data import ORGLIFE_MOVED, missing_holiday_years, redate_org_life_days
from bot.services.ledger import Ledger
from bot.services.meetings import Meetings
from bot.services.obligations.facts import load_facts
from bot.services.obligations.rules import Rule, pending_for
from bot.services.summary import year_summaries
from bot.texts.reminders import render_push
from bot.texts.translation import translator
from scheduler.service import ReminderJobs, plan_tick
from storage.engine import Database
from storage.models import (
    Activity,
    Attendance,
    AuditEntry,
    Meeting,
    Organization,
    RotaOverride,
)
from storage.reminders import MovementDirection, OutboxMessage, OutboxStatus, mark_movement
from tests.factories import World
from tests.handlers.test_checkin import open_code
from tests.handlers.test_status import english
from tests.helpers import Chat
from tests.scheduler.test_rules import (
    HOLIDAYS,
    SH,
    add_activity,
    add_meeting,
    at,
    give_accounts,
    pushes_at,
)


def put_on_duty(database: Database, world: World, code: str, period: str) -> None:
    """Hands one month's theme-day duty to an organization."""
    with database.session() as session:
        session.add(
            RotaOverride(
                alliance_id=world.alliance_id,
                duty=Duty.THEME_DAY,
                period=period,
                organization_id=world.orgs[code],
                reason="test",
                created_at=at(2026, 11, 1),
            )
        )


def report(database: Database, world: World, org: str, kind: ActivityKind, *partners: str) -> int:
    """Stores a confirmed report through the ledger service, as the 汇报 flow does."""
    with database.session() as session:
        view = Ledger(session, at(2026, 12, 3, 12)).record(
            org_id=world.orgs[org],
            reporter_id=None,
            kind=kind,
            held_on=date(2026, 12, 3),
            title="t",
            participants=5,
            summary="s",
            partner_ids=[world.orgs[code] for code in partners],
        )
    return view.id


def rules_owed(database: Database, world: World, org: str, moment: object) -> set[Rule]:
    """Lists the rules an organization still owes at a moment."""
    with database.session() as session:
        facts = load_facts(session, now=moment, holidays=HOLIDAYS)  # type: ignore[arg-type]
    return {o.rule for o in pending_for(facts, world.orgs[org])}


def test_reported_theme_day_counts_for_the_unit_on_duty(database: Database, world: World) -> None:
    # December's duty falls to B4 (the fourth unit, counting from January).
    moment = at(2026, 12, 4, 10)
    assert Rule.THEME_DUTY in rules_owed(database, world, "B4", moment)
    # A theme day of a unit not on duty is its own; it does not discharge B4's duty.
    report(database, world, "B1", ActivityKind.THEME_DAY)
    assert Rule.THEME_DUTY in rules_owed(database, world, "B4", moment)
    report(database, world, "B4", ActivityKind.THEME_DAY)
    with database.session() as session:
        facts = load_facts(session, now=moment, holidays=HOLIDAYS)
    assert (world.alliance_id, "2026-12") in facts.alliance_theme
    assert Rule.THEME_DUTY not in rules_owed(database, world, "B4", moment)


def test_theme_day_reported_in_chat_shows_done_in_status(
    chat: Chat, world: World, database: Database
) -> None:
    put_on_duty(database, world, "B1", "2026-11")
    sec = english(chat, world, "sec")
    line = "○ Theme party day of 11/2026 (on duty: 第1支部): owed"
    assert line in sec.say("/status")
    sec.say("汇报")
    sec.say("2")
    sec.say("今天")
    sec.say("none")
    sec.say("20")
    assert "Please check the report:" in sec.say("主题党日：学习党章，重温入党誓词。")
    assert "Stored as ledger entry" in sec.say("1")
    status = sec.say("/status")
    assert "✓ Theme party day of 11/2026 (on duty: 第1支部): done" in status
    assert "Theme party day" not in sec.say("待办")


def test_alliance_meetings_count_only_once_held(database: Database, world: World) -> None:
    add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.JOINT_MEETING,
        held_on=date(2026, 12, 15),
        period="2026Q4",
        alliance_id=world.alliance_id,
    )
    add_meeting(
        database,
        org=world.orgs["B4"],
        kind=MeetingKind.THEME_DAY,
        held_on=date(2026, 12, 22),
        period="2026-12",
        alliance_id=world.alliance_id,
    )
    with database.session() as session:
        before = load_facts(session, now=at(2026, 12, 4, 10), holidays=HOLIDAYS)
        after = load_facts(session, now=at(2026, 12, 23, 10), holidays=HOLIDAYS)
    assert (world.alliance_id, "2026Q4") not in before.alliance_joint
    assert (world.alliance_id, "2026-12") not in before.alliance_theme
    # Set for a day ahead, they stop the nudges to plan them, but are not done yet.
    assert (world.alliance_id, "2026Q4") in before.alliance_joint_planned
    assert (world.alliance_id, "2026-12") in before.alliance_theme_planned
    assert (world.alliance_id, "2026Q4") in after.alliance_joint
    assert (world.alliance_id, "2026-12") in after.alliance_theme


def test_pairing_visit_counts_for_the_pairing_only(database: Database, world: World) -> None:
    # B1 and B2 are both in the pairing and in the alliance: a visit belongs to the pairing.
    visit = report(database, world, "B1", ActivityKind.VISIT, "B2")
    joint = report(database, world, "B1", ActivityKind.JOINT_MEETING, "B2")
    with database.session() as session:
        stored_visit = session.get_one(Activity, visit)
        stored_joint = session.get_one(Activity, joint)
        assert (stored_visit.pairing_id, stored_visit.alliance_id) == (world.pairing_id, None)
        assert (stored_joint.pairing_id, stored_joint.alliance_id) == (None, world.alliance_id)
    # Records naming both (stored before) count once too, where they belong.
    add_activity(
        database,
        org=world.orgs["B1"],
        kind=ActivityKind.VISIT,
        held_on=date(2026, 7, 1),
        pairing_id=world.pairing_id,
        alliance_id=world.alliance_id,
    )
    add_activity(
        database,
        org=world.orgs["B1"],
        kind=ActivityKind.JOINT_MEETING,
        held_on=date(2026, 4, 1),
        pairing_id=world.pairing_id,
    )
    with database.session() as session:
        facts = load_facts(session, now=at(2026, 12, 4, 10), holidays=HOLIDAYS)
    assert facts.pairing_visits[world.pairing_id] == {date(2026, 12, 3), date(2026, 7, 1)}
    assert (world.alliance_id, "2026Q4") in facts.alliance_joint
    # The pairing's own joint activity is the pairing's, not the alliance's.
    assert (world.alliance_id, "2026Q2") not in facts.alliance_joint
    assert (world.pairing_id, "2026Q2") in facts.pairing_joint


def test_alliance_summary_leaves_the_pairing_visits_to_the_pairing(
    database: Database, world: World
) -> None:
    # Records naming both groups, as reports were stored before: each is listed once.
    add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.VISIT,
        held_on=date(2026, 6, 9),
        period="2026-06-09",
        alliance_id=world.alliance_id,
        pairing_id=world.pairing_id,
    )
    add_activity(
        database,
        org=world.orgs["B1"],
        kind=ActivityKind.VISIT,
        held_on=date(2026, 7, 1),
        pairing_id=world.pairing_id,
        alliance_id=world.alliance_id,
    )
    with database.session() as session:
        found = year_summaries(
            session,
            org_id=world.orgs["B1"],
            year=2026,
            now=at(2026, 12, 4, 10),
            holidays=HOLIDAYS,
            tz=SH,
        )
    by_subject = {summary.subject: summary for summary in found}
    alliance, pairing = by_subject[Subject.ALLIANCE], by_subject[Subject.PAIRING]
    assert [m.kind for m in alliance.meetings] == []
    assert [a.held_on for a in alliance.activities] == []
    assert [m.held_on for m in pairing.meetings] == [date(2026, 6, 9)]
    assert [a.held_on for a in pairing.activities] == [date(2026, 7, 1)]
    assert pairing.visits == (date(2026, 6, 9), date(2026, 7, 1))


def test_three_reports_push_names_the_organizations_of_004(
    database: Database, world: World
) -> None:
    give_accounts(database, world, ("m1",))
    with database.session() as session:
        mark_movement(
            session=session,
            member_id=world.members["m1"],
            direction=MovementDirection.ARRIVING,
            at=at(2026, 11, 3, 10),
            by=None,
            place="深圳",
        )
    [push] = [p for p in pushes_at(database, at(2026, 11, 3, 10)) if p.rule is Rule.MOBILE]
    text = render_push(translator("zh_CN"), push)
    assert "到新驻地后向居住地党组织报告情况" in text
    assert "向参加工作所在单位党组织报告身份" in text
    assert "支部书记" not in text
    english = render_push(translator("en"), push)
    assert "party organization where you now live" in english
    assert "report your identity to the party organization of your workplace" in english


# -- holiday data ----------------------------------------------------------------------------

NATIONAL_DAY_2027 = """
[[holiday]]
name = "national_day"
start = 2027-10-01
end = 2027-10-07
"""


def stored_october(database: Database, world: World, holidays: HolidayCalendar) -> int:
    """Stores B1's October 2027 org-life day from the rule, as the bot did before the file."""
    with database.session() as session:
        org = session.get_one(Organization, world.orgs["B1"])
        org.holiday_policy = HolidayPolicy.NEXT_WORKDAY.value
        session.add(org)
        meeting = Meetings(session, holidays=holidays, tz=SH).ensure_org_life(org, 2027, 10)
        assert meeting.id is not None
        return meeting.id


def test_stored_org_life_days_follow_a_holiday_file_added_later(
    database: Database, world: World, tmp_path: Path
) -> None:
    meeting_id = stored_october(database, world, HOLIDAYS)
    give_accounts(database, world, ("sec", "m1"))
    with database.session() as session:
        stored = session.get_one(Meeting, meeting_id)
        assert (stored.held_on, stored.move_reason) == (date(2027, 10, 5), "calendar_unknown")
    path = tmp_path / "holidays.toml"
    path.write_text(NATIONAL_DAY_2027, encoding="utf-8")
    later = HolidayCalendar.load(path)
    settings = load_settings(database_url="sqlite://", _env_file=None)
    plan_tick(database, now=at(2027, 9, 20, 23), holidays=later, settings=settings, redate=True)
    with database.session() as session:
        moved = session.get_one(Meeting, meeting_id)
        assert (moved.held_on, moved.moved_from, moved.move_reason, moved.holiday) == (
            date(2027, 10, 8),
            date(2027, 10, 5),
            "moved_for_holiday",
            "national_day",
        )
        assert moved.starts_at.astimezone(SH) == at(2027, 10, 8, 9)
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "meeting.redate"))
        assert audit.subject == f"meeting:{meeting_id}"
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.rule == ORGLIFE_MOVED))
        notices = {row.member_id: row for row in rows}
    # The members who can be reached are told, after the quiet hours.
    assert set(notices) == {world.members["sec"], world.members["m1"]}
    notice = notices[world.members["m1"]]
    assert "10月5日" in notice.text and "2027年10月8日" in notice.text and "国庆" in notice.text
    assert notice.next_attempt_at.astimezone(SH) == at(2027, 9, 21, 7, 30)
    # Another tick neither moves it again nor retires the notice before it is sent.
    plan_tick(database, now=at(2027, 9, 21, 8), holidays=later, settings=settings, redate=True)
    with database.session() as session:
        again = session.exec(select(OutboxMessage).where(OutboxMessage.rule == ORGLIFE_MOVED))
        assert {row.status for row in again} == {OutboxStatus.PENDING}
        assert len(session.exec(select(AuditEntry)).all()) == 1


def test_secretary_moves_and_kept_days_stay(
    database: Database, world: World, tmp_path: Path
) -> None:
    meeting_id = stored_october(database, world, HOLIDAYS)
    with database.session() as session:
        org = session.get_one(Organization, world.orgs["B2"])
        org.holiday_policy = HolidayPolicy.KEEP.value
        session.add(org)
        kept = Meetings(session, holidays=HOLIDAYS, tz=SH).ensure_org_life(org, 2027, 10)
        kept_id = kept.id
        moved = session.get_one(Meeting, meeting_id)
        moved.held_on, moved.moved_from = date(2027, 10, 12), date(2027, 10, 5)
        moved.move_reason = "moved_by_secretary"
        session.add(moved)
    path = tmp_path / "holidays.toml"
    path.write_text(NATIONAL_DAY_2027, encoding="utf-8")
    with database.session() as session:
        found = redate_org_life_days(
            session, holidays=HolidayCalendar.load(path), now=at(2027, 9, 20, 10)
        )
    assert found == []
    with database.session() as session:
        assert session.get_one(Meeting, meeting_id).held_on == date(2027, 10, 12)
        # `keep` stays a setting: the day stays, its note now says it falls on the holiday.
        stays = session.get_one(Meeting, kept_id)
        assert (stays.held_on, stays.move_reason) == (date(2027, 10, 5), "kept_on_holiday")


def test_operator_and_secretaries_are_warned_past_the_holiday_data(
    chat: Chat, world: World, clock: FrozenClock
) -> None:
    assert missing_holiday_years(HOLIDAYS, date(2026, 9, 1)) == []
    assert missing_holiday_years(HOLIDAYS, date(2026, 11, 3)) == [2027]
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    member = chat.as_("u-m1").bound(world.invites["m1"])
    warning = "2027年的国家法定节假日安排尚未导入"
    assert warning in sec.say("日程")
    assert warning not in member.say("日程")
    clock.set(at(2026, 9, 1, 10))
    assert warning not in sec.say("日程")


def test_a_start_logs_when_the_holiday_data_runs_out(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(database_url="sqlite://", _env_file=None)
    jobs = ReminderJobs(
        database=database,
        clock=FrozenClock(at(2026, 11, 3, 9)),
        settings=settings,
        holidays=HOLIDAYS,
        plan=False,
    )

    async def start_and_stop() -> None:
        await jobs.start()
        await jobs.stop()

    with caplog.at_level(logging.WARNING):
        asyncio.run(start_and_stop())
    assert "official holiday calendar of 2027 is not known" in caplog.text


def test_roll_call_counts_members_on_leave_as_expected(
    chat: Chat, world: World, database: Database
) -> None:
    code = open_code(chat, world)
    with database.session() as session:
        today = session.exec(select(Meeting).where(Meeting.kind == MeetingKind.ORG_LIFE)).one()
        session.add(
            Attendance(
                meeting_id=today.id,
                member_id=world.members["m2"],
                status=AttendanceStatus.LEAVE,
                at=at(2026, 11, 2, 20),
                reason="出差",
            )
        )
    for name in ("deputy", "liaison", "m1"):
        chat.as_(f"u-{name}").bound(world.invites[name]).say(f"签到 {code}")
    sec = chat.as_("u-sec")
    sec.say(f"签到 {code}")
    sec.say("/lang zh")
    assert "应到5人，实到4人（出勤率80%），请假1人，缺席0人。" in sec.say("出勤")
