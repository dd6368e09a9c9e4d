"""Group commit: deliveries queued together share one transaction, and a spoiled group is redone."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import event, update
from sqlmodel import col, select

from bot.core.inbound import Channel, Inbound
from bot.core.ports import Answer
from bot.core.reply import Reply
from bot.engine.assistant import Assistant
from bot.engine.group_commit import Delivery, GroupCommit
from storage.engine import Database
from storage.models import Attendance, ChatAccount, ProcessedInbound
from tests.factories import World
from tests.helpers import Chat


def wechat(text: str, user: str) -> Inbound:
    """A text message from a WeChat follower."""
    return Inbound(Channel.WECHAT, chat_id=user, user_id=user, text=text, locale_hint="en")


def opened(chat: Chat, world: World) -> str:
    """Opens today's check-in as the secretary; returns the code."""
    secretary = chat.as_("u-sec").bound(world.invites["sec"])
    secretary.say("/lang en")
    found = re.search(r"code: (\d{6})", secretary.say("/opencheckin"))
    assert found
    return found[1]


def bound(assistant: Assistant, world: World, *names: str) -> None:
    """Binds each member's WeChat account (o-NAME) in English."""
    for name in names:
        assistant.answer(wechat(f"绑定 {world.invites[name]}", f"o-{name}"))
        assistant.answer(wechat("/lang en", f"o-{name}"))


def commits(database: Database) -> list[int]:
    """Counts the commits on the database from now on."""
    counted: list[int] = []
    event.listen(database.engine, "commit", lambda _connection: counted.append(1))
    return counted


def test_check_ins_queued_together_are_committed_once(
    chat: Chat, world: World, assistant: Assistant, database: Database
) -> None:
    code = opened(chat, world)
    bound(assistant, world, "m1", "m2", "deputy")
    counted = commits(database)
    answers = assistant._answer_group(
        [
            Delivery(wechat(f"签到 {code}", f"o-{name}"), (f"msg:{number}",), numbered=True)
            for number, name in enumerate(("m1", "m2", "deputy"))
        ]
    )
    assert len(counted) == 1
    assert all("Signed in" in answer.replies[0].text for answer in answers)
    with database.session() as session:
        signed = {row.member_id for row in session.exec(select(Attendance)).all()}
        keys = set(session.exec(select(ProcessedInbound.key)).all())
    assert signed == {world.members[name] for name in ("m1", "m2", "deputy")}
    assert {"msg:0", "msg:1", "msg:2"} <= keys


def test_a_delivery_that_undoes_its_writes_has_the_group_answered_one_by_one(
    chat: Chat, world: World, assistant: Assistant, database: Database
) -> None:
    code = opened(chat, world)
    bound(assistant, world, "m1", "m2", "deputy")
    counted = commits(database)
    answers = assistant._answer_group(
        [
            Delivery(wechat(f"签到 {code}", "o-m1"), ("msg:21",)),
            # Without the code: refused, and its writes (its key, its last-seen stamp) undone.
            Delivery(wechat("/checkin", "o-m2"), ("msg:22",)),
            Delivery(wechat(f"签到 {code}", "o-deputy"), ("msg:23",)),
            # The platform's retry of the first, in the same group: the stored answer again.
            Delivery(wechat(f"签到 {code}", "o-m1"), ("msg:21",)),
        ]
    )
    first, refused, third, retry = answers
    assert "Signed in" in first.replies[0].text and "Signed in" in third.replies[0].text
    assert "6-digit check-in code" in refused.replies[0].text
    assert retry.repeat == "msg:21" and retry.replies == first.replies
    # The spoiled group was rolled back; each delivery then committed on its own.
    assert len(counted) == 4
    with database.session() as session:
        signed = [row.member_id for row in session.exec(select(Attendance)).all()]
    assert sorted(signed) == sorted([world.members["m1"], world.members["deputy"]])


def test_queued_deliveries_wait_for_the_group_in_hand_then_go_together() -> None:
    release = threading.Event()
    groups: list[list[str]] = []

    def answer_group(deliveries: Sequence[Delivery]) -> list[Answer]:
        """Holds the first group until released; answers each delivery with its text."""
        groups.append([delivery.inbound.text for delivery in deliveries])
        if len(groups) == 1:
            assert release.wait(10)
        return [Answer([Reply(delivery.inbound.text)]) for delivery in deliveries]

    committer = GroupCommit(answer_group, threads=1, most=3)
    futures = [committer.submit(Delivery(wechat("first", "o-1")))]
    while not groups:
        threading.Event().wait(0.001)
    futures += [committer.submit(Delivery(wechat(str(n), f"o-{n}"))) for n in range(5)]
    release.set()
    texts = [future.result(10).replies[0].text for future in futures]
    committer.stop()
    assert texts == ["first", "0", "1", "2", "3", "4"]
    assert groups == [["first"], ["0", "1", "2"], ["3", "4"]]


