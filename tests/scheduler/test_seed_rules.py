"""The rules of the seeds: where records count, the convener, the three reports, holiday data."""

from __future__ import annotations

from datetime import date

from bot.core.domain import ActivityKind, Duty, MeetingKind
from bot.services.compliance import Subject
from bot.services.ledger import Ledger
from bot.services.obligations.facts import load_facts
from bot.services.obligations.rules import Rule, pending_for
from bot.services.summary import year_summaries
from bot.texts.reminders import render_push
from bot.texts.translation import translator
from storage.engine import Database
from storage.models import Activity, RotaOverride
from storage.reminders import MovementDirection, mark_movement
from tests.factories import World
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
