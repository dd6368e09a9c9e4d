"""tally version: a third counter, of the writes to the meetings and the members

An overview kept between views can then tell a write that changes how the meetings' answers are
tallied (a meeting, a member) from one that changes only the other facts, and keep its tallies.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# The tables whose writes move the third counter; their triggers as 0022 left them otherwise.
TALLIED = ("meeting", "member")
EVENTS = ("insert", "update", "delete")
MARK = "INSERT INTO fact_change (id) VALUES (1) ON CONFLICT (id) DO NOTHING"
BUMP = "UPDATE fact_version SET n = n + 1 WHERE id = {row}"


def _sqlite_triggers(body: str) -> None:
    """Replaces SQLite's triggers on the meetings and members with ones running `body`."""
    for table in TALLIED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_{event}")
            op.execute(
                f"CREATE TRIGGER fact_change_{table}_{event} AFTER {event.upper()} ON {table}"
                f" BEGIN {body}; END"
            )


def _pg_triggers(function: str) -> None:
    """Points PostgreSQL's triggers on the meetings and members at `function`."""
    for table in TALLIED:
        op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table} ON {table}")
        op.execute(
            f"CREATE TRIGGER fact_change_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def upgrade() -> None:
    op.execute("INSERT INTO fact_version (id, n) VALUES (3, 0)")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers(f"{MARK}; {BUMP.format(row=1)}; {BUMP.format(row=3)}")
        return
    op.execute("CREATE SEQUENCE fact_tally_seq")
    # A mark as every watched table leaves, and the third counter moved (no row lock taken).
    op.execute(
        "CREATE FUNCTION note_tally_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO fact_change DEFAULT VALUES; PERFORM nextval('fact_tally_seq');"
        " RETURN NULL; END $$"
    )
    _pg_triggers("note_tally_change")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers(f"{MARK}; {BUMP.format(row=1)}")
    else:
        _pg_triggers("note_fact_change")
        op.execute("DROP FUNCTION IF EXISTS note_tally_change()")
        op.execute("DROP SEQUENCE IF EXISTS fact_tally_seq")
    op.execute("DELETE FROM fact_version WHERE id = 3")
