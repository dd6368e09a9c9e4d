"""The callback endpoint with a core that commits groups: messages go to the committer directly.

A text from a user with nothing else in flight is queued with the assistant's group committer
from the request itself; these tests show it records and answers exactly what the path through
a task of its own does, keeps a user's messages in order, and keeps the 5-second rule.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future
from typing import Never

import httpx
import pytest
from sqlmodel import select

from bot.channels.answers import LoopInbox
from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel
from bot.core.clock import FrozenClock
from bot.core.i18n import Translator
from bot.core.inbound import Channel, Inbound
from bot.core.ports import Answer
from bot.core.reply import Reply
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import Attendance, ProcessedInbound
from tests.factories import World
from tests.fakes.wechat_api import (
    FakeWeChatAPI,
    Follower,
    RecordingCore,
    WeChatServer,
    serving,
    wechat_settings,
)

CUSTOM = "/cgi-bin/message/custom/send"


@pytest.fixture
async def api() -> AsyncIterator[FakeWeChatAPI]:
    """The fake WeChat API on 127.0.0.1."""
    async with FakeWeChatAPI() as fake:
        yield fake


class Account:
    """The official account in safe mode, in front of a given core."""

    def __init__(
        self,
        core: object,
        database: Database,
        database_url: str,
        clock: FrozenClock,
        api: FakeWeChatAPI,
        *,
        deadline: float = 4.0,
    ) -> None:
        settings = wechat_settings(database_url, api.base_url, aes=True)
        self.channel = WeChatChannel(
            settings,
            core,  # type: ignore[arg-type]
            database=database,
            clock=clock,
            reply_deadline=deadline,
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_http_app(core, self.channel.routes)),  # type: ignore[arg-type]
            base_url="http://gongjian.test",
        )
        self.server = WeChatServer(lambda: int(clock.now().timestamp()), safe=True)

    def follower(self, user: str) -> Follower:
        """Returns a follower of the account."""
        return Follower(self.http, self.server, user, "/wechat")

    async def close(self) -> None:
        """Closes the client and the channel."""
        await self.http.aclose()
        await self.channel.stop()


class HeldCore:
    """A core that commits groups and answers only when the test says so."""

    def __init__(self) -> None:
        self.queued: list[tuple[Inbound, Future[Answer]]] = []
        self.arrived = asyncio.Event()

    def submit(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Future[Answer]:
        future: Future[Answer] = Future()
        self.queued.append((inbound, future))
        self.arrived.set()
        return future

    def answer(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Answer:
        raise AssertionError("a core that commits groups is not called one at a time")

    def handle(self, inbound: Inbound) -> list[Reply]:
        raise AssertionError("not used")

    def translator_for(
        self, *, channel: Channel, user_id: str, hint: str | None = None
    ) -> Translator:
        raise AssertionError("not used")

    def command_menu(self, locale: str) -> list[tuple[str, str]]:
        return []

    def bound(self, *, channel: Channel, user_id: str) -> bool:
        return True

    def healthy(self) -> bool:
        return True

    async def next(self, count: int) -> None:
        """Waits until `count` deliveries have been queued."""
        while len(self.queued) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)


async def bind(follower: Follower, world: World, who: str) -> None:
    """Binds a follower to the world's member `who`."""
    assert who in await follower.say(f"绑定 {world.invites[who]}")


async def test_a_check_in_queued_directly_is_recorded_and_answered_as_through_a_task(
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    api: FakeWeChatAPI,
    world: World,
) -> None:
    grouped = Account(assistant, database, database_url, clock, api)
    # The same assistant behind a core that answers one delivery at a time, in a task.
    single = Account(RecordingCore(assistant), database, database_url, clock, api)
    # One platform signs both: its nonces and MsgIds are never reused.
    single.server = grouped.server
    try:
        secretary = grouped.follower("o-sec")
        await bind(secretary, world, "sec")
        opened = await secretary.say("开启签到")
        code = next(word for word in opened.split() if word.isdigit() and len(word) == 6)
        first, second = grouped.follower("o-m1"), single.follower("o-m2")
        await bind(first, world, "m1")
        await bind(second, world, "m2")
        msg_id = grouped.server.next_id()
        direct = grouped.server.text("o-m1", f"签到 {code}", msg_id=msg_id)
        answers = [await first.send(direct), await second.say(f"签到 {code}")]
        assert grouped.channel._waiting == {} and grouped.channel._locks == {}
        # Both members belong to the same branch: the same words, the same time.
        assert answers[0] == answers[1]
        assert "09:30" in answers[0]
        with database.session() as session:
            rows = {
                row.member_id: (row.status, row.channel, row.late, row.at)
                for row in session.exec(select(Attendance)).all()
            }
            keys = {
                row.key: row.answer
                for row in session.exec(
                    select(ProcessedInbound).where(ProcessedInbound.key.startswith("msg:"))  # type: ignore[union-attr]
                ).all()
            }
        assert rows[world.members["m1"]] == rows[world.members["m2"]]
        # The delivery's key is stored with its answer, as one answered alone stores it.
        stored = keys[f"msg:{msg_id}"]
        assert stored is not None
        assert json.loads(stored) == {
            "user": "o-m1",
            "locale": "zh_CN",
            "replies": [{"text": answers[0], "buttons": [], "private": False}],
        }
        # The platform's retry (a new nonce, the same MsgId) gets the stored answer again; the
        # same request replayed is refused.
        retry = grouped.server.text("o-m1", f"签到 {code}", msg_id=msg_id)
        assert await first.send(retry) == answers[0]
        assert (await first.deliver(direct)).status_code == 403
        with database.session() as session:
            signed = session.exec(
                select(Attendance).where(Attendance.member_id == world.members["m1"])
            ).all()
        assert len(signed) == 1
    finally:
        await grouped.close()
        await single.close()


