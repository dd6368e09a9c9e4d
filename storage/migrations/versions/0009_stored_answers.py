"""stored answers: a delivery key keeps the answer given, for the platform's retry

Revision ID: 0009
Revises: 0012
Create Date: 2026-12-05 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_inbound", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processed_inbound", schema=None) as batch_op:
        batch_op.drop_column("answer")
