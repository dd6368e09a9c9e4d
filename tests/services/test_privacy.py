"""Personal data: export finds everything, erasure leaves nothing personal, retention purges."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, func, select

from bot.core.clock import FrozenClock
from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    RoleKind,
)
from bot.core.inbound import Channel
from bot.services.calendar_feed import CalendarFeeds
from bot.services.errors import ServiceError
from bot.services.privacy import (
    ERASURE_POLICY,
    depart_member,
    erase_member,
    export_member,
    member_references,
    placeholder_name,
    purge_departed,
)
from storage.engine import Database
from storage.models import (
    Activity,
    Attendance,
    AuditEntry,
    CalendarFeed,
    ChatAccount,
    CheckinFailure,
    Conversation,
    DownloadLink,
    Invite,
    Meeting,
    Member,
    OfferedOption,
    Role,
)
from storage.reminders import MobileMovement, MovementDirection, OutboxMessage, OutboxStatus
from tests.conftest import SHANGHAI
from tests.factories import World

PHONE = "13800138000"


def meeting(session: object, world: World, day: date, period: str) -> int:
    row = Meeting(
        organization_id=world.orgs["B1"],
        kind=MeetingKind.BRANCH_ASSEMBLY,
        period=period,
        held_on=day,
        starts_at=datetime(day.year, day.month, day.day, 14, tzinfo=SHANGHAI),
        checkin_code="654321",
        status=MeetingStatus.HELD,
    )
    session.add(row)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    assert row.id is not None
    return row.id


def outbox(member_id: int, key: str, status: OutboxStatus, now: datetime) -> OutboxMessage:
    return OutboxMessage(
        key=key,
        rule="orglife",
        subject="org:1",
        period="2026-11",
        member_id=member_id,
        text="m1同志：明天组织生活日",
        status=status,
        next_attempt_at=now,
        created_at=now,
    )


def populate(database: Database, world: World, now: datetime) -> dict[str, int]:
    """Gives member m1 a row in every table that can hold something about them."""
    m1 = world.members["m1"]
    with database.session() as session:
        member = session.get_one(Member, m1)
        member.phone, member.locale, member.mobile = PHONE, "en", True
        session.add(member)
        account = ChatAccount(
            channel=Channel.WECHAT, external_id="wx-openid-m1", member_id=m1, created_at=now
        )
        session.add(account)
        session.flush()
        invite = session.exec(select(Invite).where(Invite.member_id == m1)).one()
        invite.used_at, invite.used_by = now, account.id
        session.add(invite)
        session.add(
            Conversation(
                channel=Channel.WECHAT,
                chat_id="wx-openid-m1",
                user_id="wx-openid-m1",
                flow="leave",
                step="reason",
                data='{"meeting_id": 1}',
                updated_at=now,
            )
        )
        session.add(
            OfferedOption(
                channel=Channel.WECHAT,
                user_id="wx-openid-m1",
                options='["1", "2"]',
                expires_at=now + timedelta(hours=1),
            )
        )
        session.add(
            OfferedOption(
                channel=Channel.WECHAT, user_id="someone-else", options="[]", expires_at=now
            )
        )
        first = meeting(session, world, date(2026, 9, 15), "2026-09-15")
        second = meeting(session, world, date(2026, 10, 13), "2026-10-13")
        session.add(
            Attendance(
                meeting_id=first,
                member_id=m1,
                status=AttendanceStatus.PRESENT,
                at=now,
                channel=Channel.WECHAT,
            )
        )
        session.add(
            Attendance(
                meeting_id=second,
                member_id=m1,
                status=AttendanceStatus.LEAVE,
                at=now,
                reason="母亲住院",
            )
        )
        session.add(
            Attendance(
                meeting_id=first,
                member_id=world.members["m2"],
                status=AttendanceStatus.PRESENT,
                at=now,
            )
        )
        session.add(CheckinFailure(meeting_id=first, member_id=m1, count=2, last_at=now))
        session.add(
            Activity(
                organization_id=world.orgs["B1"],
                kind=ActivityKind.STUDY,
                held_on=date(2026, 10, 20),
                title="学习",
                participants=8,
                summary="集中学习",
                reporter_id=m1,
                created_at=now,
            )
        )
        session.add(
            DownloadLink(
                token_hash="d" * 64,
                member_id=m1,
                kind="ledger",
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        session.add(outbox(m1, "k-pending", OutboxStatus.PENDING, now))
        session.add(outbox(m1, "k-sent", OutboxStatus.SENT, now))
        session.add(outbox(world.members["m2"], "k-other", OutboxStatus.PENDING, now))
        session.add(
            MobileMovement(
                member_id=m1,
                direction=MovementDirection.LEAVING,
                place="深圳",
                marked_by=world.members["sec"],
                marked_at=now,
            )
        )
        session.add(
            AuditEntry(at=now, actor_id=m1, action="checkin", subject="meeting:1", detail="{}")
        )
    with database.session() as session:
        CalendarFeeds(session, now).issue(m1)
    return {"first": first, "second": second}


def test_export_holds_everything_about_the_member(
    database: Database, world: World, clock: FrozenClock
) -> None:
    populate(database, world, clock.now())
    with database.session() as session:
        data = export_member(session, world.members["m1"], now=clock.now())
    text = json.dumps(data, ensure_ascii=False)
    tables = data["tables"]
    assert isinstance(tables, dict)
    [member] = tables["member"]
    assert (member["name"], member["phone"], member["locale"]) == ("m1", PHONE, "en")
    assert {row["role"] for row in tables["role"]} == {"member"}
    assert [row["external_id"] for row in tables["chataccount"]] == ["wx-openid-m1"]
    assert len(tables["invite"]) == 1
    assert {row["status"] for row in tables["attendance"]} == {"present", "leave"}
    assert len(tables["checkin_failure"]) == 1
    assert [row["title"] for row in tables["activity"]] == ["学习"]
    assert [row["flow"] for row in tables["conversation"]] == ["leave"]
    assert [(row["channel"], row["user_id"]) for row in tables["offered_option"]] == [
        ("wechat", "wx-openid-m1")
    ]
    assert len(tables["calendar_feed"]) == 1 and "token_hash" not in tables["calendar_feed"][0]
    assert len(tables["download_link"]) == 1 and "d" * 64 not in text
    assert {row["key"] for row in tables["outbox"]} == {"k-pending", "k-sent"}
    assert [row["place"] for row in tables["mobile_movement"]] == ["深圳"]
    assert any(row["action"] == "checkin" for row in tables["audit_log"])
    assert "母亲住院" in text and "m2" not in {row.get("name") for row in tables["member"]}
    assert data["organization"] == {"id": world.orgs["B1"], "code": "B1", "name": "第1支部"}
    with database.session() as session:
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "member.export")).all()
        assert audit.subject == f"member:{world.members['m1']}"


def test_delete_then_export_leaves_nothing_personal(
    database: Database, world: World, clock: FrozenClock
) -> None:
    meetings = populate(database, world, clock.now())
    m1 = world.members["m1"]
    with database.session() as session:
        counted = session.exec(
            select(Attendance.meeting_id, Attendance.status).order_by(col(Attendance.id))
        ).all()
    with database.session() as session:
        erasure = erase_member(session, m1, now=clock.now())
    assert erasure.deleted["chataccount"] == 1 and erasure.deleted["outbox"] == 1
    with database.session() as session:
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "member.delete"))
    assert audit.subject == f"member:{m1}"
    assert json.loads(audit.detail) == {"deleted": erasure.deleted, "cleared": erasure.cleared}
    with database.session() as session:
        data = export_member(session, m1, now=clock.now())
        member = session.get_one(Member, m1)
        assert member.name == placeholder_name(m1) == f"已删除成员#{m1}"
        assert (member.phone, member.locale, member.mobile) == (None, None, False)
        assert member.status is MemberStatus.DEPARTED and member.departed_at == clock.now()
        # Statistics stay: the same attendance rows, anonymous; the ledger entry too.
        after = session.exec(
            select(Attendance.meeting_id, Attendance.status).order_by(col(Attendance.id))
        ).all()
        assert after == counted
        assert session.exec(select(func.count()).select_from(Activity)).one() == 1
        # Other people's rows are untouched.
        assert session.exec(
            select(OutboxMessage.key).where(OutboxMessage.member_id != m1)
        ).all() == ["k-other"]
        assert session.get(OfferedOption, (Channel.WECHAT, "someone-else")) is not None
        assert (
            session.exec(
                select(func.count()).select_from(Role).where(Role.member_id == world.members["m2"])
            ).one()
            == 1
        )
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "member.delete")).one()
        assert audit.subject == f"member:{m1}"
    text = json.dumps(data, ensure_ascii=False)
    for personal in (PHONE, "wx-openid-m1", "母亲住院", "深圳", "m1同志", '"en"', '"m1"'):
        assert personal not in text, personal
    tables = data["tables"]
    assert isinstance(tables, dict)
    for emptied in (
        "role",
        "chataccount",
        "invite",
        "conversation",
        "offered_option",
        "calendar_feed",
        "download_link",
        "checkin_failure",
        "mobile_movement",
    ):
        assert tables[emptied] == [], emptied
    assert [row["key"] for row in tables["outbox"]] == ["k-sent"]
    assert len(tables["attendance"]) == 2 and meetings["first"] in {
        row["meeting_id"] for row in tables["attendance"]
    }
    with database.session() as session:
        for model in (
            ChatAccount,
            Conversation,
            CalendarFeed,
            DownloadLink,
            CheckinFailure,
            MobileMovement,
        ):
            assert session.exec(select(model)).all() == [], model


def test_deleting_twice_is_harmless(database: Database, world: World, clock: FrozenClock) -> None:
    with database.session() as session:
        erase_member(session, world.members["m2"], now=clock.now())
    clock.advance(timedelta(days=1))
    with database.session() as session:
        erasure = erase_member(session, world.members["m2"], now=clock.now())
        assert sum(erasure.deleted.values()) == 0
        member = session.get_one(Member, world.members["m2"])
        assert member.departed_at == clock.now() - timedelta(days=1)


def test_unknown_member_is_refused(database: Database, world: World, clock: FrozenClock) -> None:
    with database.session() as session, pytest.raises(ServiceError) as caught:
        export_member(session, 9999, now=clock.now())
    assert caught.value.code == "member_unknown"
    with database.session() as session, pytest.raises(ServiceError):
        erase_member(session, 9999, now=clock.now())
    with database.session() as session, pytest.raises(ServiceError):
        depart_member(session, 9999, now=clock.now())


def test_depart_then_purge_after_the_retention_period(
    database: Database, world: World, clock: FrozenClock
) -> None:
    populate(database, world, clock.now())
    m1, m2 = world.members["m1"], world.members["m2"]
    with database.session() as session:
        assert depart_member(session, m1, now=clock.now()) is True
        assert depart_member(session, m1, now=clock.now()) is False
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "member.depart"))
        assert (audit.subject, audit.actor_id, audit.detail) == (f"member:{m1}", None, "{}")
    clock.advance(timedelta(days=10))
    with database.session() as session:
        depart_member(session, m2, now=clock.now())
    retention = timedelta(days=30)
    with database.session() as session:
        member = session.get_one(Member, m1)
        assert member.status is MemberStatus.DEPARTED and member.name == "m1"
        assert purge_departed(session, clock.now(), retention) == []
    clock.advance(timedelta(days=20))  # m1 departed 30 days ago, m2 20 days ago
    with database.session() as session:
        assert purge_departed(session, clock.now(), retention) == [m1]
    with database.session() as session:
        assert session.get_one(Member, m1).name == placeholder_name(m1)
        assert session.get_one(Member, m2).name == "m2"
        assert session.exec(select(ChatAccount).where(ChatAccount.member_id == m1)).all() == []
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "member.purge")).one()
        assert audit.subject == f"member:{m1}"
        # A purged member is not purged again.
        assert purge_departed(session, clock.now(), retention) == []
    clock.advance(timedelta(days=10))
    with database.session() as session:
        assert purge_departed(session, clock.now(), retention) == [m2]
        # Members who never departed are never purged.
        assert session.get_one(Member, world.members["sec"]).name == "sec"


def test_every_table_pointing_at_members_has_a_policy() -> None:
    """A new table with a member column must say what erasure does to it (see privacy.py)."""
    assert set(member_references()) | {"member"} == set(ERASURE_POLICY)


def test_export_leaves_out_other_peoples_data_and_finds_invites_by_account(
    database: Database, world: World, clock: FrozenClock
) -> None:
    populate(database, world, clock.now())  # sec recorded m1's movement to 深圳
    now = clock.now()
    sec = world.members["sec"]
    with database.session() as session:
        session.add(
            Invite(
                code="NEWCOMER",
                organization_id=world.orgs["B1"],
                role=RoleKind.MEMBER,
                name="新来的王同志",
                created_by=sec,
                created_at=now,
                expires_at=now + timedelta(days=1),
            )
        )
        account = ChatAccount(
            channel=Channel.TELEGRAM, external_id="tg-sec", member_id=sec, created_at=now
        )
        session.add(account)
        session.flush()
        # An invite without a member (binding created one) is linked only by the account.
        session.add(
            Invite(
                code="SECSELF",
                organization_id=world.orgs["B1"],
                role=RoleKind.SECRETARY,
                created_at=now,
                expires_at=now + timedelta(days=1),
                used_at=now,
                used_by=account.id,
            )
        )
    with database.session() as session:
        data = export_member(session, sec, now=now)
    text = json.dumps(data, ensure_ascii=False)
    assert "新来的王同志" not in text and "深圳" not in text
    tables = data["tables"]
    assert isinstance(tables, dict)
    assert {row["code"] for row in tables["invite"]} == {"INVSECX", "SECSELF"}
    with database.session() as session:
        erase_member(session, sec, now=now)
    with database.session() as session:
        codes = set(session.exec(select(Invite.code)).all())
        assert "SECSELF" not in codes and "INVSECX" not in codes and "NEWCOMER" in codes
