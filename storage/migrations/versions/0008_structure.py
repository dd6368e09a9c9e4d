"""structure: a pairing's form (一对一/多对一/一对多)

Revision ID: 0008
Revises: 0013
Create Date: 2026-12-05 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pairing", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("form", sa.String(length=32), nullable=False, server_default="one_to_one")
        )


def downgrade() -> None:
    with op.batch_alter_table("pairing", schema=None) as batch_op:
        batch_op.drop_column("form")
