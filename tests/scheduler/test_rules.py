"""The reminder rules: each one fires when something is owed, and stops once it is done."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.calendar.holidays import HolidayCalendar
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    Duty,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
)
from bot.core.inbound import Channel
from bot.services.obligations.facts import PairingFact, load_facts, parse_setting
from bot.services.obligations.rules import (
    Push,
    Rule,
    due_pushes,
    is_quiet,
    pending_for,
    visits_expected,
)
from bot.texts.reminders import render_pending, render_push
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import (
    Activity,
    Attendance,
    ChatAccount,
    Meeting,
    Member,
    Organization,
    Pairing,
    RotaOverride,
)
from storage.reminders import (
    FilingKind,
    FilingMethod,
    MobileReport,
    MovementDirection,
    alliance_scope,
    mark_movement,
    org_scope,
    pairing_scope,
    record_filing,
    record_mobile_report,
    set_reminder_setting,
)
from tests.factories import World

SH = ZoneInfo("Asia/Shanghai")
HOLIDAYS = HolidayCalendar.load()
EVERYONE = ("sec", "deputy", "liaison", "m1", "m2", "sec2", "m3")
B1 = ("sec", "deputy", "liaison", "m1", "m2")
B2 = ("sec2", "m3")


# -- helpers shared by the scheduler tests -------------------------------------------------


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Returns a Shanghai wall-clock moment."""
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def give_accounts(database: Database, world: World, names: tuple[str, ...] = EVERYONE) -> None:
    """Binds a console account (external id = the name) to each named member."""
    with database.session() as session:
        for name in names:
            session.add(
                ChatAccount(
                    channel=Channel.CONSOLE,
                    external_id=name,
                    member_id=world.members[name],
                    created_at=at(2026, 1, 1),
                )
            )


def pushes_at(database: Database, moment: datetime) -> list[Push]:
    """Runs the rules on the database at `moment`."""
    with database.session() as session:
        facts = load_facts(session, now=moment, holidays=HOLIDAYS)
    return due_pushes(facts)


def due(
    database: Database, world: World, moment: datetime, rule: Rule | None = None
) -> set[tuple[str, str]]:
    """Returns (member name, period) of the pushes due at `moment`, optionally of one rule."""
    names = {member_id: name for name, member_id in world.members.items()}
    return {
        (names[push.member_id], push.period)
        for push in pushes_at(database, moment)
        if rule is None or push.rule is rule
    }


def who(database: Database, world: World, moment: datetime, rule: Rule) -> set[str]:
    """Returns the names of the members pushed `rule` at `moment`."""
    return {name for name, _ in due(database, world, moment, rule)}


def add_meeting(
    database: Database,
    *,
    org: int,
    kind: MeetingKind,
    held_on: date,
    period: str,
    alliance_id: int | None = None,
    pairing_id: int | None = None,
    status: MeetingStatus = MeetingStatus.PLANNED,
) -> int:
    """Stores a meeting and returns its id."""
    with database.session() as session:
        meeting = Meeting(
            organization_id=org,
            kind=kind,
            period=period,
            held_on=held_on,
            starts_at=datetime.combine(held_on, time(9, 0), tzinfo=SH),
            alliance_id=alliance_id,
            pairing_id=pairing_id,
            checkin_code="123456",
            status=status,
        )
        session.add(meeting)
        session.flush()
        assert meeting.id is not None
        return meeting.id


def add_activity(
    database: Database,
    *,
    org: int,
    kind: ActivityKind,
    held_on: date,
    pairing_id: int | None = None,
    alliance_id: int | None = None,
) -> None:
    """Stores a ledger entry."""
    with database.session() as session:
        session.add(
            Activity(
                organization_id=org,
                kind=kind,
                held_on=held_on,
                title="t",
                participants=5,
                summary="s",
                pairing_id=pairing_id,
                alliance_id=alliance_id,
                created_at=at(2026, 1, 1),
            )
        )


