"""The authorization matrix: every privileged command, tried by every role that must not have it.

The commands come from `handlers.routers.ROUTERS` (every `leads_only` command), so a new
privileged command is covered the day it is registered; secretary actions reached through an
ordinary command (the points ranking) are listed by hand. Each attempt must be refused with a
translated sentence and change nothing; a member's attempt leaves an `audit_log` row with the
action "denied". Attempts by people the assistant does not know (an unbound account, a group's
anonymous admin) are refused before any privilege is looked at and are not audited: strangers
must not be able to grow the audit log, nor get their chat ids recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import col, select

from bot.core.inbound import Channel, ChatKind, Inbound
from bot.core.reply import Reply
from bot.engine.assistant import Assistant
from bot.texts.translation import translator
from handlers.base import Command
from handlers.routers import ROUTERS
from storage.engine import Database
from storage.models import AuditEntry
from tests.factories import World
from tests.survival.conftest import differences, snapshot

NOT_ALLOWED = "Only the branch secretary or deputy secretary can do that."
NOT_BOUND = "You are not bound to a member yet. Send /bind followed by your invite code."
ANONYMOUS = "Anonymous admins cannot use the assistant. Please write as yourself."
GROUP_CHAT = "-100200300"
# Arguments with which the secretary of B1 succeeds, so that a refusal is about who asks.
ARGUMENTS: dict[str, str] = {
    "override": "2026-12 B3 因故调整",
    "setmeeting": "12月2日 14:30 党群服务中心",
    "invite": "党员 张三",
    "mobile": "m2 外出 深圳",
    "submitted": "",
    "attendance": "本季度",
    "newmeeting": "党课 12月10日 14:30 党群服务中心",
    "cancelmeeting": "12月1日 与区委会议冲突",
    "notice": "明天下午三点开会",
}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One privileged action as a member types it."""

    command: str
    text: str


def privileged_commands() -> list[Command]:
    """Lists every command only secretaries and deputies may run."""
    return [command for router in ROUTERS for command in router.commands if command.leads_only]


def attempts() -> list[Attempt]:
    """Every privileged command, by `/name` and by its first Chinese keyword, with arguments."""
    found: list[Attempt] = []
    for command in privileged_commands():
        args = ARGUMENTS.get(command.name, "")
        found.append(Attempt(command.name, f"/{command.name} {args}".strip()))
        if command.keywords:
            found.append(Attempt(command.name, f"{command.keywords[0]} {args}".strip()))
    # Secretary actions behind an ordinary command.
    found += [Attempt("points", "/points rank"), Attempt("points", "积分 排名")]
    return found


@dataclass(frozen=True, slots=True)
class Role:
    """Who tries: a bound member (by name in tests.factories), an unbound user, an anonymous admin."""

    name: str
    member: str | None
    user: str
    anonymous: bool = False


ROLES = [
    Role("member", "m1", "8101"),
    Role("liaison", "liaison", "8102"),
    Role("unbound", None, "8103"),
    Role("anonymous-admin", None, "8104", anonymous=True),
]
SECRETARY = Role("secretary", "sec", "8100")
OTHER_SECRETARY = Role("secretary-of-B2", "sec2", "8105")


def message(role: Role, text: str) -> Inbound:
    """Builds the Telegram message a role sends: in private, or as the group's anonymous admin."""
    user = role.user
    if role.anonymous:
        return Inbound(
            channel=Channel.TELEGRAM,
            chat_id=GROUP_CHAT,
            user_id=user,
            text=text,
            chat_kind=ChatKind.GROUP,
            anonymous_admin=True,
        )
    return Inbound(channel=Channel.TELEGRAM, chat_id=user, user_id=user, text=text)


def bind(assistant: Assistant, world: World, role: Role) -> int | None:
    """Binds the role's account (if it has a member) and settles its first-contact writes."""
    if role.member is not None:
        [reply] = assistant.handle(message(role, f"绑定 {world.invites[role.member]}"))
        assert role.member in reply.text
    # The first message stamps the account's last contact; later ones within minutes do not.
    assistant.handle(message(role, "/help"))
    return world.members[role.member] if role.member else None


def denials(database: Database) -> list[tuple[int | None, str]]:
    """Lists (actor, subject) of every "denied" audit row."""
    with database.session() as session:
        return [
            (row.actor_id, row.subject)
            for row in session.exec(
                select(AuditEntry).where(AuditEntry.action == "denied").order_by(col(AuditEntry.id))
            ).all()
        ]


def refusals(locale: str) -> set[str]:
    """The translated refusals an unauthorized attempt may get."""
    t = translator(locale)
    return {t(NOT_ALLOWED), t(NOT_BOUND), t(ANONYMOUS)}


def test_the_matrix_covers_privileged_commands() -> None:
    names = {command.name for command in privileged_commands()}
    assert {"invite", "opencheckin", "override", "setmeeting"} <= names
    assert set(ARGUMENTS) <= names


def test_the_secretary_may_do_each_of_them(assistant: Assistant, world: World) -> None:
    # Otherwise a refusal below could come from bad arguments rather than from the role.
    bind(assistant, world, SECRETARY)
    for attempt in attempts():
        replies = assistant.handle(message(SECRETARY, attempt.text))
        assert replies, attempt
        assert not {reply.text for reply in replies} & refusals("zh_CN"), attempt


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_privileged_action_is_refused_audited_and_changes_nothing(
    role: Role, assistant: Assistant, database: Database, world: World
) -> None:
    actor = bind(assistant, world, role)
    expected_refusals = refusals("zh_CN")
    problems: list[str] = []
    for attempt in attempts():
        before = snapshot(database)
        audited = len(denials(database))
        replies: list[Reply] = assistant.handle(message(role, attempt.text))
        texts = [reply.text for reply in replies]
        if len(texts) != 1 or texts[0] not in expected_refusals:
            problems.append(f"{attempt.text!r}: not refused, got {texts}")
        changed = differences(before, snapshot(database))
        if changed:
            problems.append(f"{attempt.text!r}: changed {changed}")
        new = denials(database)[audited:]
        expected = [] if actor is None else [(actor, f"command:{attempt.command}")]
        if new != expected:
            problems.append(f"{attempt.text!r}: audit rows {new}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_a_secretary_cannot_mark_another_branchs_member(
    assistant: Assistant, database: Database, world: World
) -> None:
    bind(assistant, world, OTHER_SECRETARY)
    before = snapshot(database)
    [reply] = assistant.handle(message(OTHER_SECRETARY, "流动 m1 外出 深圳"))
    assert reply.text == translator("zh_CN")(
        "No member of your branch is called {name}.", name="m1"
    )
    assert differences(before, snapshot(database)) == {}


def test_a_plain_members_request_for_what_the_branch_owes_is_audited(
    assistant: Assistant, database: Database, world: World
) -> None:
    member = ROLES[0]
    actor = bind(assistant, world, member)
    before = snapshot(database)
    [reply] = assistant.handle(message(member, "/pending"))
    assert "secretaries" in reply.text or "书记" in reply.text
    assert differences(before, snapshot(database)) == {}
    assert denials(database) == [(actor, "command:pending")]
