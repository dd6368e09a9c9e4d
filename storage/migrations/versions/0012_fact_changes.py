"""fact changes: triggers mark writes to the tables the reminder rules read

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-05 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

# As storage.reminders.WATCHED_TABLES at this revision (a migration does not follow the code).
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
# Updates of other columns leave no mark: every message a member sends stamps last_seen_at.
UPDATED_COLUMNS = {"chataccount": "channel, external_id, member_id"}


def _update_event(table: str) -> str:
    """Names the update that marks a change: of any column, or only of those the rules read."""
    columns = UPDATED_COLUMNS.get(table)
    return f"UPDATE OF {columns}" if columns else "UPDATE"


def upgrade() -> None:
    op.create_table("fact_change", sa.Column("id", sa.Integer(), primary_key=True))
    if op.get_bind().dialect.name == "postgresql":
        # One mark per statement, each its own row: concurrent writers never wait on each other.
        op.execute(
            "CREATE FUNCTION note_fact_change() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN INSERT INTO fact_change DEFAULT VALUES; RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER fact_change_{table} AFTER INSERT OR {_update_event(table)}"
                f" OR DELETE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION note_fact_change()"
            )
        return
    # SQLite runs one writer at a time: a single mark row is enough.
    for table in WATCHED:
        for event in EVENTS:
            mark = "INSERT OR IGNORE INTO fact_change (id) VALUES (1)"
            op.execute(
                f"CREATE TRIGGER fact_change_{table}_{event}"
                f" AFTER {_update_event(table) if event == 'update' else event.upper()} ON {table}"
                f" BEGIN {mark}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS note_fact_change()")
    else:
        for table in WATCHED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_{event}")
    op.drop_table("fact_change")
