"""A restart in the middle of any conversation flow: the member continues where they were.

Every flow with steps is walked twice: once by a reference member without interruption, and
once by the member under test, who loses the process after each possible step (a new Database
object and a new Assistant take over, as after a restart) and carries on. Both must get the
same replies, step by step, and end with the same stored result. A flow registered in
`handlers.routers.ROUTERS` without a script here fails the suite, so new flows get covered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest
from sqlmodel import col, select

from bot.channels.http import build_http_app
from bot.channels.wechat import WeChatChannel
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import ActivityKind, AttendanceStatus, RoleKind
from bot.core.inbound import Channel, ChatKind, Inbound, InboundImage
from bot.core.reply import Reply
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from handlers.routers import ROUTERS
from storage.engine import Database
from storage.models import (
    Activity,
    ActivityPartner,
    Attendance,
    ChatAccount,
    Conversation,
    Invite,
    Member,
    Minutes,
    Photo,
)
from tests.factories import World
from tests.fakes.wechat_api import FakeWeChatAPI, Follower, WeChatServer, wechat_settings
from tests.services.test_photos import png
from tests.services.test_stats import add_activity, add_meeting

PRIVATE, GROUP = "private", "group"
GROUP_CHAT = "-100500600"
# Telegram user ids of the two members, and the member each one is.
SUBJECT, REFERENCE = ("m1", "7001"), ("m2", "7002")


@dataclass(frozen=True, slots=True)
class Script:
    """A flow walked from its command to its end: (where, what the member sends) per message.

    `members` names the member under test and the reference member (member name, Telegram id);
    `setup` stores what the flow needs first. A message PHOTO sends a photo instead of text.
    """

    flow: str
    messages: tuple[tuple[str, str], ...]
    check: Callable[[Database, World], None]
    english: bool = True
    # Binds with an invite that names nobody ("{invite}" in a message is the user's code).
    unnamed: bool = False
    members: tuple[tuple[str, str], tuple[str, str]] = (SUBJECT, REFERENCE)
    setup: Callable[[Database, World], None] | None = None


PHOTO = "<photo>"
PICTURE = png(7)


def check_report(database: Database, world: World) -> None:
    """Both members stored the same ledger entry (study, today, with B2, 12 people)."""
    with database.session() as session:
        entries = session.exec(select(Activity).order_by(col(Activity.id))).all()
        partners = {
            row.activity_id: row.organization_id for row in session.exec(select(ActivityPartner))
        }
    assert sorted(entry.reporter_id or 0 for entry in entries) == sorted(
        world.members[name] for name in ("m1", "m2")
    )
    for entry in entries:
        assert (entry.kind, entry.held_on, entry.participants) == (
            ActivityKind.STUDY,
            date(2026, 11, 3),
            12,
        )
        assert entry.summary == "联合学习二十大精神并开展交流"
        assert partners[entry.id or 0] == world.orgs["B2"]


def check_leave(database: Database, world: World) -> None:
    """Both members are on leave from December's meeting with the same reason."""
    with database.session() as session:
        rows = session.exec(select(Attendance)).all()
    assert sorted((row.member_id, row.status, row.reason) for row in rows) == sorted(
        (world.members[name], AttendanceStatus.LEAVE, "出差在外地，无法参加")
        for name in ("m1", "m2")
    )


def check_language(database: Database, world: World) -> None:
    """Both members now read English."""
    with database.session() as session:
        locales = {
            member.name: member.locale
            for member in session.exec(
                select(Member).where(col(Member.name).in_(["m1", "m2"]))
            ).all()
        }
    assert locales == {"m1": "en", "m2": "en"}


def meetings_for_minutes(database: Database, world: World) -> None:
    """The same October org-life day in 第1支部 and 第2支部, whose secretaries write minutes."""
    for org in ("B1", "B2"):
        add_meeting(database, org=world.orgs[org], day=date(2026, 10, 6), title="十月学习")


