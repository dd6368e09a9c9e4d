"""fact versions: counters the writes to the watched tables move, for caches of what they derive

Two counters: the meetings' answers (attendance), written at every check-in, and everything else.

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
# SQLite runs one writer at a time, so a counter row costs it no concurrency: row 1 counts the
# writes to every watched table but attendance, row 2 those to attendance. PostgreSQL's marks draw
# from sequences, which take no row lock: fact_change_id_seq for the first, fact_answer_seq for
# the answers (whose marks are stored negated, so the two never share a key).
ANSWERS = "attendance"
BUMP = "UPDATE fact_version SET n = n + 1 WHERE id = {row}"
PG_ANSWER_MARK = "INSERT INTO fact_change (id) VALUES (-nextval('fact_answer_seq'))"


def _update_event(table: str) -> str:
    """Names the update that marks a change: of any column, or only of those the rules read."""
    columns = UPDATED_COLUMNS.get(table)
    return f"UPDATE OF {columns}" if columns else "UPDATE"


def _mark_triggers(body: str, answers_body: str) -> None:
    """Replaces the SQLite triggers that mark a write with ones running `body` (`answers_body`)."""
    for table in WATCHED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_{event}")
            op.execute(
                f"CREATE TRIGGER fact_change_{table}_{event}"
                f" AFTER {_update_event(table) if event == 'update' else event.upper()} ON {table}"
                f" BEGIN {answers_body if table == ANSWERS else body}; END"
            )


def _pg_answer_trigger(function: str) -> None:
    """Points PostgreSQL's trigger on the answers at `function`."""
    op.execute(f"DROP TRIGGER IF EXISTS fact_change_{ANSWERS} ON {ANSWERS}")
    op.execute(
        f"CREATE TRIGGER fact_change_{ANSWERS} AFTER INSERT OR UPDATE OR DELETE ON {ANSWERS}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def upgrade() -> None:
    # The table exists on both backends so the schema is one; only SQLite's triggers move it.
    op.create_table(
        "fact_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fact_version")),
    )
    op.execute("INSERT INTO fact_version (id, n) VALUES (1, 0), (2, 0)")
    if op.get_bind().dialect.name == "sqlite":
        _mark_triggers(f"{MARK}; {BUMP.format(row=1)}", f"{MARK}; {BUMP.format(row=2)}")
        return
    op.execute("CREATE SEQUENCE fact_answer_seq")
    op.execute(
        "CREATE FUNCTION note_answer_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {PG_ANSWER_MARK}; RETURN NULL; END $$"
    )
    _pg_answer_trigger("note_answer_change")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _mark_triggers(MARK, MARK)
    else:
        _pg_answer_trigger("note_fact_change")
        op.execute("DROP FUNCTION IF EXISTS note_answer_change()")
        op.execute("DROP SEQUENCE IF EXISTS fact_answer_seq")
    op.drop_table("fact_version")
