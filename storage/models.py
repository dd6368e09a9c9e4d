"""The tables. Uniqueness rules live here as constraints, not in Python checks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Column, Index, String, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from bot.core.domain import (
    ActivityKind,
    AttendanceStatus,
    Duty,
    DutyPeriod,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    OrgKind,
    PairingForm,
    RoleKind,
    UnitKind,
)
from bot.core.inbound import Channel
from storage.types import ChannelName, channel_column, enum_column, text_column, utc_column

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Organization(SQLModel, table=True):
    """A committee, general branch, branch or joint branch, in a tree."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=text_column(32))
    name: str = Field(sa_column=text_column(200))
    kind: OrgKind = Field(sa_column=enum_column(OrgKind))
    parent_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    orglife_ordinal: int = 1
    orglife_weekday: int = 1
    orglife_time: str = Field(default="09:00", sa_column=text_column(5))
    orglife_venue: str = Field(default="", sa_column=text_column(200))
    # 002 leaves the choice to the branch; moving to the next working day is the usual practice.
    holiday_policy: str = Field(default="next_workday", sa_column=text_column(16))
    checkin_code_required: bool = True
    created_at: datetime = Field(sa_column=utc_column())

    __table_args__ = (UniqueConstraint("code"),)


class Member(SQLModel, table=True):
    """A party member: only what the work needs (name, branch, status, language, phone optional)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=text_column(100))
    organization_id: int = Field(foreign_key="organization.id", index=True)
    status: MemberStatus = Field(sa_column=enum_column(MemberStatus))
    mobile: bool = False
    locale: str | None = Field(default=None, sa_column=text_column(8, nullable=True))
    phone: str | None = Field(default=None, sa_column=text_column(32, nullable=True))
    muted: bool = False
    created_at: datetime = Field(sa_column=utc_column())
    departed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Role(SQLModel, table=True):
    """A member's role in one organization."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: RoleKind = Field(sa_column=enum_column(RoleKind))

    __table_args__ = (UniqueConstraint("organization_id", "member_id", "role"),)


class RoleTerm(SQLModel, table=True):
    """A member's term in a role of an organization: who held it on any day (role history)."""

    __tablename__ = "role_term"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    member_id: int = Field(foreign_key="member.id", index=True)
    role: RoleKind = Field(sa_column=enum_column(RoleKind))
    started_on: date
    ended_on: date | None = None


class ChatAccount(SQLModel, table=True):
    """Binds one account on one channel to a member."""

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(sa_column=channel_column())
    external_id: str = Field(sa_column=text_column(128))
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(sa_column=utc_column())
    last_seen_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    __table_args__ = (UniqueConstraint("channel", "external_id"),)


class Invite(SQLModel, table=True):
    """A single-use, expiring code that binds a chat account to a member."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=text_column(16))
    organization_id: int = Field(foreign_key="organization.id", index=True)
    role: RoleKind = Field(sa_column=enum_column(RoleKind))
    name: str = Field(default="", sa_column=text_column(100))
    member_id: int | None = Field(default=None, foreign_key="member.id")
    created_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    used_by: int | None = Field(default=None, foreign_key="chataccount.id")

    __table_args__ = (UniqueConstraint("code"),)


class Pairing(SQLModel, table=True):
    """A co-construction pairing (结对共建) of two or more organizations."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=text_column(32))
    name: str = Field(sa_column=text_column(200))
    lead_org_id: int = Field(foreign_key="organization.id")
    agreement_start: date
    agreement_end: date | None = None
    goals: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    visit_target: int = 3
    form: PairingForm = Field(
        default=PairingForm.ONE_TO_ONE,
        sa_column=enum_column(PairingForm, default=PairingForm.ONE_TO_ONE),
    )

    __table_args__ = (UniqueConstraint("code"),)


class PairingOrg(SQLModel, table=True):
    """One organization's place in a pairing."""

    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="pairing.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)

    __table_args__ = (UniqueConstraint("pairing_id", "organization_id"),)