def check_minutes(database: Database, world: World) -> None:
    """Both secretaries stored the same minutes for their branch's meeting, chaired by themselves."""
    with database.session() as session:
        rows = session.exec(select(Minutes).order_by(col(Minutes.host))).all()
    assert [(row.topic, row.host, row.recorder, row.resolutions) for row in rows] == [
        ("十月学习", "sec", "李四", ""),
        ("十月学习", "sec2", "李四", ""),
    ]
    assert {row.content for row in rows} == {"学习党章第一章，交流学习体会。"}


def reports_for_photos(database: Database, world: World) -> None:
    """A ledger entry each member reported, for their photos to be offered to."""
    for name in ("m1", "m2"):
        add_activity(
            database, org=world.orgs["B1"], day=date(2026, 10, 12), reporter=world.members[name]
        )


def check_photos(database: Database, world: World) -> None:
    """Each member's photo is attached to their own latest entry."""
    with database.session() as session:
        reporters = {row.id: row.reporter_id for row in session.exec(select(Activity))}
        photos = session.exec(select(Photo)).all()
    assert sorted(photo.member_id for photo in photos) == sorted(
        world.members[name] for name in ("m1", "m2")
    )
    assert all(reporters[photo.activity_id or 0] == photo.member_id for photo in photos)


def check_name(database: Database, world: World) -> None:
    """Both new members bear the name they gave, not their account's display name."""
    with database.session() as session:
        names = sorted(
            member.name
            for member, _ in session.exec(
                select(Member, ChatAccount).where(ChatAccount.member_id == Member.id)
            ).all()
            if member.id not in world.members.values()
        )
    assert names == ["王小红", "王小红"]


REPORT = (
    (PRIVATE, "/report"),
    (PRIVATE, "study"),
    (PRIVATE, "today"),
    (PRIVATE, "org:B2"),
    (PRIVATE, "done"),
    (PRIVATE, "12"),
    (PRIVATE, "联合学习二十大精神并开展交流"),
    (PRIVATE, "confirm"),
)
SCRIPTS: dict[str, Script] = {
    "report": Script("report", REPORT, check_report),
    "report-back": Script(
        "report",
        (
            (PRIVATE, "汇报"),
            (PRIVATE, "visit"),
            (PRIVATE, "返回"),
            (PRIVATE, "study"),
            (PRIVATE, "yesterday"),
            (PRIVATE, "back"),
            (PRIVATE, "今天"),
            *REPORT[3:6],
            (PRIVATE, "太短"),
            *REPORT[6:],
        ),
        check_report,
    ),
    # Started in the branch's group; the summary step moves on to the private chat.
    "report-group": Script(
        "report",
        (
            (GROUP, "/report"),
            (GROUP, "study"),
            (GROUP, "today"),
            (GROUP, "org:B2"),
            (GROUP, "done"),
            (GROUP, "12"),
            *REPORT[6:],
        ),
        check_report,
    ),
    "leave": Script(
        "leave", ((PRIVATE, "请假"), (PRIVATE, "x"), (PRIVATE, "出差在外地，无法参加")), check_leave
    ),
    "leave-group": Script(
        "leave", ((GROUP, "/leave"), (PRIVATE, "出差在外地，无法参加")), check_leave
    ),
    "minutes": Script(
        "minutes",
        (
            (PRIVATE, "/minutes"),
            (PRIVATE, "Oct 6, 2026 Organization-life day 十月学习"),
            (PRIVATE, "keep"),
            (PRIVATE, "<me>"),
            (PRIVATE, "李四"),
            (PRIVATE, "短"),
            (PRIVATE, "学习党章第一章，交流学习体会。"),
            (PRIVATE, "none"),
            (PRIVATE, "confirm"),
        ),
        check_minutes,
        members=(("sec", "7011"), ("sec2", "7012")),
        setup=meetings_for_minutes,
    ),
    "photos": Script(
        "photos",
        ((PRIVATE, PHOTO), (PRIVATE, PHOTO), (PRIVATE, "maybe"), (PRIVATE, "attach")),
        check_photos,
        setup=reports_for_photos,
    ),
    "report-photos": Script(
        "report",
        (*REPORT[:2], (PRIVATE, PHOTO), *REPORT[2:]),
        check_report,
    ),
    "bind-name": Script(
        "bind",
        ((PRIVATE, "绑定 {invite}"), (PRIVATE, " "), (PRIVATE, "王小红")),
        check_name,
        english=False,
        unnamed=True,
    ),
    "language": Script(
        "language",
        ((PRIVATE, "/lang"), (PRIVATE, "klingon"), (PRIVATE, "en")),
        check_language,
        english=False,
    ),
}


