"""PostgreSQL connections lost mid-request: a clear apology, nothing half-written, then it works.

A restart of the server ends every backend process; the test does the same to its own
connections only (`pg_terminate_backend` on the pids of its tagged connections), at chosen
moments inside a request: before its first statement, just before a write, at commit. Other
people's sessions on the shared server are never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.channels.telegram import WEBHOOK_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.channels.wechat import WeChatChannel
from bot.config import Settings, load_settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, Inbound
from bot.core.reply import Reply
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from bot.texts.translation import translator
from storage import engine as engine_module
from storage.engine import Database
from storage.models import Activity, Conversation
from tests.factories import World
from tests.fakes.telegram_api import TOKEN, FakeLimits, FakeTelegramAPI, TgUser
from tests.fakes.wechat_api import FakeWeChatAPI, Follower, WeChatServer, wechat_settings
from tests.survival.conftest import (
    admin_engine,
    differences,
    postgres_only,
    snapshot,
    tagged_url,
    terminate,
)

pytestmark = [postgres_only, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

APOLOGY = "Sorry, something went wrong. Please try again."
USER = "9301"
SUMMARY = "联合学习二十大精神并开展交流"


class Saboteur:
    """Ends the server process under a connection at a chosen moment of the next request."""

    def __init__(self, engine: Engine, admin: Engine) -> None:
        self.engine = engine
        self.admin = admin
        self.armed: str | None = None
        self.fired = 0
        event.listen(engine, "before_cursor_execute", self._before_statement)
        event.listen(engine, "commit", self._before_commit)

    def arm(self, moment: str) -> None:
        """Fires once at `moment`: `first` statement, the `insert` of a ledger entry, `commit`."""
        self.armed = moment

    def remove(self) -> None:
        """Stops listening."""
        event.remove(self.engine, "before_cursor_execute", self._before_statement)
        event.remove(self.engine, "commit", self._before_commit)

    def _before_statement(self, conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if self.armed == "first" or (
            self.armed == "insert" and statement.lstrip().upper().startswith("INSERT INTO ACTIVITY")
        ):
            self._fire(conn)

    def _before_commit(self, conn: Connection) -> None:
        if self.armed == "commit":
            self._fire(conn)

    def _fire(self, conn: Connection) -> None:
        """Terminates this connection's server process and waits until it is gone."""
        self.armed = None
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        self.fired += terminate(self.admin, pids=[int(pid)])


@pytest.fixture
def tagged(database_url: str) -> Iterator[tuple[Database, Engine, str]]:
    """The test database under a unique application_name, with an admin engine beside it."""
    name = f"gj-survival-{uuid.uuid4().hex[:8]}"
    database = Database.connect(tagged_url(database_url, name), migrate=False)
    admin = admin_engine(database_url)
    yield database, admin, name
    database.dispose()
    admin.dispose()


def say(assistant: Assistant, text: str) -> list[Reply]:
    """Sends a private Telegram message as the member."""
    return assistant.handle(
        Inbound(channel=Channel.TELEGRAM, chat_id=USER, user_id=USER, text=text)
    )


def at_confirmation(assistant: Assistant, world: World) -> None:
    """Binds the member, switches to English and walks a report to its confirmation."""
    say(assistant, f"绑定 {world.invites['m1']}")
    for text in ("/lang en", "/report", "study", "today", "none", "12", SUMMARY):
        say(assistant, text)


def stored_activities(database: Database) -> int:
    """Counts ledger entries."""
    with database.session() as session:
        return len(session.exec(select(Activity)).all())


def conversation_step(database: Database) -> str | None:
    """Returns the member's stored flow step, if any."""
    with database.session() as session:
        row = session.exec(select(Conversation).where(Conversation.user_id == USER)).first()
    return row.step if row else None


@pytest.mark.parametrize("moment", ["first", "insert", "commit"])
def test_connection_lost_mid_request_apologises_keeps_nothing_and_recovers(
    moment: str,
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    world: World,
    tagged: tuple[Database, Engine, str],
) -> None:
    tagged_database, admin, _ = tagged
    assistant = build_assistant(settings, clock=clock, database=tagged_database)
    at_confirmation(assistant, world)
    assert conversation_step(database) == "confirm"
    before = snapshot(database)
    saboteur = Saboteur(tagged_database.engine, admin)
    saboteur.arm(moment)
    try:
        replies = say(assistant, "confirm")
    finally:
        saboteur.remove()
    assert saboteur.fired == 1, "the connection was not cut"
    # A clear, translated apology; no traceback, nothing half-written, the draft kept.
    # Cut before the member is known, their language is looked up again on a fresh connection.
    assert replies == [Reply(translator("en")(APOLOGY))]
    assert differences(before, snapshot(database)) == {}
    assert conversation_step(database) == "confirm"
    # The next request gets a fresh connection and the member finishes where they were.
    [stored] = say(assistant, "confirm")
    assert "Stored as ledger entry No." in stored.text
    assert stored_activities(database) == 1
    assert conversation_step(database) is None


