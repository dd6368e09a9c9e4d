"""Hypothesis against the text parser, the date parsers and both webhook endpoints.

Inputs: random Unicode, raw bytes, emoji, mixed scripts, right-to-left and zero-width marks,
injection strings (SQL, XML, format strings, shell), every command word followed by noise, and
messages just under, at and far over the length limit. What must hold:
- no unhandled exception (the assistant's catch-all apology counts as one: it is logged);
- the user always gets an answer;
- a rejected input changes nothing stored (the audit log and the record of processed deliveries
  aside).
Example counts are modest by default; GONGJIAN_SURVIVAL_LONG=1 multiplies them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert
from sqlmodel import select

from bot.channels.http import build_http_app
from bot.channels.ratelimit import RateLimiter
from bot.channels.telegram import WEBHOOK_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.channels.wechat import WeChatChannel
from bot.channels.weixin.checks import MAX_BODY_BYTES
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, ChatKind, Inbound
from bot.core.reply import Reply
from bot.engine.assistant import MAX_TEXT, SEPARATORS, Assistant, normalized
from bot.services.stats import parse_quarter
from bot.texts.translation import translator
from handlers.dates import DateParseError, parse_day
from handlers.ledger import parse_year
from handlers.roster import SpanError, parse_span
from handlers.routers import ROUTERS
from handlers.schedule import parse_coming_day
from storage.engine import Database
from storage.models import Attendance, ChatAccount, Conversation
from tests.factories import World
from tests.fakes.telegram_api import TOKEN, FakeLimits, FakeTelegramAPI, TgUser
from tests.fakes.wechat_api import (
    FakeWeChatAPI,
    Follower,
    WeChatServer,
    footprint,
    wechat_settings,
)
from tests.survival.conftest import differences, scaled, snapshot

# -- what to throw -----------------------------------------------------------------------------

INJECTIONS = [
    "'; DROP TABLE member; --",
    '" OR "1"="1',
    "1; UPDATE member SET name='x' WHERE 1=1",
    "<script>alert(1)</script>",
    "]]><xml><MsgType>event</MsgType></xml>",
    "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>&e;",
    "{0.__class__.__mro__}",
    "{name}{code}{}",
    "%s%s%n%x",
    "../../../../etc/passwd",
    "$(rm -rf /) `reboot`",
    "${jndi:ldap://127.0.0.1/a}",
    "\u202egnp.exe",
    "a\u200b\u200c\u200d\ufeffb",
    "NULL\x00null",
    "\r\n\r\nHTTP/1.1 200 OK",
    "\ud7ff\ue000\uffff",
]
EMOJI = ["👍", "🇨🇳", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🙏🏽", "❤️", "🎉", "\U0001f9d1\u200d\U0001f4bb"]
SCRIPTS = [
    "签到",
    "党支部",
    "Привет",
    "مرحبا",
    "שלום",
    "नमस्ते",
    "こんにちは",
    "안녕",
    "ǅ",
    "ß",
    "İ",
    "２０２６年１１月３日",
]
WORDS = sorted(
    {f"/{command.name}" for router in ROUTERS for command in router.commands}
    | {keyword for router in ROUTERS for command in router.commands for keyword in command.keywords}
    | {"取消", "返回", "back", "cancel", "confirm", "done", "none", "today", "确认"}
)


def mixed() -> st.SearchStrategy[str]:
    """Strings of emoji, scripts, injections and noise glued together."""
    pieces = st.one_of(
        st.sampled_from(EMOJI + SCRIPTS + INJECTIONS),
        st.text(max_size=8),
        st.sampled_from([*SEPARATORS, "\n", "\t", " "]),
    )
    return st.lists(pieces, max_size=8).map("".join)


def texts() -> st.SearchStrategy[str]:
    """Everything a member might type, and much they would not."""
    return st.one_of(
        st.text(max_size=120),
        # Lone and paired surrogates: what a JSON body's \ud83d escapes decode to.
        st.text(st.characters(categories=["Cs"]) | st.characters(), max_size=20),
        st.binary(max_size=120).map(lambda raw: raw.decode("latin-1")),
        st.binary(max_size=120).map(lambda raw: raw.decode("utf-8", errors="replace")),
        mixed(),
        st.sampled_from(INJECTIONS),
        st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS), mixed()).map("".join),
        st.tuples(st.sampled_from(WORDS), st.text(max_size=40)).map(" ".join),
        st.integers(MAX_TEXT - 2, MAX_TEXT + 2).map(lambda n: "签" * n),
        st.sampled_from(["x" * 100_000, "汇报 " + "字" * 20_000, "\x00" * 5000]),
    )


def fuzz(normal: int, heavy: int) -> settings:
    """Hypothesis settings: a fixed budget, no deadline, fixtures reused across examples."""
    return settings(
        max_examples=scaled(normal, heavy),
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# -- watching for crashes ------------------------------------------------------------------------


class Crashes(logging.Handler):
    """Collects error records: the assistant's catch-all and the channels' failure logs."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def describe(self) -> str:
        """Shows what crashed."""
        return "\n".join(
            f"{record.name}: {record.getMessage()} {record.exc_info[1] if record.exc_info else ''}"
            for record in self.records
        )


