"""fact marks that upserts keep; console accounts as actors in the audit log

Revision ID: 0019
Revises: 0010
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0010"
branch_labels = None
depends_on = None

# As 0012 made them (a migration does not follow the code).
WATCHED = (
    "activity",
    "activitypartner",
    "alliance",
    "allianceunit",
    "attendance",
    "chataccount",
    "filing",
    "meeting",
    "member",
    "mobile_movement",
    "organization",
    "pairing",
    "pairingorg",
    "reminder_setting",
    "role",
    "role_term",
    "rotaoverride",
)
EVENTS = ("insert", "update", "delete")
UPDATED_COLUMNS = {"chataccount": "channel, external_id, member_id"}
# SQLite lets the conflict algorithm of the statement firing a trigger replace the OR clause of
# the trigger's own statements, and an upsert's DO UPDATE runs as OR ABORT: the old mark's
# INSERT OR IGNORE then failed on the waiting mark. An upsert clause is not replaced that way.
MARK = "INSERT INTO fact_change (id) VALUES (1) ON CONFLICT (id) DO NOTHING"
OLD_MARK = "INSERT OR IGNORE INTO fact_change (id) VALUES (1)"


def _update_event(table: str) -> str:
    """Names the update that marks a change: of any column, or only of those the rules read."""
    columns = UPDATED_COLUMNS.get(table)
    return f"UPDATE OF {columns}" if columns else "UPDATE"


def _mark_triggers(mark: str) -> None:
    """Replaces the SQLite triggers that leave a fact mark with ones running `mark`."""
    for table in WATCHED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_{event}")
            op.execute(
                f"CREATE TRIGGER fact_change_{table}_{event}"
                f" AFTER {_update_event(table) if event == 'update' else event.upper()} ON {table}"
                f" BEGIN {mark}; END"
            )


def upgrade() -> None:
    # PostgreSQL's marks are rows of their own (a sequence): nothing there can clash.
    if op.get_bind().dialect.name == "sqlite":
        _mark_triggers(MARK)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_log_account_id_console_account"),
            "console_account",
            ["account_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_log_account_id_console_account"), type_="foreignkey"
        )
        batch_op.drop_column("account_id")
    if op.get_bind().dialect.name == "sqlite":
        _mark_triggers(OLD_MARK)