def set_member(database: Database, world: World, name: str, **values: object) -> None:
    """Changes columns of a member."""
    with database.session() as session:
        member = session.get_one(Member, world.members[name])
        for key, value in values.items():
            setattr(member, key, value)
        session.add(member)


# -- quiet hours and settings --------------------------------------------------------------


def test_quiet_hours_wrap_past_midnight() -> None:
    start, end = time(22, 0), time(7, 30)
    assert is_quiet(time(22, 0), start, end)
    assert is_quiet(time(3, 0), start, end)
    assert not is_quiet(time(7, 30), start, end)
    assert not is_quiet(time(21, 59), start, end)
    assert is_quiet(time(13, 0), time(12, 0), time(14, 0))
    assert not is_quiet(time(15, 0), time(12, 0), time(14, 0))
    assert not is_quiet(time(15, 0), time(0, 0), time(0, 0))


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("orglife_eve_time", "18:30", time(18, 30)),
        ("orglife_eve_time", "18：30", time(18, 30)),
        ("theme_lead_days", "3, 14,14", (14, 3)),
        ("opinion_day", "25", 25),
    ],
)
def test_settings_parse(name: str, text: str, value: object) -> None:
    assert parse_setting(name, text) == value


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("orglife_eve_time", "7pm"),
        ("orglife_eve_time", "25:00"),
        ("theme_lead_days", ""),
        ("theme_lead_days", "14,-3"),
        ("opinion_day", "31"),
        ("ledger_every_days", "0"),
        ("no_such_setting", "1"),
    ],
)
def test_bad_settings_are_refused(name: str, text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_setting(name, text)


# -- organization-life day -----------------------------------------------------------------


def test_orglife_evening_before_and_morning_of(database: Database, world: World) -> None:
    give_accounts(database, world)
    assert due(database, world, at(2026, 11, 2, 18, 59), Rule.ORGLIFE) == set()
    evening = due(database, world, at(2026, 11, 2, 19, 0), Rule.ORGLIFE)
    assert evening == {(name, "2026-11-03-eve") for name in EVERYONE}
    # Quiet hours hold the evening reminder; the morning one replaces it.
    assert due(database, world, at(2026, 11, 2, 23, 0), Rule.ORGLIFE) == set()
    morning = pushes_at(database, at(2026, 11, 3, 7, 30))
    assert {p.period for p in morning if p.rule is Rule.ORGLIFE} == {"2026-11-03-morning"}
    assert all(p.urgent for p in morning if p.rule is Rule.ORGLIFE)
    # Once the meeting has started there is nothing left to remind.
    assert due(database, world, at(2026, 11, 3, 9, 0), Rule.ORGLIFE) == set()


def test_orglife_key_names_rule_subject_period_and_recipient(
    database: Database, world: World
) -> None:
    give_accounts(database, world, ("m1",))
    [push] = [p for p in pushes_at(database, at(2026, 11, 2, 20)) if p.rule is Rule.ORGLIFE]
    assert push.key == f"orglife:org:{world.orgs['B1']}:2026-11-03-eve:m{world.members['m1']}"
    assert push.essential and not push.urgent


def test_orglife_skips_leave_present_muted_no_account_and_departed(
    database: Database, world: World
) -> None:
    give_accounts(database, world, ("sec", "deputy", "liaison", "m1", "m2"))
    meeting = add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.ORG_LIFE,
        held_on=date(2026, 11, 3),
        period="2026-11",
    )
    with database.session() as session:
        session.add(
            Attendance(
                meeting_id=meeting,
                member_id=world.members["m1"],
                status=AttendanceStatus.LEAVE,
                at=at(2026, 11, 1),
                reason="ill",
            )
        )
        session.add(
            Attendance(
                meeting_id=meeting,
                member_id=world.members["m2"],
                status=AttendanceStatus.PRESENT,
                at=at(2026, 11, 3, 7),
            )
        )
    set_member(database, world, "sec", muted=True)
    set_member(database, world, "deputy", status=MemberStatus.DEPARTED)
    # Muting does not silence the org-life day; leave, sign-in, departure and no account do.
    assert who(database, world, at(2026, 11, 3, 7, 45), Rule.ORGLIFE) == {"sec", "liaison"}


