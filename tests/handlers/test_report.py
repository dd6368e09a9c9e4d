"""The activity report: buttons and typed answers, bad input, back, cancel, timeout, restarts."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import col, select

from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.domain import ActivityKind, MemberStatus, RoleKind
from bot.core.inbound import Channel, ChatKind, Inbound
from bot.core.reply import Reply
from bot.engine.assembly import build_assistant
from bot.engine.assistant import Assistant
from storage.engine import Database
from storage.models import (
    Activity,
    ActivityPartner,
    Conversation,
    Invite,
    Member,
    Organization,
    Role,
)
from tests.factories import World
from tests.helpers import Chat

SUMMARY = "Joint study of the party constitution with our partner branches."


def english_member(chat: Chat, world: World, name: str = "m1") -> Chat:
    """Binds a console user as a member and switches the replies to English."""
    member = chat.bound(world.invites[name])
    member.say("/lang en")
    return member


def activities(database: Database) -> list[Activity]:
    """Lists the stored ledger entries."""
    with database.session() as session:
        return list(session.exec(select(Activity).order_by(col(Activity.id))).all())


def partner_codes(database: Database, activity_id: int) -> list[str]:
    """Lists the codes of a ledger entry's partners."""
    with database.session() as session:
        rows = session.exec(
            select(Organization.code)
            .join(ActivityPartner, col(ActivityPartner.organization_id) == Organization.id)
            .where(ActivityPartner.activity_id == activity_id)
            .order_by(col(Organization.code))
        ).all()
    return list(rows)


def conversations(database: Database) -> list[Conversation]:
    """Lists the stored conversation states."""
    with database.session() as session:
        return list(session.exec(select(Conversation)).all())


def step_of(database: Database) -> str | None:
    """Returns the step of the only stored conversation, if any."""
    rows = conversations(database)
    assert len(rows) <= 1, rows
    return rows[0].step if rows else None


def to_participants(member: Chat) -> None:
    """Walks a report with typed answers up to the participants question."""
    member.say("汇报")
    member.say("study")
    member.say("昨天")
    assert "How many people" in member.say("none")


