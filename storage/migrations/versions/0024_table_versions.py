"""table versions: a count of the writes to each watched table, for caches that read a few of them

A cache of what several tables derive (the console's overview) can then read again only what
the tables written since feed. SQLite counts in `fact_version`, one row per table (ids from 100;
rows 1 and 2 of 0022 are no longer moved); PostgreSQL draws from a sequence per table, the
answers' (`fact_answer_seq`) kept.

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

# As 0022 left them (a migration does not follow the code); each table's row is 100 + its place.
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
ANSWERS = "attendance"
EVENTS = ("insert", "update", "delete")
UPDATED_COLUMNS = {"chataccount": "channel, external_id, member_id"}
MARK = "INSERT INTO fact_change (id) VALUES (1) ON CONFLICT (id) DO NOTHING"
BUMP = "UPDATE fact_version SET n = n + 1 WHERE id = {row}"


def _row(table: str) -> int:
    """The table's row in fact_version."""
    return 100 + WATCHED.index(table)


def _update_event(table: str) -> str:
    """Names the update that marks a change: of any column, or only of those the rules read."""
    columns = UPDATED_COLUMNS.get(table)
    return f"UPDATE OF {columns}" if columns else "UPDATE"


def _sqlite_triggers(body_of: dict[str, str]) -> None:
    """Replaces SQLite's mark triggers with ones running each table's body."""
    for table in WATCHED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_{event}")
            op.execute(
                f"CREATE TRIGGER fact_change_{table}_{event}"
                f" AFTER {_update_event(table) if event == 'update' else event.upper()} ON {table}"
                f" BEGIN {body_of[table]}; END"
            )


def _pg_triggers(function: str) -> None:
    """Points PostgreSQL's mark triggers, the answers' but, at `function`."""
    for table in WATCHED:
        if table == ANSWERS:
            continue
        op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table} ON {table}")
        op.execute(
            f"CREATE TRIGGER fact_change_{table} AFTER INSERT OR {_update_event(table)}"
            f" OR DELETE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def upgrade() -> None:
    rows = ", ".join(f"({_row(table)}, 0)" for table in WATCHED)
    op.execute(f"INSERT INTO fact_version (id, n) VALUES {rows}")  # noqa: S608 (constants)
    if op.get_bind().dialect.name == "sqlite":
        # One writer at a time: a counter row per table costs no concurrency.
        _sqlite_triggers({table: f"{MARK}; {BUMP.format(row=_row(table))}" for table in WATCHED})
        return
    for table in WATCHED:
        if table != ANSWERS:
            op.execute(f"CREATE SEQUENCE fact_seq_{table}")
    # The mark every watched table leaves, and the table's own sequence moved (no row lock).
    op.execute(
        "CREATE FUNCTION note_table_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO fact_change DEFAULT VALUES;"
        " PERFORM nextval(CAST('fact_seq_' || TG_TABLE_NAME AS regclass)); RETURN NULL; END $$"
    )
    _pg_triggers("note_table_change")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers(
            {table: f"{MARK}; {BUMP.format(row=2 if table == ANSWERS else 1)}" for table in WATCHED}
        )
    else:
        _pg_triggers("note_fact_change")
        op.execute("DROP FUNCTION IF EXISTS note_table_change()")
        for table in WATCHED:
            if table != ANSWERS:
                op.execute(f"DROP SEQUENCE IF EXISTS fact_seq_{table}")
    op.execute(f"DELETE FROM fact_version WHERE id >= {_row(WATCHED[0])}")  # noqa: S608 (constants)