def test_a_waiter_that_gives_up_leaves_the_committer_working() -> None:
    started, release = threading.Event(), threading.Event()

    def answer_group(deliveries: Sequence[Delivery]) -> list[Answer]:
        started.set()
        assert release.wait(10)
        return [Answer([Reply(delivery.inbound.text)]) for delivery in deliveries]

    committer = GroupCommit(answer_group, threads=1, most=1)
    abandoned = committer.submit(Delivery(wechat("abandoned", "o-1")))
    assert started.wait(10)
    assert abandoned.cancel()
    release.set()
    later = committer.submit(Delivery(wechat("later", "o-2")))
    assert later.result(10).replies[0].text == "later"
    committer.stop()
    refused = committer.submit(Delivery(wechat("after stop", "o-3")))
    assert isinstance(refused.exception(1), RuntimeError)


def statements_on(database: Database, table: str) -> list[str]:
    """Collects the INSERTs into a table run on the database from now on."""
    seen: list[str] = []

    def note(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith(f'INSERT INTO "{table}"'):
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", note)
    return seen


def test_a_groups_delivery_keys_are_recorded_in_one_statement_with_their_answers(
    chat: Chat, world: World, assistant: Assistant, database: Database
) -> None:
    code = opened(chat, world)
    bound(assistant, world, "m1", "m2", "deputy")
    inserts = statements_on(database, "processed_inbound")
    answers = assistant._answer_group(
        [
            Delivery(wechat(f"签到 {code}", f"o-{name}"), (f"nonce:{n}", f"msg:4{n}"), True)
            for n, name in enumerate(("m1", "m2", "deputy"))
        ]
    )
    assert len(inserts) == 1
    with database.session() as session:
        stored = {
            row.key: row.answer
            for row in session.exec(select(ProcessedInbound)).all()
            if row.key.startswith(("nonce:", "msg:4"))
        }
    assert set(stored) == {"nonce:0", "nonce:1", "nonce:2", "msg:40", "msg:41", "msg:42"}
    for n, answer in enumerate(answers):
        assert answer.repeat is None
        assert answer.replies[0].text in str(stored[f"msg:4{n}"])


def test_a_retry_in_a_later_group_has_that_group_answered_one_by_one(
    chat: Chat, world: World, assistant: Assistant, database: Database
) -> None:
    code = opened(chat, world)
    bound(assistant, world, "m1", "m2", "deputy")
    (first,) = assistant._answer_group([Delivery(wechat(f"签到 {code}", "o-m1"), ("msg:51",))])
    counted = commits(database)
    answers = assistant._answer_group(
        [
            Delivery(wechat(f"签到 {code}", "o-m2"), ("msg:52",)),
            # The platform's retry of the first: found when the group records its keys.
            Delivery(wechat(f"签到 {code}", "o-m1"), ("msg:51",)),
            Delivery(wechat(f"签到 {code}", "o-deputy"), ("msg:53",)),
        ]
    )
    second, retry, third = answers
    assert retry.repeat == "msg:51" and retry.replies == first.replies
    assert "Signed in" in second.replies[0].text and "Signed in" in third.replies[0].text
    # The group was given up at its end; each delivery then committed on its own.
    assert len(counted) == 3
    with database.session() as session:
        signed = sorted(row.member_id for row in session.exec(select(Attendance)).all())
    assert signed == sorted(world.members[name] for name in ("m1", "m2", "deputy"))


def test_a_groups_last_seen_stamps_are_written_in_one_call(
    chat: Chat, world: World, assistant: Assistant, database: Database
) -> None:
    code = opened(chat, world)
    bound(assistant, world, "m1", "m2", "deputy")
    accounts = [f"o-{name}" for name in ("m1", "m2", "deputy")]
    with database.session() as session:
        session.execute(
            update(ChatAccount)
            .where(col(ChatAccount.external_id).in_(accounts))
            .values(last_seen_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
    calls: list[tuple[str, bool]] = []

    def note(_c: object, _cur: object, statement: str, _p: object, _x: object, many: bool) -> None:
        if statement.startswith("UPDATE chataccount"):
            calls.append((statement, many))

    event.listen(database.engine, "before_cursor_execute", note)
    answers = assistant._answer_group(
        [
            Delivery(wechat(f"签到 {code}", account), (f"msg:6{n}",))
            for n, account in enumerate(accounts)
        ]
    )
    assert all("Signed in" in answer.replies[0].text for answer in answers)
    assert [many for _, many in calls] == [True]
    with database.session() as session:
        stamps = session.exec(
            select(ChatAccount.last_seen_at).where(col(ChatAccount.external_id).in_(accounts))
        ).all()
    assert stamps == [assistant.clock.now()] * 3
