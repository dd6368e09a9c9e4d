"""The year-end summary draft of each alliance and pairing, from the year's records."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime

import pytest

from bot.calendar.holidays import HolidayCalendar
from bot.core.domain import ActivityKind, MeetingKind
from bot.services.compliance import Subject
from bot.services.errors import ServiceError
from bot.services.ledger_book import LedgerActivity
from bot.services.summary import YearSummary, render_summary, year_summaries
from bot.texts.translation import translator
from storage.engine import Database
from storage.reminders import FilingKind, FilingMethod, pairing_scope, record_filing
from tests.factories import World
from tests.services.test_stats import SH, add_activity, add_meeting, answer, at, joined

HOLIDAYS = HolidayCalendar.load()


def summaries(
    database: Database, world: World, now: datetime, year: int = 2026, org: str = "B1"
) -> list[YearSummary]:
    """Drafts the summaries of an organization's groups at `now`."""
    with database.session() as session:
        return year_summaries(
            session, org_id=world.orgs[org], year=year, now=now, holidays=HOLIDAYS, tz=SH
        )


@pytest.fixture
def year_of_records(database: Database, world: World) -> World:
    """A year of joint work with gaps: Q2 without a joint meeting or activity, visits short."""
    joined(database, date(2026, 1, 1))
    b1, b2, b3 = world.orgs["B1"], world.orgs["B2"], world.orgs["B3"]
    for day, host in ((date(2026, 2, 10), b1), (date(2026, 8, 11), b3)):
        add_meeting(
            database,
            org=host,
            day=day,
            kind=MeetingKind.JOINT_MEETING,
            alliance_id=world.alliance_id,
            title="联席会议",
        )
    for day, host in ((date(2026, 1, 15), b1), (date(2026, 10, 13), b2)):
        add_meeting(
            database,
            org=host,
            day=day,
            kind=MeetingKind.THEME_DAY,
            alliance_id=world.alliance_id,
        )
    # The January theme day also has its ledger entry: the draft lists it once.
    add_activity(
        database,
        org=b1,
        day=date(2026, 1, 15),
        kind=ActivityKind.THEME_DAY,
        partners=(b2,),
        alliance_id=world.alliance_id,
        participants=20,
        title="新年主题党日",
    )
    add_meeting(
        database, org=b1, day=date(2026, 3, 5), kind=MeetingKind.VISIT, pairing_id=world.pairing_id
    )
    add_activity(
        database,
        org=b2,
        day=date(2026, 7, 10),
        kind=ActivityKind.VISIT,
        partners=(b1,),
        pairing_id=world.pairing_id,
        participants=9,
        title="二支部回访",
    )
    answer(database, add_meeting(database, org=b1, day=date(2026, 1, 6)), world, present=("sec",))
    answer(
        database,
        add_meeting(database, org=b1, day=date(2026, 2, 3)),
        world,
        present=("sec", "m1"),
    )
    return world