async def test_a_users_second_message_waits_for_the_first_and_others_do_not(
    database: Database, database_url: str, clock: FrozenClock, api: FakeWeChatAPI
) -> None:
    core = HeldCore()
    account = Account(core, database, database_url, clock, api)
    try:
        one, other = account.follower("o-1"), account.follower("o-2")
        first = asyncio.ensure_future(one.say("1"))
        await core.next(1)
        second = asyncio.ensure_future(one.say("2"))
        third = asyncio.ensure_future(other.say("3"))
        await core.next(2)
        # The other user's message went straight through; this user's second waits its turn.
        assert [inbound.text for inbound, _ in core.queued] == ["1", "3"]
        await asyncio.sleep(0.05)
        assert len(core.queued) == 2
        core.queued[1][1].set_result(Answer([Reply("three")]))
        assert await third == "three"
        core.queued[0][1].set_result(Answer([Reply("one")]))
        assert await first == "one"
        await core.next(3)
        assert core.queued[2][0].text == "2"
        core.queued[2][1].set_result(Answer([Reply("two")]))
        assert await second == "two"
        assert account.channel._waiting == {} and account.channel._locks == {}
    finally:
        await account.close()


async def test_a_late_answer_from_the_committer_is_success_now_and_pushed_later(
    database: Database, database_url: str, clock: FrozenClock, api: FakeWeChatAPI
) -> None:
    core = HeldCore()
    account = Account(core, database, database_url, clock, api, deadline=0.05)
    app = build_http_app(core, account.channel.routes)  # type: ignore[arg-type]
    try:
        async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
            follower = Follower(http, account.server, "o-slow", "/wechat")
            response = await follower.deliver(account.server.text("o-slow", "帮助"))
            assert (response.status_code, response.text) == (200, "success")
            assert api.calls_to(CUSTOM) == []
            # The user's turn is held until the answer comes.
            assert "o-slow" in account.channel._waiting
            core.queued[0][1].set_result(Answer([Reply("late but here")]))
            pushed = await api.wait_for(CUSTOM)
        assert pushed[0].body["touser"] == "o-slow"
        assert pushed[0].body["text"]["content"] == "late but here"
        assert account.channel._waiting == {}
    finally:
        await account.close()


async def test_a_failed_group_answer_gets_the_apology(
    database: Database, database_url: str, clock: FrozenClock, api: FakeWeChatAPI
) -> None:
    core = HeldCore()
    account = Account(core, database, database_url, clock, api)
    core.translator_for = lambda **_: (_ for _ in ()).throw(RuntimeError("no database"))  # type: ignore[method-assign]
    try:
        reply = asyncio.ensure_future(account.follower("o-1").say("帮助"))
        await core.next(1)
        core.queued[0][1].set_exception(RuntimeError("the committer failed"))
        assert "Sorry" in await reply or "抱歉" in await reply
        assert account.channel._waiting == {}
    finally:
        await account.close()


async def test_the_inbox_runs_calls_in_order_waking_the_loop_once_per_batch() -> None:
    loop = asyncio.get_running_loop()
    inbox = LoopInbox(loop)
    woken: list[int] = []
    original = loop.call_soon_threadsafe

    def counting(callback: object, *args: object) -> object:
        woken.append(1)
        return original(callback, *args)  # type: ignore[arg-type]

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    ran: list[int] = []
    done = asyncio.Event()
    try:

        def post_all() -> None:
            for number in range(100):
                inbox.post(ran.append, number)
            inbox.post(done.set)

        thread = threading.Thread(target=post_all)
        thread.start()
        thread.join()
        await asyncio.wait_for(done.wait(), 5)
    finally:
        del loop.call_soon_threadsafe
    assert ran == list(range(100))
    assert len(woken) == 1


async def test_a_wrapped_future_takes_the_outcome_and_passes_cancellation_back() -> None:
    inbox = LoopInbox(asyncio.get_running_loop())
    source: Future[int] = Future()
    target = inbox.wrap(source)
    threading.Thread(target=source.set_result, args=(7,)).start()
    assert await asyncio.wait_for(target, 5) == 7
    failing: Future[int] = Future()
    wrapped = inbox.wrap(failing)
    failing.set_exception(ValueError("no"))
    with pytest.raises(ValueError, match="no"):
        await asyncio.wait_for(wrapped, 5)
    pending: Future[int] = Future()
    inbox.wrap(pending).cancel()
    await asyncio.sleep(0)
    assert pending.cancelled()


async def test_a_committer_that_refuses_the_delivery_gets_the_apology(
    database: Database, database_url: str, clock: FrozenClock, api: FakeWeChatAPI
) -> None:
    core = HeldCore()

    def refuse(inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False) -> Never:
        raise RuntimeError("can't start new thread")

    core.submit = refuse  # type: ignore[method-assign,assignment]
    core.translator_for = lambda **_: (_ for _ in ()).throw(RuntimeError("no database"))  # type: ignore[method-assign]
    account = Account(core, database, database_url, clock, api)
    try:
        reply = await account.follower("o-1").say("帮助")
        assert "Sorry" in reply
        assert account.channel._waiting == {} and account.channel._locks == {}
    finally:
        await account.close()
