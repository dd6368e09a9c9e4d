"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:48:50.997378
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "alliance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rota_start", sa.Date(), nullable=False),
        sa.Column("duty_period", sa.String(length=32), nullable=False),
        sa.Column("executive_term_months", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alliance")),
        sa.UniqueConstraint("code", name=op.f("uq_alliance_code")),
    )
    op.create_table(
        "channel_token",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_channel_token")),
    )
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sa.UniqueConstraint(
            "channel", "chat_id", "user_id", name=op.f("uq_conversation_channel_chat_id_user_id")
        ),
    )
    op.create_table(
        "organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("orglife_ordinal", sa.Integer(), nullable=False),
        sa.Column("orglife_weekday", sa.Integer(), nullable=False),
        sa.Column("orglife_time", sa.String(length=5), nullable=False),
        sa.Column("orglife_venue", sa.String(length=200), nullable=False),
        sa.Column("holiday_policy", sa.String(length=16), nullable=False),
        sa.Column("checkin_code_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["organization.id"], name=op.f("fk_organization_parent_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
        sa.UniqueConstraint("code", name=op.f("uq_organization_code")),
    )
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organization_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "processed_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_inbound")),
        sa.UniqueConstraint("channel", "key", name=op.f("uq_processed_inbound_channel_key")),
    )
    with op.batch_alter_table("processed_inbound", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_inbound_at"), ["at"], unique=False)

    op.create_table(
        "allianceunit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("rotation_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alliance_id"], ["alliance.id"], name=op.f("fk_allianceunit_alliance_id_alliance")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_allianceunit_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allianceunit")),
        sa.UniqueConstraint(
            "alliance_id",
            "organization_id",
            name=op.f("uq_allianceunit_alliance_id_organization_id"),
        ),
        sa.UniqueConstraint(
            "alliance_id", "rotation_order", name=op.f("uq_allianceunit_alliance_id_rotation_order")
        ),
    )
    with op.batch_alter_table("allianceunit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allianceunit_alliance_id"), ["alliance_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_allianceunit_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("mobile", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("departed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_member_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member")),
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "pairing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lead_org_id", sa.Integer(), nullable=False),
        sa.Column("agreement_start", sa.Date(), nullable=False),
        sa.Column("agreement_end", sa.Date(), nullable=True),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("visit_target", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_org_id"], ["organization.id"], name=op.f("fk_pairing_lead_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairing")),
        sa.UniqueConstraint("code", name=op.f("uq_pairing_code")),
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("pairing_id", sa.Integer(), nullable=True),
        sa.Column("alliance_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alliance_id"], ["alliance.id"], name=op.f("fk_activity_alliance_id_alliance")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_activity_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairing.id"], name=op.f("fk_activity_pairing_id_pairing")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["member.id"], name=op.f("fk_activity_reporter_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_alliance_id"), ["alliance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_held_on"), ["held_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_activity_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activity_pairing_id"), ["pairing_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["member.id"], name=op.f("fk_audit_log_actor_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "chataccount",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_chataccount_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chataccount")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_chataccount_channel_external_id")
        ),
    )
    with op.batch_alter_table("chataccount", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chataccount_member_id"), ["member_id"], unique=False)

    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("starts_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("venue", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("moved_from", sa.Date(), nullable=True),
        sa.Column("move_reason", sa.String(length=32), nullable=True),
        sa.Column("holiday", sa.String(length=32), nullable=True),
        sa.Column("alliance_id", sa.Integer(), nullable=True),
        sa.Column("pairing_id", sa.Integer(), nullable=True),
        sa.Column("checkin_code", sa.String(length=6), nullable=False),
        sa.Column("checkin_open", sa.Boolean(), nullable=False),
        sa.Column("code_required", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["alliance_id"], ["alliance.id"], name=op.f("fk_meeting_alliance_id_alliance")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_meeting_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairing.id"], name=op.f("fk_meeting_pairing_id_pairing")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
        sa.UniqueConstraint(
            "organization_id", "kind", "period", name=op.f("uq_meeting_organization_id_kind_period")
        ),
    )
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_alliance_id"), ["alliance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_held_on"), ["held_on"], unique=False)
        batch_op.create_index("ix_meeting_org_day", ["organization_id", "held_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_meeting_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_meeting_pairing_id"), ["pairing_id"], unique=False)

    op.create_table(
        "pairingorg",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pairing_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_pairingorg_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairing.id"], name=op.f("fk_pairingorg_pairing_id_pairing")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairingorg")),
        sa.UniqueConstraint(
            "pairing_id", "organization_id", name=op.f("uq_pairingorg_pairing_id_organization_id")
        ),
    )
    with op.batch_alter_table("pairingorg", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pairingorg_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pairingorg_pairing_id"), ["pairing_id"], unique=False)

    op.create_table(
        "role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_role_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_role_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role")),
        sa.UniqueConstraint(
            "organization_id",
            "member_id",
            "role",
            name=op.f("uq_role_organization_id_member_id_role"),
        ),
    )
    with op.batch_alter_table("role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_role_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "rotaoverride",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("duty", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alliance_id"], ["alliance.id"], name=op.f("fk_rotaoverride_alliance_id_alliance")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["member.id"], name=op.f("fk_rotaoverride_created_by_member")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_rotaoverride_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rotaoverride")),
        sa.UniqueConstraint(
            "alliance_id", "duty", "period", name=op.f("uq_rotaoverride_alliance_id_duty_period")
        ),
    )
    with op.batch_alter_table("rotaoverride", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rotaoverride_alliance_id"), ["alliance_id"], unique=False
        )

    op.create_table(
        "activitypartner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_activitypartner_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_activitypartner_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activitypartner")),
        sa.UniqueConstraint(
            "activity_id",
            "organization_id",
            name=op.f("uq_activitypartner_activity_id_organization_id"),
        ),
    )
    with op.batch_alter_table("activitypartner", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activitypartner_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activitypartner_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "checkin_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_checkin_failure_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_checkin_failure_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_failure")),
        sa.UniqueConstraint(
            "meeting_id", "member_id", name=op.f("uq_checkin_failure_meeting_id_member_id")
        ),
    )
    with op.batch_alter_table("checkin_failure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkin_failure_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_failure_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_attendance_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_attendance_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint(
            "meeting_id", "member_id", name=op.f("uq_attendance_meeting_id_member_id")
        ),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_member_id"), ["member_id"], unique=False)

    op.create_table(
        "invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["member.id"], name=op.f("fk_invite_created_by_member")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_invite_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_invite_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["chataccount.id"], name=op.f("fk_invite_used_by_chataccount")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite")),
        sa.UniqueConstraint("code", name=op.f("uq_invite_code")),
    )
    with op.batch_alter_table("invite", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invite_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("invite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invite_organization_id"))

    op.drop_table("invite")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_member_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_meeting_id"))

    op.drop_table("checkin_failure")
    op.drop_table("attendance")
    with op.batch_alter_table("activitypartner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activitypartner_organization_id"))
        batch_op.drop_index(batch_op.f("ix_activitypartner_activity_id"))

    op.drop_table("activitypartner")
    with op.batch_alter_table("rotaoverride", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rotaoverride_alliance_id"))

    op.drop_table("rotaoverride")
    with op.batch_alter_table("role", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_organization_id"))
        batch_op.drop_index(batch_op.f("ix_role_member_id"))

    op.drop_table("role")
    with op.batch_alter_table("pairingorg", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pairingorg_pairing_id"))
        batch_op.drop_index(batch_op.f("ix_pairingorg_organization_id"))

    op.drop_table("pairingorg")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_pairing_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_organization_id"))
        batch_op.drop_index("ix_meeting_org_day")
        batch_op.drop_index(batch_op.f("ix_meeting_held_on"))
        batch_op.drop_index(batch_op.f("ix_meeting_alliance_id"))

    op.drop_table("meeting")
    with op.batch_alter_table("chataccount", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chataccount_member_id"))

    op.drop_table("chataccount")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_pairing_id"))
        batch_op.drop_index(batch_op.f("ix_activity_organization_id"))
        batch_op.drop_index(batch_op.f("ix_activity_held_on"))
        batch_op.drop_index(batch_op.f("ix_activity_alliance_id"))

    op.drop_table("activity")
    op.drop_table("pairing")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_organization_id"))

    op.drop_table("member")
    with op.batch_alter_table("allianceunit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allianceunit_organization_id"))
        batch_op.drop_index(batch_op.f("ix_allianceunit_alliance_id"))

    op.drop_table("allianceunit")
    with op.batch_alter_table("processed_inbound", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_inbound_at"))

    op.drop_table("processed_inbound")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_parent_id"))

    op.drop_table("organization")
    op.drop_table("conversation")
    op.drop_table("channel_token")
    op.drop_table("alliance")