def test_orglife_follows_a_moved_or_cancelled_meeting(database: Database, world: World) -> None:
    give_accounts(database, world, ("m1", "m3"))
    add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.ORG_LIFE,
        held_on=date(2026, 11, 5),
        period="2026-11",
    )
    add_meeting(
        database,
        org=world.orgs["B2"],
        kind=MeetingKind.ORG_LIFE,
        held_on=date(2026, 11, 3),
        period="2026-11",
        status=MeetingStatus.CANCELLED,
    )
    assert due(database, world, at(2026, 11, 2, 20), Rule.ORGLIFE) == set()
    assert due(database, world, at(2026, 11, 4, 20), Rule.ORGLIFE) == {("m1", "2026-11-05-eve")}


def test_orglife_moved_by_a_holiday_says_why(database: Database, world: World) -> None:
    give_accounts(database, world, ("m1", "m3"))
    with database.session() as session:
        # Moving to the next working day is the default; keeping the day is a setting.
        assert session.get_one(Organization, world.orgs["B1"]).holiday_policy == "next_workday"
        b2 = session.get_one(Organization, world.orgs["B2"])
        b2.holiday_policy = "keep"
        session.add(b2)
    # 6 October 2026 is in the National Day holiday: B1 moves to Thursday the 8th, B2 keeps it.
    assert due(database, world, at(2026, 10, 5, 19), Rule.ORGLIFE) == {("m3", "2026-10-06-eve")}
    [push] = [p for p in pushes_at(database, at(2026, 10, 7, 19)) if p.rule is Rule.ORGLIFE]
    assert push.member_id == world.members["m1"]
    assert push.values["moved_from"] == date(2026, 10, 6)
    text = render_push(translator("en"), push)
    assert "tomorrow" in text and "October 8, 2026" in text
    assert "Moved from Oct 6, 2026 because of National Day." in text
    [kept] = [p for p in pushes_at(database, at(2026, 10, 6, 8)) if p.rule is Rule.ORGLIFE]
    assert "Kept on this day although it falls in National Day." in render_push(
        translator("en"), kept
    )


def test_orglife_times_configurable_per_org(database: Database, world: World) -> None:
    give_accounts(database, world, ("m1", "m3"))
    with database.session() as session:
        set_reminder_setting(
            session=session,
            scope=org_scope(world.orgs["B1"]),
            name="orglife_eve_time",
            value="18:00",
        )
        set_reminder_setting(
            session=session, scope="default", name="orglife_eve_time", value="nonsense"
        )
    assert who(database, world, at(2026, 11, 2, 18, 0), Rule.ORGLIFE) == {"m1"}
    assert who(database, world, at(2026, 11, 2, 19, 0), Rule.ORGLIFE) == {"m1", "m3"}


# -- theme party day on duty ---------------------------------------------------------------


def test_theme_duty_fourteen_and_three_days_before(database: Database, world: World) -> None:
    give_accounts(database, world)
    set_member(database, world, "sec", muted=True)
    # January 2027 is B1's turn (the rotation of four units started in January 2026).
    assert due(database, world, at(2026, 12, 18, 8, 59), Rule.THEME_DUTY) == set()
    fourteen = due(database, world, at(2026, 12, 18, 9), Rule.THEME_DUTY)
    assert fourteen == {("sec", "2027-01-d14"), ("liaison", "2027-01-d14")}
    assert due(database, world, at(2026, 12, 25, 9), Rule.THEME_DUTY) == fourteen
    three = due(database, world, at(2026, 12, 29, 9), Rule.THEME_DUTY)
    assert three == {("sec", "2027-01-d3"), ("liaison", "2027-01-d3")}
    [push] = [
        p
        for p in pushes_at(database, at(2026, 12, 29, 9))
        if p.rule is Rule.THEME_DUTY and p.member_id == world.members["liaison"]
    ]
    text = render_push(translator("en"), push)
    assert "in 3 days" in text and "January 1, 2027" in text and "红湾联盟" in text


