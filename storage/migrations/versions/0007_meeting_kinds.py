"""meeting kinds: late check-ins at meetings of every kind

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_column("late")