class Alliance(SQLModel, table=True):
    """A party-building alliance (党建联盟): X president units + Y member units."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=text_column(32))
    name: str = Field(sa_column=text_column(200))
    rota_start: date
    duty_period: DutyPeriod = Field(sa_column=enum_column(DutyPeriod))
    executive_term_months: int = 12
    # 001: the convener is, as a rule, the executive president unit; an alliance may instead
    # have its president units convene in turn, quarter by quarter.
    convener_rotation: bool = False

    __table_args__ = (UniqueConstraint("code"),)


class AllianceUnit(SQLModel, table=True):
    """An organization in an alliance, with its kind and place in the rotation."""

    id: int | None = Field(default=None, primary_key=True)
    alliance_id: int = Field(foreign_key="alliance.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    kind: UnitKind = Field(sa_column=enum_column(UnitKind))
    rotation_order: int

    __table_args__ = (
        UniqueConstraint("alliance_id", "organization_id"),
        UniqueConstraint("alliance_id", "rotation_order"),
    )


class RotaOverride(SQLModel, table=True):
    """A secretary's change to one duty slot, with the reason."""

    id: int | None = Field(default=None, primary_key=True)
    alliance_id: int = Field(foreign_key="alliance.id", index=True)
    duty: Duty = Field(sa_column=enum_column(Duty))
    period: str = Field(sa_column=text_column(16))
    organization_id: int = Field(foreign_key="organization.id")
    reason: str = Field(sa_column=text_column(500))
    created_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(sa_column=utc_column())

    __table_args__ = (UniqueConstraint("alliance_id", "duty", "period"),)


class Meeting(SQLModel, table=True):
    """A meeting on the calendar; org-life days are created from the rule, one per branch-month."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    kind: MeetingKind = Field(sa_column=enum_column(MeetingKind))
    period: str = Field(sa_column=text_column(16))
    held_on: date = Field(index=True)
    starts_at: datetime = Field(sa_column=utc_column())
    venue: str = Field(default="", sa_column=text_column(200))
    title: str = Field(default="", sa_column=text_column(200))
    moved_from: date | None = None
    move_reason: str | None = Field(default=None, sa_column=text_column(32, nullable=True))
    holiday: str | None = Field(default=None, sa_column=text_column(32, nullable=True))
    alliance_id: int | None = Field(default=None, foreign_key="alliance.id", index=True)
    pairing_id: int | None = Field(default=None, foreign_key="pairing.id", index=True)
    checkin_code: str = Field(sa_column=text_column(6))
    checkin_open: bool = False
    code_required: bool = True
    status: MeetingStatus = Field(sa_column=enum_column(MeetingStatus))

    __table_args__ = (UniqueConstraint("organization_id", "kind", "period"),)


class Attendance(SQLModel, table=True):
    """One member's answer to one meeting: present, on leave or absent."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    status: AttendanceStatus = Field(sa_column=enum_column(AttendanceStatus))
    at: datetime = Field(sa_column=utc_column())
    channel: Channel | None = Field(default=None, sa_column=channel_column(nullable=True))
    reason: str = Field(default="", sa_column=text_column(500))
    # Signed in after the meeting's on-time window (迟到): present, and shown as late.
    late: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, default=False, server_default=false()),
    )

    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)


class Minutes(SQLModel, table=True):
    """The minutes (会议记录) of one meeting of any kind: topic, host, recorder, content, resolutions."""

    __tablename__ = "meeting_minutes"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    topic: str = Field(sa_column=text_column(200))
    host: str = Field(sa_column=text_column(100))
    recorder: str = Field(sa_column=text_column(100))
    content: str = Field(sa_column=Column(Text, nullable=False))
    resolutions: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recorded_by: int | None = Field(default=None, foreign_key="member.id")
    recorded_at: datetime = Field(sa_column=utc_column())

    __table_args__ = (UniqueConstraint("meeting_id"),)


class Photo(SQLModel, table=True):
    """A photo a member sent as evidence, stored as a file; attached to a ledger entry once chosen."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    activity_id: int | None = Field(default=None, foreign_key="activity.id", index=True)
    sha256: str = Field(sa_column=text_column(64))
    path: str = Field(sa_column=text_column(200))
    mime_type: str = Field(sa_column=text_column(32))
    size: int
    created_at: datetime = Field(sa_column=utc_column())

    # The same picture sent twice by one member is one photo.
    __table_args__ = (UniqueConstraint("member_id", "sha256"),)


class CheckinFailure(SQLModel, table=True):
    """Wrong check-in codes one member sent for one meeting, to stop guessing."""

    __tablename__ = "checkin_failure"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    count: int = 0
    last_at: datetime = Field(sa_column=utc_column())

    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)


class BindFailure(SQLModel, table=True):
    """Failed invite codes from one chat account or one source in the current window."""

    __tablename__ = "bind_failure"

    id: int | None = Field(default=None, primary_key=True)
    # "account:<channel>:<user>" or "source:<channel>:<chat>".
    scope: str = Field(sa_column=text_column(200))
    count: int = 0
    since: datetime = Field(sa_column=utc_column())
    last_at: datetime = Field(sa_column=utc_column(index=True))

    __table_args__ = (UniqueConstraint("scope"),)


class Activity(SQLModel, table=True):
    """One ledger (台账) entry: an activity a member reported and confirmed."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    kind: ActivityKind = Field(sa_column=enum_column(ActivityKind))
    held_on: date = Field(index=True)
    title: str = Field(sa_column=text_column(200))
    participants: int
    summary: str = Field(sa_column=Column(Text, nullable=False))
    reporter_id: int | None = Field(default=None, foreign_key="member.id")
    pairing_id: int | None = Field(default=None, foreign_key="pairing.id", index=True)
    alliance_id: int | None = Field(default=None, foreign_key="alliance.id", index=True)
    created_at: datetime = Field(sa_column=utc_column())