@contextmanager
def watching() -> Iterator[Crashes]:
    """Listens to the loggers of the assistant and the channels for the duration."""
    crashes = Crashes()
    loggers = [logging.getLogger(name) for name in ("bot", "handlers", "scheduler", "storage")]
    for logger in loggers:
        logger.addHandler(crashes)
    try:
        yield crashes
    finally:
        for logger in loggers:
            logger.removeHandler(crashes)


def answered(replies: list[Reply]) -> bool:
    """Tells whether replies say something."""
    return bool(replies) and all(reply.text.strip() or reply.document for reply in replies)


# -- the assistant: the text parser and the conversation engine ---------------------------------


def message(user: str, text: str, *, group: bool = False) -> Inbound:
    """A Telegram message from `user`, in private or in a group."""
    return Inbound(
        channel=Channel.TELEGRAM,
        chat_id="-100900" if group else user,
        user_id=user,
        text=text,
        chat_kind=ChatKind.GROUP if group else ChatKind.PRIVATE,
        display_name=text[:50],
        private_chat_id=user,
    )


def bind(assistant: Assistant, world: World, name: str, user: str) -> None:
    """Binds a Telegram account to a member of the test world and settles its first contact."""
    [welcome] = assistant.handle(message(user, f"绑定 {world.invites[name]}"))
    assert name in welcome.text
    assistant.handle(message(user, "/help"))


def bound_once(assistant: Assistant, world: World, name: str, user: str) -> None:
    """Binds the account on the first example; later examples find it bound."""
    with assistant.database.session() as session:
        known = session.exec(select(ChatAccount).where(ChatAccount.external_id == user)).first()
    if known is None:
        bind(assistant, world, name, user)


def clear_conversations(database: Database) -> None:
    """Forgets every flow in progress."""
    with database.session() as session:
        session.execute(delete(Conversation))


@given(text=texts(), group=st.booleans())
@fuzz(300, 3000)
def test_unbound_strangers_get_an_answer_and_change_nothing(
    assistant: Assistant, database: Database, world: World, text: str, group: bool
) -> None:
    before = snapshot(database)
    with watching() as crashes:
        replies = assistant.handle(message("6666", text, group=group))
    assert not crashes.records, crashes.describe()
    assert answered(replies), (text, replies)
    assert differences(before, snapshot(database)) == {}, text


@given(text=texts(), group=st.booleans())
@fuzz(300, 3000)
def test_members_get_an_answer_and_unknown_words_change_nothing(
    assistant: Assistant, database: Database, world: World, text: str, group: bool
) -> None:
    bound_once(assistant, world, "m1", "6001")
    clear_conversations(database)
    before = snapshot(database)
    with watching() as crashes:
        replies = assistant.handle(message("6001", text, group=group))
    assert not crashes.records, crashes.describe()
    assert answered(replies), (text, replies)
    # Words that invoke no command only get the help menu: nothing may change.
    # Matched as the engine reads it: full-width letters, digits and spaces folded.
    command, _ = assistant._match(normalized(text), in_flow=False)
    if command is None:
        assert differences(before, snapshot(database)) == {}, text


