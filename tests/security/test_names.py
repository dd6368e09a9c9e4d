"""Names and one-line texts from members: no bidi controls or invisible characters, capped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.channels.telegram import TelegramChannel
from bot.core.clock import FrozenClock
from bot.core.domain import RoleKind
from bot.core.names import clean_line, isolate
from storage.engine import Database
from storage.models import Attendance, Invite, Member
from tests.channels.test_telegram_e2e import bind, say
from tests.factories import World
from tests.fakes.telegram_api import FakeTelegramAPI, TgUser
from tests.helpers import Chat

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

RLO = "\u202e"
SECRETARY = TgUser(4303, "Sec", language_code="en")
# A name (typed when asked) that reverses what follows it, with zero-width characters and a line break inside.
TROJAN = TgUser(4301, f"{RLO}evil\u200b\u2066", last_name="x\u200d\nname", language_code="en")


def test_format_characters_go_and_lines_are_capped() -> None:
    assert clean_line(f"{RLO}A\u200bB\u2067C\u2069 \n\t D\ufeff", limit=100) == "ABC D"
    assert clean_line("张" * 300, limit=100) == "张" * 100
    assert isolate(f"{RLO}ab") == "\u2068ab\u2069"


async def test_a_bidi_override_in_a_telegram_name_is_not_stored_nor_shown(
    tg_api: FakeTelegramAPI,
    telegram: TelegramChannel,
    world: World,
    database: Database,
    clock: FrozenClock,
) -> None:
    with database.session() as session:
        session.add(
            Invite(
                code="INVNEWCOMER",
                organization_id=world.orgs["B1"],
                role=RoleKind.MEMBER,
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(days=1),
            )
        )
    await bind(tg_api, TROJAN, "INVNEWCOMER")
    # Invited without a name, the member is asked for one: the name typed reverses what follows.
    typed = f"{TROJAN.first_name} {TROJAN.last_name}"
    await say(tg_api, tg_api.message(typed, user=TROJAN))
    with database.session() as session:
        names = session.exec(select(Member.name)).all()
    assert "evil x name" in names
    assert not any(RLO in name or "\u200b" in name for name in names)
    await bind(tg_api, SECRETARY, world.invites["sec"])
    opened = await say(tg_api, tg_api.message("/opencheckin", user=SECRETARY))
    code = next(word for word in opened.split() if word.isdigit() and len(word) == 6)
    await say(tg_api, tg_api.message(f"/checkin {code}", user=TROJAN))
    roll = await say(tg_api, tg_api.message("/attendance", user=SECRETARY))
    assert RLO not in roll
    # Every name sits in its own isolate: nothing it holds can reorder the names after it.
    assert "\u2068evil x name\u2069" in roll
    assert "\u2068m1\u2069" in roll


def test_a_leave_reason_is_stored_as_one_clean_line(
    chat: Chat, world: World, database: Database
) -> None:
    member = chat.bound(world.invites["m1"])
    member.say(f"请假 {RLO}sick\u200b day")
    with database.session() as session:
        reasons = session.exec(select(Attendance.reason)).all()
    assert reasons == ["sick day"]