class ActivityPartner(SQLModel, table=True):
    """A partner organization of a ledger entry."""

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)

    __table_args__ = (UniqueConstraint("activity_id", "organization_id"),)


class Conversation(SQLModel, table=True):
    """Where one person stands in a multi-step flow, keyed by (channel, chat, user)."""

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(sa_column=channel_column())
    chat_id: str = Field(sa_column=text_column(128))
    user_id: str = Field(sa_column=text_column(128))
    flow: str = Field(sa_column=text_column(32))
    step: str = Field(sa_column=text_column(32))
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    updated_at: datetime = Field(sa_column=utc_column())

    __table_args__ = (UniqueConstraint("channel", "chat_id", "user_id"),)


class AuditEntry(SQLModel, table=True):
    """A privileged change: who (a member or a console account) did what to which subject, when."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(index=True))
    actor_id: int | None = Field(default=None, foreign_key="member.id")
    # Committee staff sign in to the console with an account of their own, not as a member.
    account_id: int | None = Field(default=None, foreign_key="console_account.id")
    action: str = Field(sa_column=text_column(64))
    subject: str = Field(sa_column=text_column(200))
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class ProcessedInbound(SQLModel, table=True):
    """A platform delivery already handled (Telegram update_id, WeChat MsgId): retries are dropped."""

    __tablename__ = "processed_inbound"

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(sa_column=channel_column())
    key: str = Field(sa_column=text_column(128))
    at: datetime = Field(sa_column=utc_column(index=True))
    # The answer given, stored in the delivery's transaction so that a platform's retry after a
    # lost connection gets it again (JSON, see bot.engine.stored).
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))

    __table_args__ = (UniqueConstraint("channel", "key"),)


class DownloadLink(SQLModel, table=True):
    """A single-use, expiring link to a generated file (a ledger workbook) for one member."""

    __tablename__ = "download_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=text_column(64))
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    kind: str = Field(sa_column=text_column(32))
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    __table_args__ = (UniqueConstraint("token_hash"),)


class CalendarFeed(SQLModel, table=True):
    """A member's private iCalendar feed URL: only the token's hash is stored; revocable."""

    __tablename__ = "calendar_feed"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=text_column(64))
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))

    __table_args__ = (UniqueConstraint("token_hash"),)


class OfferedOption(SQLModel, table=True):
    """The options a text-only chat account was offered last, by number: "1" means the first."""

    __tablename__ = "offered_option"

    channel: Channel = Field(sa_column=Column(ChannelName(), primary_key=True))
    user_id: str = Field(sa_column=Column(String(128), primary_key=True))
    # The button data, oldest first, as a JSON list.
    options: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(index=True))


class ChannelToken(SQLModel, table=True):
    """A platform access token shared by every process, refreshed before it expires."""

    __tablename__ = "channel_token"

    name: str = Field(sa_column=Column("name", Text, primary_key=True))
    token: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = Field(sa_column=utc_column())
    refreshed_at: datetime = Field(sa_column=utc_column())


# Who held a role in an organization on a day: one organization's terms of one role.
Index(
    "ix_role_term_org_role",
    RoleTerm.__table__.c.organization_id,  # type: ignore[attr-defined]
    RoleTerm.__table__.c.role,  # type: ignore[attr-defined]
)
Index("ix_meeting_org_day", Meeting.__table__.c.organization_id, Meeting.__table__.c.held_on)  # type: ignore[attr-defined]
# A group's or an organization's records of a span: the held_on index alone would scan the span.
Index("ix_meeting_alliance_day", Meeting.__table__.c.alliance_id, Meeting.__table__.c.held_on)  # type: ignore[attr-defined]
Index("ix_meeting_pairing_day", Meeting.__table__.c.pairing_id, Meeting.__table__.c.held_on)  # type: ignore[attr-defined]
Index("ix_activity_org_day", Activity.__table__.c.organization_id, Activity.__table__.c.held_on)  # type: ignore[attr-defined]
# The tallies of a span's meetings: each meeting's answers, who gave them and how, without the rows.
Index(
    "ix_attendance_meeting_answer",
    Attendance.__table__.c.meeting_id,  # type: ignore[attr-defined]
    Attendance.__table__.c.member_id,  # type: ignore[attr-defined]
    Attendance.__table__.c.status,  # type: ignore[attr-defined]
)
