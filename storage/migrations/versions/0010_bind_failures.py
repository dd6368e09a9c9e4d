"""bind failures: failed invite codes counted per chat account and per source

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bind_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("since", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bind_failure")),
        sa.UniqueConstraint("scope", name=op.f("uq_bind_failure_scope")),
    )
    with op.batch_alter_table("bind_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bind_failure_last_at"), ["last_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bind_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bind_failure_last_at"))
    op.drop_table("bind_failure")
