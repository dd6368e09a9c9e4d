"""attendance answers: a meeting's answers with who gave them and how, read from the index alone

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 19:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attendance_meeting_answer", ["meeting_id", "member_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_meeting_answer")