@given(word=st.sampled_from(WORDS), separator=st.sampled_from(SEPARATORS), rest=texts())
@fuzz(300, 3000)
def test_every_command_answers_any_arguments_of_a_secretary(
    assistant: Assistant, database: Database, world: World, word: str, separator: str, rest: str
) -> None:
    bound_once(assistant, world, "sec", "6002")
    clear_conversations(database)
    with watching() as crashes:
        replies = assistant.handle(message("6002", word + separator + rest))
    assert not crashes.records, crashes.describe()
    assert answered(replies), (word, rest, replies)


# Each flow step the fuzzer answers, reached by these messages from the member.
STEPS: dict[str, tuple[str, ...]] = {
    "report-kind": ("/lang en", "/report"),
    "report-date": ("/report", "study"),
    "report-partners": ("/report", "study", "today"),
    "report-participants": ("/report", "study", "today", "none"),
    "report-summary": ("/report", "study", "today", "none", "12"),
    "report-confirm": ("/report", "study", "today", "none", "12", "一次联合学习活动"),
    "leave-reason": ("/leave",),
    "language-choose": ("/lang",),
}


def conversation_rows(database: Database) -> list[dict[str, Any]]:
    """Reads the stored conversations as plain values."""
    with database.session() as session:
        return [row.model_dump(exclude={"id"}) for row in session.exec(select(Conversation)).all()]


def restore(database: Database, rows: list[dict[str, Any]]) -> None:
    """Puts the stored conversations back exactly as they were."""
    with database.session() as session:
        session.execute(delete(Conversation))
        if rows:
            session.execute(insert(Conversation), rows)


@pytest.mark.parametrize("step", list(STEPS))
def test_flow_steps_answer_anything_and_a_rejected_answer_changes_nothing(
    step: str, assistant: Assistant, database: Database, world: World
) -> None:
    bind(assistant, world, "m1", "6003")
    for text in STEPS[step]:
        assistant.handle(message("6003", text))
    state = conversation_rows(database)
    assert len(state) == 1, f"{step}: the flow did not start"

    @given(text=texts())
    @fuzz(60, 600)
    def answer(text: str) -> None:
        restore(database, state)
        before = snapshot(database)
        with watching() as crashes:
            replies = assistant.handle(message("6003", text))
        assert not crashes.records, crashes.describe()
        assert answered(replies), (text, replies)
        command, _ = assistant._match(normalized(text), in_flow=True)
        if command is None and conversation_rows(database) == state:
            # No command, and asked again with the flow exactly where it was: the answer was
            # rejected, and must have left no trace.
            assert differences(before, snapshot(database)) == {}, text

    answer()


def test_nul_characters_and_half_surrogates_are_stored_cleanly(
    assistant: Assistant, database: Database, world: World
) -> None:
    # PostgreSQL refuses NUL in text and no codec writes half a surrogate pair: found by the
    # fuzzer as a crash (an apology) instead of a recorded leave.
    bind(assistant, world, "m1", "6004")
    with watching() as crashes:
        [reply] = assistant.handle(message("6004", "请假 出差\x00在外\ud83d"))
    assert not crashes.records, crashes.describe()
    assert "出差在外\ufffd" in reply.text
    with database.session() as session:
        [row] = session.exec(select(Attendance)).all()
    assert row.reason == "出差在外\ufffd"


# -- the date parsers ----------------------------------------------------------------------------

DATE_TEXTS = st.one_of(
    texts(),
    st.dates().map(lambda day: day.isoformat()),
    st.tuples(st.integers(-5, 10_000), st.integers(-5, 40), st.integers(-5, 40)).map(
        lambda ymd: f"{ymd[0]}年{ymd[1]}月{ymd[2]}日"
    ),
    st.tuples(st.integers(0, 99_999_999), st.sampled_from(["-", "/", ".", ""])).map(
        lambda pair: pair[1].join([str(pair[0])[:4], str(pair[0])[4:6], str(pair[0])[6:]])
    ),
    st.tuples(
        st.sampled_from(["上", "本", "这", "上个", ""]),
        st.sampled_from(["周", "星期", "礼拜"]),
        st.text(max_size=2),
    ).map("".join),
    st.integers(-10, 10**12).map(lambda n: f"{n}天前"),
    st.integers(-10, 10**9).map(lambda n: f"{n} days ago"),
    st.sampled_from(
        ["today", "昨天", "前天", "大前天", "last tuesday", "本月", "下季度", "2027Q1"]
    ),
)
YEAR = re.compile(r"\d{4}")
TODAYS = st.dates(min_value=date(1901, 1, 1), max_value=date(2199, 12, 31))