def test_theme_duty_follows_overrides_and_stops_when_the_day_is_set(
    database: Database, world: World
) -> None:
    give_accounts(database, world)
    with database.session() as session:
        session.add(
            RotaOverride(
                alliance_id=world.alliance_id,
                duty=Duty.THEME_DAY,
                period="2027-01",
                organization_id=world.orgs["B2"],
                reason="swap",
                created_at=at(2026, 12, 1),
            )
        )
    assert who(database, world, at(2026, 12, 18, 9), Rule.THEME_DUTY) == {"sec2"}
    add_meeting(
        database,
        org=world.orgs["B2"],
        kind=MeetingKind.THEME_DAY,
        held_on=date(2027, 1, 12),
        period="2027-01",
        alliance_id=world.alliance_id,
    )
    assert who(database, world, at(2026, 12, 29, 9), Rule.THEME_DUTY) == set()


def test_theme_duty_lead_days_configurable_per_alliance(database: Database, world: World) -> None:
    give_accounts(database, world)
    with database.session() as session:
        set_reminder_setting(
            session=session,
            scope=alliance_scope(world.alliance_id),
            name="theme_lead_days",
            value="7",
        )
    assert who(database, world, at(2026, 12, 18, 9), Rule.THEME_DUTY) == set()
    assert due(database, world, at(2026, 12, 25, 9), Rule.THEME_DUTY) == {
        ("sec", "2027-01-d7"),
        ("liaison", "2027-01-d7"),
    }


def test_theme_duty_lead_days_of_the_unit_on_duty_win(database: Database, world: World) -> None:
    give_accounts(database, world)
    with database.session() as session:
        set_reminder_setting(
            session=session,
            scope=alliance_scope(world.alliance_id),
            name="theme_lead_days",
            value="7",
        )
        # B1 (on duty in January 2027) wants a month's notice, B2 (February) two months'.
        set_reminder_setting(
            session=session, scope=org_scope(world.orgs["B1"]), name="theme_lead_days", value="30"
        )
        set_reminder_setting(
            session=session, scope=org_scope(world.orgs["B2"]), name="theme_lead_days", value="60"
        )
    assert who(database, world, at(2026, 12, 2, 8, 59), Rule.THEME_DUTY) == set()
    assert due(database, world, at(2026, 12, 2, 9), Rule.THEME_DUTY) == {
        ("sec", "2027-01-d30"),
        ("liaison", "2027-01-d30"),
    }
    # February 2027 is B2's turn: its own 60 days reach past the alliance's horizon.
    assert ("sec2", "2027-02-d60") in due(database, world, at(2026, 12, 3, 9), Rule.THEME_DUTY)


# -- joint meeting -------------------------------------------------------------------------


def test_joint_meeting_weekly_from_mid_quarter_until_recorded(
    database: Database, world: World
) -> None:
    give_accounts(database, world)
    # B1 convenes 2026Q4; the quarter is half gone on 16 November.
    assert due(database, world, at(2026, 11, 15, 12), Rule.JOINT_MEETING) == set()
    assert due(database, world, at(2026, 11, 16, 9), Rule.JOINT_MEETING) == {
        ("sec", "2026Q4-w0"),
        ("liaison", "2026Q4-w0"),
    }
    assert due(database, world, at(2026, 11, 22, 12), Rule.JOINT_MEETING) == {
        ("sec", "2026Q4-w0"),
        ("liaison", "2026Q4-w0"),
    }
    assert due(database, world, at(2026, 11, 23, 9), Rule.JOINT_MEETING) == {
        ("sec", "2026Q4-w1"),
        ("liaison", "2026Q4-w1"),
    }
    set_member(database, world, "liaison", muted=True)
    assert who(database, world, at(2026, 11, 23, 9), Rule.JOINT_MEETING) == {"sec"}
    add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.JOINT_MEETING,
        held_on=date(2026, 12, 10),
        period="2026Q4",
        alliance_id=world.alliance_id,
    )
    assert due(database, world, at(2026, 11, 30, 9), Rule.JOINT_MEETING) == set()


