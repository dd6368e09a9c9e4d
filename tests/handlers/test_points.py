"""积分 / /points: my points and rank; 积分 排名 for secretaries; years; configurable weights."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.engine.assembly import build_assistant
from storage.engine import Database
from tests.factories import World
from tests.helpers import Chat
from tests.services.test_points import seed


def english(chat: Chat, world: World, name: str) -> Chat:
    member = chat.as_(f"u-{name}").bound(world.invites[name])
    member.say("/lang en")
    return member


def test_my_points_with_breakdown_and_rank(chat: Chat, world: World, database: Database) -> None:
    seed(database, world)
    m1 = english(chat, world, "m1")
    reply = m1.say("积分")
    assert "Your points in 2026: 7" in reply
    assert "Sign-ins: 2 × 2 = 4" in reply
    assert "Activity reports: 1 × 3 = 3" in reply
    assert "Theme party days taken part in or organized: 0 × 5 = 0" in reply
    assert "Rank 2 of 5 in 第1支部" in reply
    sec = english(chat, world, "sec")
    assert "Theme party days taken part in or organized: 2 × 5 = 10" in sec.say("/points")
    assert "Rank 1 of 5" in sec.say("/points")


def test_another_year(chat: Chat, world: World, database: Database) -> None:
    seed(database, world)
    m2 = english(chat, world, "m2")
    assert "Your points in 2025: 5" in m2.say("积分 2025")
    assert "Your points in 2025: 5" in m2.say("/points 2025年")
    for bad in ("积分 1999", "积分 2027", "积分 abc", "/points 2025 2026", "积分 排名 x"):
        reply = m2.say(bad)
        assert "/points 2025" in reply and "Your points" not in reply, bad


def test_ranking_is_for_secretaries(chat: Chat, world: World, database: Database) -> None:
    seed(database, world)
    m1 = english(chat, world, "m1")
    for words in ("积分 排名", "/points rank", "积分排名"):
        reply = m1.say(words)
        assert "Only the branch secretary" in reply and "1. sec" not in reply, words
    sec = english(chat, world, "sec")
    for words in ("积分 排名", "/points rank", "积分排名", "/pointsrank"):
        reply = sec.say(words)
        lines = reply.splitlines()
        assert lines[0] == "Points of 第1支部 in 2026:", words
        assert lines[1].startswith("1. sec: 12 (sign-ins 1, reports 0, theme days 2)")
        assert lines[2].startswith("2. m1: 7")
        assert lines[4].startswith("4. deputy: 0") and lines[5].startswith("4. liaison: 0")
    assert "Points of 第1支部 in 2025:" in sec.say("积分 排名 2025")


def test_weights_come_from_the_settings(
    database_url: str,
    database: Database,
    clock: FrozenClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(database, world)
    settings = load_settings(
        database_url=database_url, points_checkin=10, points_report=0, _env_file=None
    )
    m1 = english(Chat(build_assistant(settings, clock=clock, database=database), "x"), world, "m1")
    reply = m1.say("积分")
    assert "Your points in 2026: 20" in reply and "Sign-ins: 2 × 10 = 20" in reply