@given(text=DATE_TEXTS, today=TODAYS)
@fuzz(1500, 20_000)
def test_the_date_parsers_answer_a_date_or_their_own_error(text: str, today: date) -> None:
    try:
        day = parse_day(text, today=today)
    except DateParseError:
        pass
    else:
        assert isinstance(day, date)
    coming = parse_coming_day(text, today=today)
    if coming is not None and not YEAR.search(text):
        # A day named without its year is the next one to come.
        assert today <= coming <= today + timedelta(days=366), (text, today, coming)
    quarter = parse_quarter(text, today)
    assert quarter is None or 1 <= quarter.number <= 4
    year = parse_year(text, today.year)
    assert year is None or isinstance(year, int)


@given(text=DATE_TEXTS, today=TODAYS)
@fuzz(500, 5000)
def test_the_roster_period_parser_answers_a_span_or_its_own_error(text: str, today: date) -> None:
    try:
        span = parse_span(text, today=today, t=translator("en"))
    except SpanError:
        return
    assert span.first_day <= span.last_day


# -- the webhooks ------------------------------------------------------------------------------

SECRET = "fuzz-secret"
UPDATE_FIELDS = st.dictionaries(
    st.sampled_from(["message", "edited_message", "callback_query", "channel_post", "poll", "x"]),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=3,
)


@pytest.fixture
async def telegram(assistant: Assistant, database_url: str) -> Any:
    """The Telegram channel in webhook mode on the shared app, against the fake Bot API."""
    async with FakeTelegramAPI(
        limits=FakeLimits(overall=None, per_chat=None, per_group=None)
    ) as api:
        config = load_settings(
            database_url=database_url,
            telegram_token=TOKEN,
            telegram_base_url=api.base_url,
            telegram_webhook_url="https://gongjian.example.org/telegram/webhook",
            telegram_webhook_secret=SECRET,
            _env_file=None,
        )
        channel = TelegramChannel(config, assistant, limiter=RateLimiter())
        await channel.start()
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_http_app(assistant, channel.routes)),
            base_url="http://gongjian.test",
        )
        try:
            yield api, http, channel
        finally:
            await http.aclose()
            await channel.stop()


async def test_telegram_webhook_answers_every_text_and_refuses_the_rest(
    telegram: Any, database: Database, world: World
) -> None:
    api, http, channel = telegram
    updates = iter(range(1_000_000, 2_000_000))
    examples: list[tuple[str, Any]] = []

    @given(
        case=st.one_of(
            st.tuples(st.just("text"), texts()),
            st.tuples(st.just("fields"), UPDATE_FIELDS),
            st.tuples(st.just("bytes"), st.binary(max_size=300)),
            st.tuples(st.just("secret"), texts()),
        )
    )
    @fuzz(200, 2000)
    def collect(case: tuple[str, Any]) -> None:
        examples.append(case)

    collect()
    member = TgUser(5550001, "王芳", language_code="zh-CN")
    headers = {WEBHOOK_HEADER: SECRET}
    for kind, value in examples:
        before = footprint(database)
        with watching() as crashes:
            if kind == "text":
                sent = len(api.texts(member.id))
                body = {"update_id": next(updates), **api.message(value, user=member)}
                response = await http.post(WEBHOOK_PATH, json=body, headers=headers)
                assert response.status_code == 200, (value, response.status_code)
                # Acknowledged once committed: the replies follow from the queue.
                await channel.flush()
                if value.strip():
                    assert len(api.texts(member.id)) > sent, f"no answer to {value!r}"
                # A stranger's words leave only the record that the update was handled.
                assert footprint(database)[1:] == before[1:], value
            elif kind == "fields":
                body = {"update_id": next(updates), **value}
                response = await http.post(WEBHOOK_PATH, json=body, headers=headers)
                assert response.status_code in (200, 400), (value, response.status_code)
            elif kind == "bytes":
                response = await http.post(WEBHOOK_PATH, content=value, headers=headers)
                assert response.status_code in (200, 400), (value, response.status_code)
            else:
                body = {"update_id": next(updates), **api.message(value, user=member)}
                wrong = {
                    WEBHOOK_HEADER: json.dumps(value)[:200]
                    .encode("utf-8", "replace")
                    .decode("latin-1")
                }
                response = await http.post(WEBHOOK_PATH, json=body, headers=wrong)
                assert response.status_code == 403
                assert footprint(database) == before
        assert not crashes.records, (kind, value, crashes.describe())