def test_joint_meeting_reported_as_an_activity_also_counts(
    database: Database, world: World
) -> None:
    give_accounts(database, world)
    add_activity(
        database, org=world.orgs["B2"], kind=ActivityKind.JOINT_MEETING, held_on=date(2026, 11, 20)
    )
    assert due(database, world, at(2026, 11, 23, 9), Rule.JOINT_MEETING) == set()
    # One of the last quarter does not.
    assert who(database, world, at(2027, 2, 15, 9), Rule.JOINT_MEETING) == {"sec2"}


# -- pairings ------------------------------------------------------------------------------


def test_visit_path_asks_for_visits_through_the_year() -> None:
    pairing = PairingFact(1, "P", "p", 1, date(2026, 1, 1), None, 3, (1, 2))
    assert [
        visits_expected(pairing, 3, d)
        for d in (
            date(2026, 3, 1),
            date(2026, 3, 2),
            date(2026, 7, 1),
            date(2026, 7, 2),
            date(2026, 10, 31),
            date(2026, 11, 1),
        )
    ] == [0, 1, 1, 2, 2, 3]
    late = PairingFact(1, "P", "p", 1, date(2026, 7, 1), None, 3, (1, 2))
    assert visits_expected(late, 3, date(2026, 8, 30)) == 1


def test_pairing_behind_its_visits_nudges_both_liaisons(database: Database, world: World) -> None:
    give_accounts(database, world)
    add_meeting(
        database,
        org=world.orgs["B1"],
        kind=MeetingKind.VISIT,
        held_on=date(2026, 3, 10),
        period="2026-03",
        pairing_id=world.pairing_id,
    )
    add_activity(
        database,
        org=world.orgs["B2"],
        kind=ActivityKind.VISIT,
        held_on=date(2026, 6, 20),
        pairing_id=world.pairing_id,
    )
    # Two visits: on track until the third falls due on 1 November.
    assert due(database, world, at(2026, 10, 20, 10), Rule.PAIRING_VISITS) == set()
    # B2 names no liaison, so its secretary is told.
    assert due(database, world, at(2026, 11, 3, 10), Rule.PAIRING_VISITS) == {
        ("liaison", "2026-11"),
        ("sec2", "2026-11"),
    }
    [push] = [
        p
        for p in pushes_at(database, at(2026, 11, 3, 10))
        if p.rule is Rule.PAIRING_VISITS and p.member_id == world.members["liaison"]
    ]
    assert "made 2 of its 3 visits" in render_push(translator("en"), push)
    add_meeting(
        database,
        org=world.orgs["B2"],
        kind=MeetingKind.VISIT,
        held_on=date(2026, 11, 3),
        period="2026-11",
        pairing_id=world.pairing_id,
    )
    assert due(database, world, at(2026, 11, 3, 10), Rule.PAIRING_VISITS) == set()


def test_pairing_without_joint_activity_by_mid_quarter(database: Database, world: World) -> None:
    give_accounts(database, world)
    assert due(database, world, at(2026, 11, 15, 10), Rule.PAIRING_QUIET) == set()
    assert due(database, world, at(2026, 11, 16, 9), Rule.PAIRING_QUIET) == {
        ("liaison", "2026Q4"),
        ("sec2", "2026Q4"),
    }
    add_activity(
        database,
        org=world.orgs["B1"],
        kind=ActivityKind.STUDY,
        held_on=date(2026, 10, 9),
        pairing_id=world.pairing_id,
    )
    assert due(database, world, at(2026, 11, 16, 9), Rule.PAIRING_QUIET) == set()