def test_connections_lost_between_requests_are_replaced_unnoticed(
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    world: World,
    tagged: tuple[Database, Engine, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tagged_database, admin, name = tagged
    assistant = build_assistant(settings, clock=clock, database=tagged_database)
    at_confirmation(assistant, world)
    # Every pooled connection counts as idle long enough to be pinged before use.
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    # A server restart while the pool sits idle: the ping finds the dead connection.
    assert terminate(admin, application_name=name) >= 1
    [stored] = say(assistant, "confirm")
    assert "Stored as ledger entry No." in stored.text
    assert assistant.healthy()
    assert terminate(admin, application_name=name) >= 1
    assert assistant.healthy()


def test_busy_connections_are_not_pinged_and_a_lost_one_costs_one_apology(
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    world: World,
    tagged: tuple[Database, Engine, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tagged_database, admin, name = tagged
    assistant = build_assistant(settings, clock=clock, database=tagged_database)
    at_confirmation(assistant, world)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    before = snapshot(database)
    assert terminate(admin, application_name=name) >= 1
    # No ping for a connection used moments ago: the request meets the dead one and apologises,
    # losing nothing; the pool is renewed and the next request goes through.
    assert say(assistant, "confirm") == [Reply(translator("en")(APOLOGY))]
    assert differences(before, snapshot(database)) == {}
    [stored] = say(assistant, "confirm")
    assert "Stored as ledger entry No." in stored.text


async def test_telegram_member_gets_the_apology_and_then_an_answer(
    clock: FrozenClock,
    database: Database,
    database_url: str,
    world: World,
    tagged: tuple[Database, Engine, str],
) -> None:
    tagged_database, admin, _ = tagged
    member = TgUser(int(USER), "王芳", language_code="en")
    async with FakeTelegramAPI(
        limits=FakeLimits(overall=None, per_chat=None, per_group=None)
    ) as api:
        settings = load_settings(
            database_url=database_url,
            telegram_token=TOKEN,
            telegram_base_url=api.base_url,
            telegram_webhook_url="https://gongjian.example.org/telegram/webhook",
            telegram_webhook_secret="survival-secret",
            _env_file=None,
        )
        assistant = build_assistant(settings, clock=clock, database=tagged_database)
        at_confirmation(assistant, world)
        channel = TelegramChannel(settings, assistant)
        await channel.start()
        saboteur = Saboteur(tagged_database.engine, admin)
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=build_http_app(assistant, channel.routes)),
                base_url="http://gongjian.test",
            ) as http:

                async def post(update_id: int, text: str) -> int:
                    body = {"update_id": update_id, **api.message(text, user=member)}
                    response = await http.post(
                        WEBHOOK_PATH, json=body, headers={WEBHOOK_HEADER: "survival-secret"}
                    )
                    return response.status_code

                # Cut while the update's delivery key is being recorded, then mid-answer.
                saboteur.arm("first")
                assert await post(70_001, "confirm") == 200
                saboteur.arm("insert")
                assert await post(70_002, "confirm") == 200
                assert saboteur.fired == 2
                assert stored_activities(database) == 0
                assert await post(70_003, "confirm") == 200
        finally:
            saboteur.remove()
            await channel.stop()
        texts = api.texts(member.id)
    assert texts[:2] == [translator("en")(APOLOGY)] * 2
    assert "Stored as ledger entry No." in texts[2]
    assert stored_activities(database) == 1


@pytest.mark.parametrize("moment", ["first", "commit"])
async def test_wechat_member_gets_the_apology_and_then_an_answer(
    moment: str,
    clock: FrozenClock,
    settings: Settings,
    database_url: str,
    world: World,
    tagged: tuple[Database, Engine, str],
) -> None:
    # Cut while the callback's delivery is being recorded: an apology, not HTTP 500 (on which
    # WeChat tells the member only that the account is unavailable).
    tagged_database, admin, _ = tagged
    assistant = build_assistant(settings, clock=clock, database=tagged_database)
    async with FakeWeChatAPI() as api:
        channel = WeChatChannel(
            wechat_settings(database_url, api.base_url, aes=True),
            assistant,
            database=tagged_database,
            clock=clock,
        )
        server = WeChatServer(lambda: int(clock.now().timestamp()), safe=True)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_http_app(assistant, channel.routes)),
            base_url="http://gongjian.test",
        ) as http:
            member = Follower(http, server, "o-wechat-m1", "/wechat")
            await member.say(f"绑定 {world.invites['m1']}")
            await member.say("/lang en")
            saboteur = Saboteur(tagged_database.engine, admin)
            saboteur.arm(moment)
            try:
                apology = await member.say("/help")
            finally:
                saboteur.remove()
            assert saboteur.fired == 1
            assert apology == translator("en")(APOLOGY)
            assert "/checkin" in await member.say("/help")
