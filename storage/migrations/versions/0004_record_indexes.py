"""record indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.create_index("ix_meeting_alliance_day", ["alliance_id", "held_on"], unique=False)
        batch_op.create_index("ix_meeting_pairing_day", ["pairing_id", "held_on"], unique=False)

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index("ix_activity_org_day", ["organization_id", "held_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_org_day")

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_pairing_day")
        batch_op.drop_index("ix_meeting_alliance_day")