def cut_points() -> Iterator[object]:
    """Yields (script, messages before the restart) for every point inside every flow."""
    for name, script in SCRIPTS.items():
        for cut in range(1, len(script.messages)):
            yield pytest.param(name, cut, id=f"{name}-after-{cut}")


def inbound(user: str, where: str, text: str, name: str = "") -> Inbound:
    """Builds a Telegram message (or photo) from `user` in their private chat or the group."""
    photo = text == PHOTO
    return Inbound(
        channel=Channel.TELEGRAM,
        chat_id=GROUP_CHAT if where == GROUP else user,
        user_id=user,
        text="" if photo else text.replace("<me>", name),
        chat_kind=ChatKind.GROUP if where == GROUP else ChatKind.PRIVATE,
        display_name=user,
        images=(InboundImage(PICTURE),) if photo else (),
        private_chat_id=user,
    )


def shown(replies: list[Reply], name: str = "") -> list[tuple[str, tuple[str, ...], bool]]:
    """What a member sees of replies: text, buttons, privacy; numbers and own name masked."""

    def masked(text: str) -> str:
        text = re.sub(r"No\. \d+", "No. #", text)
        text = re.sub(r"meeting:\d+", "meeting:#", text)
        return re.sub(rf"\b{re.escape(name)}\b", "<me>", text) if name else text

    return [
        (
            masked(reply.text),
            tuple(masked(f"{button.label}={button.data}") for button in reply.flat_buttons),
            reply.private,
        )
        for reply in replies
    ]


def new_process(settings: Settings, clock: FrozenClock, database_url: str) -> Assistant:
    """Builds the assistant a freshly started process would: new Database, new Assistant."""
    return build_assistant(
        settings, clock=clock, database=Database.connect(database_url, migrate=False)
    )


def prepare(assistant: Assistant, world: World, script: Script) -> None:
    """Binds both members' Telegram accounts and, for most flows, switches them to English."""
    if script.setup is not None:
        script.setup(assistant.database, world)
    if script.unnamed:
        with assistant.database.session() as session:
            now = assistant.clock.now()
            for _, user in (SUBJECT, REFERENCE):
                session.add(
                    Invite(
                        code=invite_code(user),
                        organization_id=world.orgs["B1"],
                        role=RoleKind.MEMBER,
                        created_at=now,
                        expires_at=now + timedelta(days=7),
                    )
                )
        return
    for name, user in script.members:
        [welcome] = assistant.handle(inbound(user, PRIVATE, f"绑定 {world.invites[name]}"))
        assert name in welcome.text
        if script.english:
            assistant.handle(inbound(user, PRIVATE, "/lang en"))


def invite_code(user: str) -> str:
    """The unnamed invite code of a Telegram user in the scripts that bind."""
    return f"NONAME{user}"


def said(user: str, text: str) -> str:
    """A script's message as the user sends it (with their own invite code)."""
    return text.replace("{invite}", invite_code(user))


def conversation_of(database: Database, user: str) -> tuple[str, str] | None:
    """Returns the (flow, step) stored for the user, in whichever chat it continues."""
    with database.session() as session:
        rows = session.exec(select(Conversation).where(Conversation.user_id == user)).all()
    assert len(rows) <= 1
    return (rows[0].flow, rows[0].step) if rows else None


def test_every_flow_with_steps_has_a_restart_script() -> None:
    stepped = {router.flow for router in ROUTERS if router.steps}
    assert stepped <= {script.flow for script in SCRIPTS.values()}, "add a script for new flows"


