"""pending imports: a checked district file waits in the database for its owner's confirmation

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["console_account.id"],
            name=op.f("fk_pending_import_account_id_console_account"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_pending_import_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_import")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pending_import_token_hash")),
    )
    with op.batch_alter_table("pending_import", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_import_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pending_import_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pending_import_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_import_member_id"))
        batch_op.drop_index(batch_op.f("ix_pending_import_created_at"))
        batch_op.drop_index(batch_op.f("ix_pending_import_account_id"))

    op.drop_table("pending_import")
