"""fact version: a counter every write to a watched table moves, for caches of what they derive

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-09 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
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
# As 0019 left the SQLite marks.
MARK = "INSERT INTO fact_change (id) VALUES (1) ON CONFLICT (id) DO NOTHING"
# SQLite runs one writer at a time, so a counter row costs it no concurrency; PostgreSQL's marks
# already draw from a sequence (fact_change_id_seq) that serves as its counter, with no row lock.
BUMP = "UPDATE fact_version SET n = n + 1 WHERE id = 1"


def _update_event(table: str) -> str:
    """Names the update that marks a change: of any column, or only of those the rules read."""
    columns = UPDATED_COLUMNS.get(table)
    return f"UPDATE OF {columns}" if columns else "UPDATE"


def _mark_triggers(body: str) -> None:
    """Replaces the SQLite triggers that mark a write with ones running `body`."""
    for table in WATCHED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_{event}")
            op.execute(
                f"CREATE TRIGGER fact_change_{table}_{event}"
                f" AFTER {_update_event(table) if event == 'update' else event.upper()} ON {table}"
                f" BEGIN {body}; END"
            )


def upgrade() -> None:
    # The table exists on both backends so the schema is one; only SQLite's triggers move it.
    op.create_table(
        "fact_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fact_version")),
    )
    op.execute("INSERT INTO fact_version (id, n) VALUES (1, 0)")
    if op.get_bind().dialect.name == "sqlite":
        _mark_triggers(f"{MARK}; {BUMP}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _mark_triggers(MARK)
    op.drop_table("fact_version")