def test_full_report_with_buttons(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    assert "Which kind of activity" in member.say("汇报")
    assert "On which day" in member.press("Joint study")
    reply = member.press("Yesterday")
    assert "Date: November 2, 2026 (Monday)" in reply
    assert "Selected: none yet" in reply
    assert [b.label for b in member.last[0].flat_buttons][:3] == [
        "第2支部 (B2)",
        "第3支部 (B3)",
        "第4支部 (B4)",
    ]
    assert "Selected: 第2支部" in member.press("第2支部")
    assert "Selected: 第2支部 and 第4支部" in member.press("第4支部")
    reply = member.say("第4支部")  # typing the name toggles it off again
    assert "Selected: 第2支部\n" in reply
    assert "✓ 第2支部 (B2)" in reply and "✓ 第4支部" not in reply
    assert "Selected: 第2支部 and 第3支部" in member.press("第3支部")
    assert "How many people" in member.press("Done")
    assert "short summary" in member.say("25")
    confirm = member.say(SUMMARY)
    assert "Please check the report:" in confirm
    assert "Kind: Joint study" in confirm
    assert "Date: November 2, 2026 (Monday)" in confirm
    assert "Partners: 第2支部 and 第3支部" in confirm
    assert "Participants: 25" in confirm
    assert f"Summary: {SUMMARY}" in confirm
    assert step_of(database) == "confirm"
    stored = member.press("Confirm")
    [activity] = activities(database)
    assert f"Stored as ledger entry No. {activity.id}." in stored
    assert "Participants: 25" in stored and "Partners: 第2支部 and 第3支部" in stored
    assert SUMMARY[:60] + "…" in stored
    assert activity.kind is ActivityKind.STUDY
    assert activity.held_on == date(2026, 11, 2)
    assert activity.participants == 25
    assert activity.summary == SUMMARY
    assert activity.organization_id == world.orgs["B1"]
    assert activity.reporter_id == world.members["m1"]
    assert activity.alliance_id == world.alliance_id
    assert activity.pairing_id is None  # B3 is not in the B1-B2 pairing
    assert activity.id is not None
    assert partner_codes(database, activity.id) == ["B2", "B3"]
    assert conversations(database) == []


def test_typed_answers_in_chinese_link_the_pairing(
    chat: Chat, world: World, database: Database
) -> None:
    member = chat.bound(world.invites["m1"])  # replies stay in the default zh_CN
    member.say("汇报")
    member.say("visit")
    member.say("上周二")
    member.say("b2")
    member.say("完成")
    member.say("12人")
    member.say("与第二支部走亲串门，交流党建经验。")
    assert "12" in member.say("确认")
    [activity] = activities(database)
    assert activity.kind is ActivityKind.VISIT
    assert activity.held_on == date(2026, 10, 27)
    assert activity.participants == 12
    assert activity.pairing_id == world.pairing_id
    assert activity.id is not None
    assert partner_codes(database, activity.id) == ["B2"]


def test_several_partners_typed_at_once(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    member.say("汇报")
    member.say("Volunteer service")
    member.say("2026-10-01")
    assert "Selected: 第2支部 and 第4支部" in member.say("B2、第4支部")
    assert "Selected: 第4支部" in member.say("b2")
    member.say("done")
    member.say("３０")
    member.say("Cleaned the riverside park together.")
    member.say("confirm")
    [activity] = activities(database)
    assert activity.kind is ActivityKind.VOLUNTEER and activity.participants == 30
    assert activity.id is not None
    assert partner_codes(database, activity.id) == ["B4"]


def test_bad_kind_and_dates_repeat_the_question(
    chat: Chat, world: World, database: Database
) -> None:
    member = english_member(chat, world)
    member.say("汇报")
    reply = member.say("dancing")
    assert "Please choose one of the kinds below." in reply and "Which kind" in reply
    assert step_of(database) == "kind"
    member.say("lecture")
    reply = member.say("someday")
    assert "I could not read “someday” as a date." in reply and "On which day" in reply
    assert "could not read" in member.say("2月30日")
    assert "could not read" in member.say("明天")
    reply = member.say("2026-11-20")
    assert "November 20, 2026 is in the future" in reply and "On which day" in reply
    assert "in the future" in member.say("本周五")
    assert step_of(database) == "date"
    assert "Date: November 3, 2026 (Tuesday)" in member.say("today")
    assert activities(database) == []


def test_bad_partners_participants_summary_and_confirmation(
    chat: Chat, world: World, database: Database
) -> None:
    member = english_member(chat, world)
    member.say("汇报")
    member.say("study")
    member.say("昨天")
    reply = member.say("B9")
    assert "Not one of your partner organizations: B9." in reply and "Selected: none yet" in reply
    reply = member.say("B2, 第9支部")
    assert "Not one of your partner organizations: 第9支部." in reply
    assert "Selected: none yet" in reply  # nothing is half-applied
    assert "Not one of your partner" in member.say("B1")  # one's own branch is no partner
    member.say("B2")
    member.say("done")
    for text in ("abc", "12.5", "-3", "twelve"):
        reply = member.say(text)
        assert "is not a whole number" in reply and "How many people" in reply, text
    for text in ("0", "10001"):
        reply = member.say(text)
        assert "must be between 1 and 10000" in reply, text
    assert step_of(database) == "participants"
    member.say("10000")
    reply = member.say("hi")
    assert "yours has 2" in reply and "short summary" in reply
    reply = member.say("x" * 2001)
    assert "yours has 2001" in reply
    assert step_of(database) == "summary"
    member.say("    Good meeting.   ")
    reply = member.say("maybe")
    assert "Please press Confirm, Back or Cancel." in reply and "Participants: 10000" in reply
    assert activities(database) == []
    member.say("确认")
    [activity] = activities(database)
    assert activity.summary == "Good meeting." and activity.participants == 10000


def test_back_from_every_step(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    member.say("汇报")
    assert "This is the first step" in member.say("返回")
    member.say("lecture")  # the first-step notice offers no buttons
    assert "Which kind of activity" in member.press("Back")
    assert step_of(database) == "kind"
    member.press("Joint meeting")
    member.say("前天")
    assert "On which day" in member.say("返回")
    member.say("3天前")
    member.say("B3")
    reply = member.press("Done")
    assert "How many people" in reply
    reply = member.say("返回")
    assert "Selected: 第3支部" in reply  # the selection survives going back
    member.press("Done")
    member.say("40")
    assert "How many people" in member.press("Back")
    member.say("41")
    member.say("First version of the summary.")
    assert "short summary" in member.press("Back")
    reply = member.say("Second version of the summary.")
    assert "Summary: Second version of the summary." in reply
    assert "Participants: 41" in reply and "Kind: Joint meeting" in reply
    member.press("Confirm")
    [activity] = activities(database)
    assert activity.kind is ActivityKind.JOINT_MEETING
    assert activity.held_on == date(2026, 10, 31)
    assert activity.participants == 41
    assert activity.summary == "Second version of the summary."


def test_back_then_another_kind(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    member.say("汇报")
    member.say("study")
    member.say("返回")
    member.say("other")
    member.say("today")
    member.say("none")
    member.say("5")
    member.say("Something else entirely.")
    assert "Kind: Other activity" in member.say("confirm")
    [activity] = activities(database)
    assert activity.kind is ActivityKind.OTHER


def test_cancel_mid_flow_stores_nothing(chat: Chat, world: World, database: Database) -> None:
    member = english_member(chat, world)
    to_participants(member)
    assert "Cancelled the activity report; nothing was stored." in member.say("取消")
    assert conversations(database) == []
    assert "You can send" in member.say("12")  # no longer in the flow
    to_participants(member)
    member.say("12")
    member.say(SUMMARY)
    assert "Cancelled the activity report" in member.press("Cancel")
    assert activities(database) == []
    assert conversations(database) == []


def test_timeout_drops_the_draft(
    chat: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    member = english_member(chat, world)
    member.say("汇报")
    member.say("study")
    clock.advance(timedelta(minutes=29))
    assert "Selected: none yet" in member.say("昨天")  # still within the limit
    clock.advance(timedelta(minutes=31))
    reply = member.say("B2")
    assert "Your unfinished activity report was dropped after 30 minutes" in reply
    assert "You can send" in reply
    assert conversations(database) == []
    assert activities(database) == []


def test_restart_continues_where_the_member_was(
    chat: Chat, world: World, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    member = english_member(chat, world)
    to_participants(member)
    restarted = Chat(build_assistant(settings, clock=clock, database=database), user_id="u-console")
    assert "short summary" in restarted.say("7")
    assert "Participants: 7" in restarted.say("Restart-proof summary.")
    restarted.say("确认")
    [activity] = activities(database)
    assert activity.participants == 7 and activity.summary == "Restart-proof summary."
    assert activity.held_on == date(2026, 11, 2)


def test_group_chat_moves_the_summary_to_private(
    chat: Chat, world: World, database: Database, assistant: Assistant
) -> None:
    member = english_member(chat, world)

    def in_group(text: str) -> list[Reply]:
        return assistant.handle(
            Inbound(
                Channel.CONSOLE,
                chat_id="g-1",
                user_id="u-console",
                text=text,
                chat_kind=ChatKind.GROUP,
                private_chat_id="u-console",
            )
        )

    for text in ("汇报", "study", "yesterday", "B2", "done"):
        replies = in_group(text)
        assert not any(reply.private for reply in replies), text
    [row] = conversations(database)
    assert (row.chat_id, row.step) == ("g-1", "participants")
    replies = in_group("15")
    assert "continue in a private chat" in replies[0].text and not replies[0].private
    assert len(replies) == 2 and replies[1].private
    assert "short summary" in replies[1].text
    [row] = conversations(database)
    assert (row.chat_id, row.user_id, row.step) == ("u-console", "u-console", "summary")
    assert "Participants: 15" in member.say("Summary written in private.")
    member.say("confirm")
    [activity] = activities(database)
    assert activity.participants == 15 and activity.summary == "Summary written in private."


def test_branch_without_partners_skips_the_partner_step(
    chat: Chat, world: World, database: Database, clock: FrozenClock
) -> None:
    with database.session() as session:
        lonely = Member(
            name="lonely",
            organization_id=world.orgs["C"],
            status=MemberStatus.FULL,
            created_at=clock.now(),
        )
        session.add(lonely)
        session.flush()
        assert lonely.id is not None
        session.add(
            Role(organization_id=world.orgs["C"], member_id=lonely.id, role=RoleKind.MEMBER)
        )
        session.add(
            Invite(
                code="INVLONELY",
                organization_id=world.orgs["C"],
                role=RoleKind.MEMBER,
                member_id=lonely.id,
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(days=1),
            )
        )
    member = chat.bound("INVLONELY")
    member.say("/lang en")
    member.say("汇报")
    member.say("opinion")
    reply = member.say("今天")
    assert "no partner organizations" in reply and "How many people" in reply
    assert "On which day" in member.say("返回")
    member.say("今天")
    member.say("3")
    assert "Partners: none" in member.say("Collected opinions.")
    member.say("confirm")
    [activity] = activities(database)
    assert activity.organization_id == world.orgs["C"]
    assert activity.id is not None and partner_codes(database, activity.id) == []


def test_report_needs_a_bound_member(chat: Chat, world: World, database: Database) -> None:
    assert "绑定" in chat.say("/report")
    assert conversations(database) == []
