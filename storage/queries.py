"""Statements the ORM spells slowly or unlike on SQLite and PostgreSQL, run on the session's connection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, CursorResult, Executable, Table, any_, bindparam, delete, text
from sqlmodel import Session, SQLModel, col

from storage.models import ProcessedInbound


def insert_ignore(
    session: Session,
    model: type[SQLModel],
    *,
    values: dict[str, Any],
    conflict: tuple[str, ...],
) -> int | None:
    """Inserts one row unless it clashes with `conflict`'s unique key; returns the new id or None."""
    new = insert_ignore_rows(session, model, rows=[values], conflict=conflict, returning="id")
    new_id: int | None = next(iter(new), None)
    return new_id


def run(session: Session, statement: Executable, params: Mapping[str, Any]) -> CursorResult[Any]:
    """Executes a Core statement on the session's connection, in the session's transaction."""
    # The ORM's execution path costs several times what a short statement does. Pending ORM
    # changes are flushed first, so the statement sees them as `session.execute` would.
    session.flush()
    return session.connection().execute(statement, params)


def among(column: Any, name: str, *, arrays: bool) -> Any:
    """Tests a column against the list bound as `name`: an array (PostgreSQL), else IN (...)."""
    # An array is one statement text whatever the list's length, which PostgreSQL prepares once;
    # IN (...) is a new statement, planned anew, for every length.
    column = col(column)
    if arrays:
        return column == any_(bindparam(name, type_=ARRAY(column.expression.type)))
    return column.in_(bindparam(name, expanding=True))


def pin(session: Session, *rows: SQLModel) -> None:
    """Keeps rows alive for the rest of the unit of work, so lookups by key hit the identity map."""
    session.info.setdefault("pinned", []).extend(rows)


@cache
def _insert_rows_statement(
    table: Table, columns: tuple[str, ...], rows: int, conflict: tuple[str, ...], returning: str
) -> Executable:
    """Builds (once per shape) a multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING statement."""
    # Spelled out, in the syntax SQLite and PostgreSQL share: SQLAlchemy compiles a multi-row
    # insert anew on every call, this text once per shape.
    quoted = ", ".join(f'"{name}"' for name in columns)
    values = ", ".join(
        "(" + ", ".join(f":{name}_{row}" for name in columns) + ")" for row in range(rows)
    )
    keys = ", ".join(f'"{name}"' for name in conflict)
    # Names come from the table's metadata, and every value is bound.
    sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES {values} ON CONFLICT ({keys}) DO NOTHING'  # noqa: S608
    sql += f' RETURNING "{returning}"'
    binds = [
        bindparam(f"{name}_{row}", type_=table.c[name].type)
        for name in columns
        for row in range(rows)
    ]
    return text(sql).bindparams(*binds).columns(table.c[returning])


def insert_ignore_rows(
    session: Session,
    model: type[SQLModel],
    *,
    rows: Sequence[Mapping[str, Any]],
    conflict: tuple[str, ...],
    returning: str,
) -> set[Any]:
    """Inserts in one statement the rows that do not clash with `conflict`; returns their `returning`."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    columns = tuple(rows[0])
    statement = _insert_rows_statement(table, columns, len(rows), conflict, returning)
    params = {f"{name}_{index}": row[name] for index, row in enumerate(rows) for name in columns}
    return set(run(session, statement, params).scalars())


@cache
def _upsert_statement(
    table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: str
) -> Executable:
    """Builds (once per shape) an INSERT ... ON CONFLICT DO UPDATE ... RETURNING statement."""
    quoted = ", ".join(f'"{name}"' for name in columns)
    values = ", ".join(f":{name}" for name in columns)
    keys = ", ".join(f'"{name}"' for name in conflict)
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in columns if name not in conflict)
    # Names come from the table's metadata, and every value is bound.
    sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({values}) ON CONFLICT ({keys})'  # noqa: S608
    sql += f' DO UPDATE SET {updates} RETURNING "{returning}"'
    binds = [bindparam(name, type_=table.c[name].type) for name in columns]
    return text(sql).bindparams(*binds).columns(table.c[returning])


def upsert(
    session: Session,
    model: type[SQLModel],
    *,
    values: Mapping[str, Any],
    conflict: tuple[str, ...],
    returning: str = "id",
) -> Any:
    """Inserts one row, or updates the row holding its `conflict` key, in one statement."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    statement = _upsert_statement(table, tuple(values), conflict, returning)
    return run(session, statement, values).scalar_one()


def prune_delivery_keys(session: Session, *, before: datetime) -> int:
    """Deletes inbound delivery keys recorded before `before`; returns how many went."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        delete(ProcessedInbound).where(col(ProcessedInbound.at) < before)
    )
    return result.rowcount or 0
