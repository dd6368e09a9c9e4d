"""Who hosts: periods in many phrasings, alliances and pairings, and overrides."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from bot.texts.translation import translator
from handlers.roster import SpanError, parse_span
from storage.engine import Database
from storage.models import AuditEntry, RotaOverride
from tests.factories import World
from tests.helpers import Chat

TODAY = date(2026, 11, 3)
EN = translator("en")


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("", date(2026, 10, 1), date(2026, 12, 31)),
        ("本季度", date(2026, 10, 1), date(2026, 12, 31)),
        ("下季度", date(2027, 1, 1), date(2027, 3, 31)),
        ("next quarter", date(2027, 1, 1), date(2027, 3, 31)),
        ("上季度", date(2026, 7, 1), date(2026, 9, 30)),
        ("本月", date(2026, 11, 1), date(2026, 11, 30)),
        ("下个月", date(2026, 12, 1), date(2026, 12, 31)),
        ("2027Q1", date(2027, 1, 1), date(2027, 3, 31)),
        ("2027 q2", date(2027, 4, 1), date(2027, 6, 30)),
        ("2027年第一季度", date(2027, 1, 1), date(2027, 3, 31)),
        ("2027年第4季度", date(2027, 10, 1), date(2027, 12, 31)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        ("2027年2月", date(2027, 2, 1), date(2027, 2, 28)),
        ("2027", date(2027, 1, 1), date(2027, 12, 31)),
    ],
)
def test_parse_span(text: str, first: date, last: date) -> None:
    span = parse_span(text, today=TODAY, t=EN)
    assert (span.first_day, span.last_day) == (first, last)


@pytest.mark.parametrize(
    "text", ["明年春天", "2027Q5", "2026-13", "'; DROP TABLE meeting; --", "🙂" * 50]
)
def test_parse_span_refuses_nonsense(text: str) -> None:
    with pytest.raises(SpanError):
        parse_span(text, today=TODAY, t=EN)


@pytest.fixture
def member(chat: Chat, world: World) -> Chat:
    bound = chat.bound(world.invites["m1"])
    bound.say("/lang en")
    return bound


def test_this_quarter(member: Chat) -> None:
    reply = member.say("本季度谁主持")
    assert "Q4 2026" in reply
    assert "Executive president unit" in reply and "第1支部" in reply
    # Theme days rotate over all four units month by month from January 2026: November is 第3支部.
    assert "Theme party day on duty (November 2026): 第3支部" in reply
    assert "Theme party day on duty (December 2026): 第4支部" in reply
    assert "Joint meeting convener" in reply
    assert "Host of Q4 2026: 第2支部" in reply
    assert "Visits in 2026: 0 held, target 3." in reply


def test_next_quarter_and_named_quarter(member: Chat) -> None:
    assert member.say("下季度谁主持") == member.say("/roster 2027Q1")
    reply = member.say("谁主持 2027年第一季度")
    assert "Host of Q1 2027: 第1支部" in reply
    assert "Theme party day on duty (January 2027): 第4支部" not in reply  # 12 months on: 第1支部
    assert "Theme party day on duty (January 2027): 第1支部" in reply


def test_unreadable_period(member: Chat) -> None:
    assert "could not read that period" in member.say("谁主持 明年春天")


def test_override_replace_and_swap(
    member: Chat, chat: Chat, world: World, database: Database
) -> None:
    assert "Only the branch secretary" in member.say("调整轮值 2026-12 B1 活动冲突")
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "Usage" in sec.say("调整轮值 2026-12")
    assert "Done" in sec.say("调整轮值 2026-12 B1 第4支部场地维修")
    reply = sec.say("谁主持 2026-12")
    assert (
        "Theme party day on duty (December 2026): 第1支部 (changed from 第4支部: 第4支部场地维修)"
        in reply
    )
    assert "Done" in sec.say("调整轮值 2026-11 2026-12 对调")
    reply = sec.say("谁主持 本季度")
    assert "(November 2026): 第1支部" in reply and "(December 2026): 第3支部" in reply
    assert "No unit of your alliance is called ZZZ" in sec.say("调整轮值 2027-01 ZZZ 原因")
    assert "could not read that period" in sec.say("调整轮值 2027-13 B1 原因")
    with database.session() as session:
        overrides = session.exec(select(RotaOverride)).all()
        audit = [row.action for row in session.exec(select(AuditEntry)).all()]
    assert sorted(o.period for o in overrides) == ["2026-11", "2026-12"]
    assert audit.count("rota.override") == 3


def test_convener_override_needs_a_president_unit(chat: Chat, world: World) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    assert "Only president units" in sec.say("调整轮值 召集 2027Q1 B4 原因")
    assert "Done" in sec.say("调整轮值 召集 2027Q1 B3 原因")
    assert "Joint meeting convener (" in sec.say("谁主持 2027Q1")


def test_override_takes_unit_names_prefixes_and_numbers(
    chat: Chat, world: World, database: Database
) -> None:
    sec = chat.as_("u-sec").bound(world.invites["sec"])
    sec.say("/lang en")
    # The chat never shows codes: a unit is named by its name, a unique beginning, or a number.
    assert "Done" in sec.say("调整轮值 2026-12 第2支部 场地维修")
    assert "Done" in sec.say("调整轮值 2027-01 第3 人手不足")
    reply = sec.say("调整轮值 2027-02 第 人手不足")
    assert "Several units of your alliance have names beginning with 第" in reply
    assert "1. 第1支部\n2. 第2支部\n3. 第3支部\n4. 第4支部" in reply
    assert "/override 2027-02 2 人手不足" in reply
    assert "Done" in sec.say("调整轮值 2027-02 4 人手不足")
    assert "No unit of your alliance is called 9" in sec.say("调整轮值 2027-03 9 原因")
    assert "1. 第1支部" in sec.say("调整轮值 2027-03")
    with database.session() as session:
        chosen = {
            row.period: row.organization_id for row in session.exec(select(RotaOverride)).all()
        }
    assert chosen == {
        "2026-12": world.orgs["B2"],
        "2027-01": world.orgs["B3"],
        "2027-02": world.orgs["B4"],
    }