@pytest.mark.parametrize(("name", "cut"), list(cut_points()))
def test_restart_mid_flow_continues_where_the_member_was(
    name: str,
    cut: int,
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    database_url: str,
    world: World,
) -> None:
    script = SCRIPTS[name]
    (subject, subject_id), (reference, reference_id) = script.members
    before = new_process(settings, clock, database_url)
    prepare(before, world, script)

    def answered(assistant: Assistant, user: str, member: str, where: str, text: str) -> object:
        message = inbound(user, where, said(user, text), member)
        return shown(assistant.handle(message), member)

    expected = [
        answered(before, reference_id, reference, where, text) for where, text in script.messages
    ]
    assert conversation_of(database, reference_id) is None
    replies = [
        answered(before, subject_id, subject, where, text) for where, text in script.messages[:cut]
    ]
    state = conversation_of(database, subject_id)
    assert state is not None and state[0] == script.flow, "the flow's state was not stored"
    # The process dies: its connections go; a new one starts on the same database.
    before.database.dispose()
    after = new_process(settings, clock, database_url)
    try:
        replies += [
            answered(after, subject_id, subject, where, text)
            for where, text in script.messages[cut:]
        ]
    finally:
        after.database.dispose()
    assert replies == expected
    assert conversation_of(database, subject_id) is None
    script.check(database, world)


class WeChatProcess:
    """One process serving the official account: its own Database, Assistant, channel and app."""

    def __init__(
        self, settings: Settings, clock: FrozenClock, database_url: str, api: FakeWeChatAPI
    ) -> None:
        self.assistant = new_process(settings, clock, database_url)
        channel = WeChatChannel(
            wechat_settings(database_url, api.base_url, aes=False),
            self.assistant,
            database=self.assistant.database,
            clock=clock,
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_http_app(self.assistant, channel.routes)),
            base_url="http://gongjian.test",
        )

    def follower(self, server: WeChatServer, last: str) -> Follower:
        """Returns the member's side, still showing the last message they got."""
        member = Follower(self.http, server, "o-wechat-m1", "/wechat")
        member.last = last
        return member

    async def stop(self) -> None:
        """Ends the process: closes its client and its connections."""
        await self.http.aclose()
        self.assistant.database.dispose()


# What the member does on WeChat: type words, or answer an option by its number.
WECHAT_REPORT = (
    ("say", "汇报"),
    ("choose", "Joint study"),
    ("choose", "Today"),
    ("choose", "(B2)"),
    ("choose", "Done"),
    ("say", "12"),
    ("say", "联合学习二十大精神并开展交流"),
    ("choose", "Confirm"),
)


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 7])
async def test_wechat_member_answers_by_number_across_a_restart(
    cut: int,
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    database_url: str,
    world: World,
) -> None:
    # On WeChat a member answers a button by its number: what the numbers stood for must
    # survive the restart along with the flow.
    async with FakeWeChatAPI() as api:
        server = WeChatServer(lambda: int(clock.now().timestamp()))
        process = WeChatProcess(settings, clock, database_url, api)
        member = process.follower(server, "")
        await member.say(f"绑定 {world.invites['m1']}")
        await member.say("/lang en")
        try:
            for number, (action, words) in enumerate(WECHAT_REPORT):
                if number == cut:
                    await process.stop()
                    process = WeChatProcess(settings, clock, database_url, api)
                    member = process.follower(server, member.last)
                if action == "choose":
                    await member.choose(words)
                else:
                    await member.say(words)
        finally:
            await process.stop()
    assert "Stored as ledger entry No." in member.last
    with database.session() as session:
        [entry] = session.exec(select(Activity)).all()
        [partner] = session.exec(select(ActivityPartner)).all()
    assert (entry.kind, entry.participants, entry.held_on) == (
        ActivityKind.STUDY,
        12,
        date(2026, 11, 3),
    )
    assert entry.reporter_id == world.members["m1"]
    assert partner.organization_id == world.orgs["B2"]
