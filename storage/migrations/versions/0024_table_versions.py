"""table versions: a count of the writes to each watched table, for caches that read a few of them

A cache of what several tables derive (the console's overview) can then read again only what
the tables written since feed. The answers, the meetings and the members also count their
updates and deletes apart: with none, the rows added since are those of higher ids. SQLite
counts in `fact_version`, a row per count (ids from 100; rows 1 and 2 of 0022 are no longer
moved); PostgreSQL draws from a sequence per count, the answers' (`fact_answer_seq`) kept.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# As 0022 left them (a migration does not follow the code).
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
GROWING = ("attendance", "meeting", "member")
# Each count's row: the tables' in their order, then the growing tables' rewrites.
ROWS = {
    name: 100 + place for place, name in enumerate((*WATCHED, *(f"{t}_rewritten" for t in GROWING)))
}
ANSWERS = "attendance"
EVENTS = ("insert", "update", "delete")
UPDATED_COLUMNS = {"chataccount": "channel, external_id, member_id"}
MARK = "INSERT INTO fact_change (id) VALUES (1) ON CONFLICT (id) DO NOTHING"
BUMP = "UPDATE fact_version SET n = n + 1 WHERE id = {row}"


def _update_event(table: str) -> str:
    """Names the update that marks a change: of any column, or only of those the rules read."""
    columns = UPDATED_COLUMNS.get(table)
    return f"UPDATE OF {columns}" if columns else "UPDATE"


def _sqlite_body(table: str, event: str) -> str:
    """What SQLite's trigger on one table and event runs: the mark and its counts moved."""
    bumps = [BUMP.format(row=ROWS[table])]
    if table in GROWING and event != "insert":
        bumps.append(BUMP.format(row=ROWS[f"{table}_rewritten"]))
    return "; ".join((MARK, *bumps))


def _sqlite_triggers(body: Callable[[str, str], str]) -> None:
    """Replaces SQLite's mark triggers with ones running `body(table, event)`."""
    for table in WATCHED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_{event}")
            op.execute(
                f"CREATE TRIGGER fact_change_{table}_{event}"
                f" AFTER {_update_event(table) if event == 'update' else event.upper()} ON {table}"
                f" BEGIN {body(table, event)}; END"
            )


def _pg_trigger(table: str, events: str, function: str, suffix: str = "") -> None:
    """Creates PostgreSQL's statement trigger on `table` for `events` running `function`."""
    op.execute(
        f"CREATE TRIGGER fact_change_{table}{suffix} AFTER {events} ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def upgrade() -> None:
    rows = ", ".join(f"({row}, 0)" for row in ROWS.values())
    op.execute(f"INSERT INTO fact_version (id, n) VALUES {rows}")  # noqa: S608 (constants)
    if op.get_bind().dialect.name == "sqlite":
        # One writer at a time: a counter row per count costs no concurrency.
        _sqlite_triggers(_sqlite_body)
        return
    for name in ROWS:
        if name != ANSWERS:
            op.execute(f"CREATE SEQUENCE fact_seq_{name}")
    # The mark every watched table leaves, and the table's own counts moved (no row lock).
    op.execute(
        "CREATE FUNCTION note_table_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO fact_change DEFAULT VALUES;"
        " PERFORM nextval(CAST('fact_seq_' || TG_TABLE_NAME AS regclass)); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION note_table_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO fact_change DEFAULT VALUES;"
        " PERFORM nextval(CAST('fact_seq_' || TG_TABLE_NAME AS regclass));"
        " PERFORM nextval(CAST('fact_seq_' || TG_TABLE_NAME || '_rewritten' AS regclass));"
        " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION note_answer_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO fact_change (id) VALUES (-nextval('fact_answer_seq'));"
        " PERFORM nextval('fact_seq_attendance_rewritten'); RETURN NULL; END $$"
    )
    for table in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table} ON {table}")
        if table not in GROWING:
            _pg_trigger(table, f"INSERT OR {_update_event(table)} OR DELETE", "note_table_change")
            continue
        inserted = "note_answer_change" if table == ANSWERS else "note_table_change"
        rewritten = "note_answer_rewrite" if table == ANSWERS else "note_table_rewrite"
        _pg_trigger(table, "INSERT", inserted)
        _pg_trigger(table, "UPDATE OR DELETE", rewritten, "_rewritten")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers(
            lambda table, _: f"{MARK}; {BUMP.format(row=2 if table == ANSWERS else 1)}"
        )
    else:
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table} ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS fact_change_{table}_rewritten ON {table}")
            function = "note_answer_change" if table == ANSWERS else "note_fact_change"
            _pg_trigger(table, f"INSERT OR {_update_event(table)} OR DELETE", function)
        for function in ("note_table_change", "note_table_rewrite", "note_answer_rewrite"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        for name in ROWS:
            if name != ANSWERS:
                op.execute(f"DROP SEQUENCE IF EXISTS fact_seq_{name}")
    op.execute(f"DELETE FROM fact_version WHERE id >= {min(ROWS.values())}")  # noqa: S608 (constants)
