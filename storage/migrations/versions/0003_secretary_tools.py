"""secretary tools

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:23:14.099945
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_calendar_feed_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feed")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feed_token_hash")),
    )
    with op.batch_alter_table("calendar_feed", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_feed_member_id"), ["member_id"], unique=False)

    op.create_table(
        "download_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_download_link_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_download_link_token_hash")),
    )
    with op.batch_alter_table("download_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_download_link_member_id"), ["member_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("download_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_download_link_member_id"))

    op.drop_table("download_link")
    with op.batch_alter_table("calendar_feed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_feed_member_id"))

    op.drop_table("calendar_feed")