def test_the_year_of_an_alliance_and_a_pairing(database: Database, year_of_records: World) -> None:
    world = year_of_records
    alliance, pairing = summaries(database, world, at(2026, 12, 20, 12))

    assert (alliance.subject, alliance.name, alliance.lead) == (
        Subject.ALLIANCE,
        "红湾联盟",
        "第1支部",
    )
    assert alliance.orgs == ("第1支部", "第2支部", "第3支部", "第4支部")
    assert alliance.quarters_held == ("2026Q1", "2026Q3")
    assert alliance.quarters_missed == ("2026Q2",)
    assert alliance.theme_held == (("2026-01", "第1支部"), ("2026-10", "第2支部"))
    assert len(alliance.theme_missed) == 9
    assert ("2026-11", "第3支部") in alliance.theme_missed
    assert [a.title for a in alliance.activities] == ["新年主题党日"]
    first = alliance.org_life[0]
    assert (first.org, first.held, first.months, first.present, first.expected) == (
        "第1支部",
        2,
        12,
        3,
        10,
    )

    assert (pairing.subject, pairing.lead, pairing.visit_target) == (Subject.PAIRING, "第1支部", 3)
    assert pairing.visits == (date(2026, 3, 5), date(2026, 7, 10))
    assert pairing.quarters_held == ("2026Q1", "2026Q3")
    assert pairing.quarters_missed == ("2026Q2",)
    assert not pairing.summary_filed

    t = translator("en")
    text = render_summary(t, alliance)
    assert text.startswith("红湾联盟: year-end summary for 2026 (draft)")
    assert "Joint meetings held in 2 of 4 quarters: Q1 2026 and Q3 2026." in text
    assert "Theme party days on duty: 2 held, 9 not recorded." in text
    assert "No joint meeting in Q2 2026." in text
    assert "No theme party day recorded for 11/2026 (on duty: 第3支部)." in text
    assert text.count("新年主题党日") == 1
    assert "Aug 11, 2026 Joint meeting, hosted by 第3支部: 联席会议" in text
    assert "第1支部: organization-life days with attendance taken in 2 of 12 months" in text
    # 001: at the year's end every member unit reports how it did its part.
    assert "Appendix: how each unit did its part" in text
    assert (
        "第3支部 (President unit): organization life 0 of 12 months at 0%; hosted 1 joint meetings;"
        " reported 0 ledger entries; theme party days on duty 0/3;"
    ) in text
    assert "Hold the joint meeting every quarter without a gap." in text

    text = render_summary(t, pairing)
    assert "Visits (走亲串门): 2 of the 3 a year: Mar 5, 2026 and Jul 10, 2026." in text
    assert "Visits short of the target: 2 of 3." in text
    assert "No joint activity in Q2 2026." in text
    assert "Jul 10, 2026 Visit (走亲串门): 二支部回访 (第2支部, 9 participants)" in text
    assert "(To be completed by the lead organization.)" in text
    assert "Plan the 3 visits and one joint activity a quarter at the start of the year." in text


def test_a_filed_summary_and_a_clean_record(database: Database, world: World) -> None:
    for day in (date(2026, 2, 2), date(2026, 5, 5), date(2026, 8, 8)):
        add_meeting(
            database,
            org=world.orgs["B2"],
            day=day,
            kind=MeetingKind.VISIT,
            pairing_id=world.pairing_id,
        )
    with database.session() as session:
        record_filing(
            session=session,
            kind=FilingKind.YEAR_SUMMARY,
            scope=pairing_scope(world.pairing_id),
            period="2026",
            method=FilingMethod.SUBMITTED,
            at=at(2026, 12, 1),
            by=None,
        )
    [pairing] = [
        s
        for s in summaries(database, world, at(2026, 9, 30, 12), org="B2")
        if s.subject is Subject.PAIRING
    ]
    assert pairing.summary_filed
    assert pairing.quarters_due == ("2026Q1", "2026Q2", "2026Q3")
    text = render_summary(translator("en"), pairing)
    assert "None in the records." in text
    assert "already marked submitted" in text


def test_who_has_no_summary(database: Database, world: World) -> None:
    assert summaries(database, world, at(2026, 12, 20), org="C") == []
    # Neither the alliance nor the pairing existed in 2025.
    assert summaries(database, world, at(2026, 12, 20), year=2025) == []
    with pytest.raises(ServiceError) as raised:
        summaries(database, world, at(2026, 12, 20), year=2027)
    assert raised.value.code == "year_ahead"


def test_chinese_draft_renders(database: Database, year_of_records: World) -> None:
    [alliance, _pairing] = summaries(database, year_of_records, at(2026, 12, 20, 12))
    text = render_summary(translator("zh_CN"), alliance)
    assert "红湾联盟" in text and "2026" in text


def test_chinese_draft_reads_right(database: Database, year_of_records: World) -> None:
    [alliance, _pairing] = summaries(database, year_of_records, at(2026, 12, 20, 12))
    visit = LedgerActivity(
        id=1,
        held_on=date(2026, 10, 12),
        kind=ActivityKind.VISIT,
        org="第1支部",
        partners=("第2支部",),
        participants=8,
        title="走亲串门：到第2支部交流",
        summary="走亲串门：到第2支部交流",
        reporter="m1",
    )
    clean = replace(alliance, theme_missed=(), activities=(visit,))
    text = render_summary(translator("zh_CN"), clean)
    assert "0次未登记" not in text and "均已登记" in text
    assert "走亲串门：走亲串门" not in text and "走亲串门：到第2支部交流" in text
    assert re.search(r"[\u4e00-\u9fff]\s*[:;,()]|[:;,()]\s*[\u4e00-\u9fff]", text) is None, text