XML_ILLEGAL = set(map(chr, [*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF]))


async def test_wechat_callback_answers_every_text_and_refuses_the_rest(
    assistant: Assistant, database: Database, database_url: str, clock: FrozenClock, world: World
) -> None:
    examples: list[tuple[str, Any]] = []

    @given(
        case=st.one_of(
            st.tuples(st.just("text"), texts()),
            st.tuples(
                st.just("xml"),
                st.one_of(texts(), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))),
            ),
            st.tuples(
                st.just("query"),
                st.dictionaries(
                    st.sampled_from(
                        [
                            "signature",
                            "timestamp",
                            "nonce",
                            "openid",
                            "encrypt_type",
                            "msg_signature",
                            "echostr",
                        ]
                    ),
                    st.one_of(st.text(max_size=80), st.sampled_from(INJECTIONS), mixed()),
                    max_size=5,
                ),
            ),
        )
    )
    @fuzz(200, 2000)
    def collect(case: tuple[str, Any]) -> None:
        examples.append(case)

    collect()
    async with FakeWeChatAPI() as api:
        channel = WeChatChannel(
            wechat_settings(database_url, api.base_url, aes=False),
            assistant,
            database=database,
            clock=clock,
        )
        server = WeChatServer(lambda: int(clock.now().timestamp()))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_http_app(assistant, channel.routes)),
            base_url="http://gongjian.test",
        ) as http:
            for kind, value in examples:
                before = footprint(database)
                with watching() as crashes:
                    if kind == "text":
                        # What a platform can put into XML at all.
                        content = "".join(
                            char
                            for char in value
                            if char not in XML_ILLEGAL and not "\ud800" <= char <= "\udfff"
                        )
                        callback = server.text("o-fuzz-user", content)
                        pushed = len(api.calls)
                        body = callback.body.encode()
                        response = await http.post("/wechat", params=callback.query, content=body)
                        if len(body) > MAX_BODY_BYTES:
                            # No platform sends that much; it is refused before anything else.
                            assert response.status_code == 413
                            assert footprint(database) == before
                        else:
                            assert response.status_code == 200, (value, response.status_code)
                            assert response.text != "success" or len(api.calls) > pushed, (
                                f"no answer to {content!r}"
                            )
                    elif kind == "xml":
                        callback = server.sign(value, openid="o-fuzz-user")
                        response = await http.post(
                            "/wechat",
                            params=callback.query,
                            content=value.encode("utf-8", "surrogatepass"),
                        )
                        assert response.status_code < 500, (value, response.status_code)
                        if response.status_code >= 400:
                            assert footprint(database) == before
                    else:
                        response = await http.post("/wechat", params=value, content=b"<xml/>")
                        assert 400 <= response.status_code < 500, (value, response.status_code)
                        assert footprint(database) == before
                assert not crashes.records, (kind, value, crashes.describe())


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
async def test_a_member_may_type_xml_declarations_into_a_message(
    safe: bool,
    assistant: Assistant,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    world: World,
) -> None:
    # Found by the fuzzer: the XML guard refused any body containing "<!DOCTYPE", even inside
    # the CDATA of a member's text, so the member got no answer at all.
    async with FakeWeChatAPI() as api:
        channel = WeChatChannel(
            wechat_settings(database_url, api.base_url, aes=safe),
            assistant,
            database=database,
            clock=clock,
        )
        server = WeChatServer(lambda: int(clock.now().timestamp()), safe=safe)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_http_app(assistant, channel.routes)),
            base_url="http://gongjian.test",
        ) as http:
            member = Follower(http, server, "o-xml-typist", "/wechat")
            for words in ("<!DOCTYPE html>", "<!ENTITY x 'y'> <!-- 注释 -->", "]]><!DOCTYPE a>"):
                assert await member.say(words), words
            # A declaration in the XML itself is still refused.
            hostile = server.sign(
                "<!DOCTYPE x [<!ENTITY e 'boom'>]><xml><FromUserName>o</FromUserName></xml>"
            )
            response = await http.post("/wechat", params=hostile.query, content=hostile.body)
            assert response.status_code == 400