def test_ended_pairing_is_not_nudged(database: Database, world: World) -> None:
    give_accounts(database, world)
    with database.session() as session:
        pairing = session.get_one(Pairing, world.pairing_id)
        pairing.agreement_end = date(2026, 6, 30)
        session.add(pairing)
    moment = at(2026, 11, 16, 9)
    assert who(database, world, moment, Rule.PAIRING_QUIET) == set()
    assert who(database, world, moment, Rule.PAIRING_VISITS) == set()


# -- ledger, plan, summary, opinion, mobile -------------------------------------------------


def test_ledger_in_the_last_ten_days_until_filed(database: Database, world: World) -> None:
    give_accounts(database, world)
    assert due(database, world, at(2026, 12, 21, 12), Rule.LEDGER) == set()
    first = due(database, world, at(2026, 12, 22, 9), Rule.LEDGER)
    assert first == {("sec", "2026Q4-n0"), ("liaison", "2026Q4-n0"), ("sec2", "2026Q4-n0")}
    assert {p for _, p in due(database, world, at(2026, 12, 25, 9), Rule.LEDGER)} == {"2026Q4-n1"}
    with database.session() as session:
        assert record_filing(
            session=session,
            kind=FilingKind.LEDGER,
            scope=org_scope(world.orgs["B1"]),
            period="2026Q4",
            method=FilingMethod.EXPORTED,
            at=at(2026, 12, 26),
            by=None,
        )
        assert not record_filing(
            session=session,
            kind=FilingKind.LEDGER,
            scope=org_scope(world.orgs["B1"]),
            period="2026Q4",
            method=FilingMethod.SUBMITTED,
            at=at(2026, 12, 27),
            by=None,
        )
    assert who(database, world, at(2026, 12, 28, 9), Rule.LEDGER) == {"sec2"}
    assert due(database, world, at(2027, 1, 2, 9), Rule.LEDGER) == set()


def test_annual_plan_in_january_and_summary_in_december(database: Database, world: World) -> None:
    give_accounts(database, world)
    plan = due(database, world, at(2026, 1, 5, 9), Rule.ANNUAL_PLAN)
    assert plan == {("sec", "2026-w0"), ("liaison", "2026-w0")}
    pushes = [p for p in pushes_at(database, at(2026, 1, 5, 9)) if p.rule is Rule.ANNUAL_PLAN]
    assert {p.subject for p in pushes} == {
        alliance_scope(world.alliance_id),
        pairing_scope(world.pairing_id),
    }
    assert due(database, world, at(2026, 1, 4, 12), Rule.ANNUAL_PLAN) == set()
    assert due(database, world, at(2026, 2, 5, 9), Rule.ANNUAL_PLAN) == set()
    with database.session() as session:
        for scope in (alliance_scope(world.alliance_id), pairing_scope(world.pairing_id)):
            record_filing(
                session=session,
                kind=FilingKind.ANNUAL_PLAN,
                scope=scope,
                period="2026",
                method=FilingMethod.SUBMITTED,
                at=at(2026, 1, 6),
                by=None,
            )
    assert due(database, world, at(2026, 1, 12, 9), Rule.ANNUAL_PLAN) == set()
    assert due(database, world, at(2026, 12, 1, 9), Rule.YEAR_SUMMARY) == {
        ("sec", "2026-w0"),
        ("liaison", "2026-w0"),
    }


def test_opinion_solicitation_from_the_twentieth(database: Database, world: World) -> None:
    give_accounts(database, world)
    assert due(database, world, at(2026, 11, 19, 12), Rule.OPINION) == set()
    assert due(database, world, at(2026, 11, 20, 9), Rule.OPINION) == {
        ("sec", "2026-11"),
        ("sec2", "2026-11"),
    }
    add_activity(
        database, org=world.orgs["B1"], kind=ActivityKind.OPINION, held_on=date(2026, 11, 12)
    )
    assert who(database, world, at(2026, 11, 21, 9), Rule.OPINION) == {"sec2"}
    # Last month's solicitation does not count for this month.
    assert who(database, world, at(2026, 12, 20, 9), Rule.OPINION) == {"sec", "sec2"}


def test_mobile_member_three_reports(database: Database, world: World) -> None:
    give_accounts(database, world)
    with database.session() as session:
        mark_movement(
            session=session,
            member_id=world.members["m1"],
            direction=MovementDirection.LEAVING,
            at=at(2026, 11, 3, 10),
            by=None,
            place="深圳",
        )
    assert due(database, world, at(2026, 11, 3, 10), Rule.MOBILE) == {("m1", "2026-11-03-w0")}
    assert due(database, world, at(2026, 11, 10, 10), Rule.MOBILE) == {("m1", "2026-11-03-w1")}
    with database.session() as session:
        assert record_mobile_report(
            session=session,
            member_id=world.members["m1"],
            report=MobileReport.WHEREABOUTS,
            at=at(2026, 11, 4),
        )
        assert not record_mobile_report(
            session=session,
            member_id=world.members["m1"],
            report=MobileReport.ARRIVAL,
            at=at(2026, 11, 4),
        )
    assert due(database, world, at(2026, 11, 10, 10), Rule.MOBILE) == set()
    with database.session() as session:
        mark_movement(
            session=session,
            member_id=world.members["m1"],
            direction=MovementDirection.ARRIVING,
            at=at(2026, 11, 20, 10),
            by=None,
        )
        record_mobile_report(
            session=session,
            member_id=world.members["m1"],
            report=MobileReport.ARRIVAL,
            at=at(2026, 11, 21),
        )
    [push] = [p for p in pushes_at(database, at(2026, 11, 27, 10)) if p.rule is Rule.MOBILE]
    assert push.values["reports"] == ("workplace",)
    assert "workplace" in render_push(translator("en"), push)
    # A mobile member may mute this nudge.
    set_member(database, world, "m1", muted=True)
    assert due(database, world, at(2026, 11, 27, 10), Rule.MOBILE) == set()


def test_no_account_means_no_push(database: Database, world: World) -> None:
    assert pushes_at(database, at(2026, 11, 2, 20)) == []


# -- what a branch owes --------------------------------------------------------------------


def test_pending_lists_what_the_branch_owes_this_quarter(database: Database, world: World) -> None:
    with database.session() as session:
        facts = load_facts(session, now=at(2026, 11, 3, 10), holidays=HOLIDAYS)
    owed = {o.rule for o in pending_for(facts, world.orgs["B1"])}
    assert owed == {
        Rule.JOINT_MEETING,
        Rule.PAIRING_VISITS,
        Rule.PAIRING_QUIET,
        Rule.LEDGER,
        Rule.OPINION,
    }
    # B3 is on theme-day duty in November and convenes nothing.
    assert {o.rule for o in pending_for(facts, world.orgs["B3"])} == {
        Rule.THEME_DUTY,
        Rule.LEDGER,
        Rule.OPINION,
    }
    t = translator("en")
    lines = [render_pending(t, o) for o in pending_for(facts, world.orgs["B1"])]
    assert "Joint meeting of 红湾联盟 for Q4 2026: not recorded yet (第1支部 convenes)." in lines
    assert any(line.startswith("Visits of 一支部-二支部结对: 0 of 3") for line in lines)


def test_a_long_backlog_window_never_replays_missed_steps(database: Database, world: World) -> None:
    give_accounts(database, world)
    # Three weeks after the joint-meeting nudges began, only the current week is due.
    moment = at(2026, 11, 16, 9) + timedelta(weeks=3, hours=1)
    assert due(database, world, moment, Rule.JOINT_MEETING) == {
        ("sec", "2026Q4-w3"),
        ("liaison", "2026Q4-w3"),
    }
