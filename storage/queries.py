"""Statements the ORM spells slowly or unlike on SQLite and PostgreSQL, run on the session's connection."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    CursorResult,
    Executable,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import Session, SQLModel, col

from storage.models import ProcessedInbound
from storage.prepared import fetch


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
    params = {key: rows[index][name] for key, index, name in _row_names(columns, len(rows))}
    return {row[0] for row in fetch(session, statement, params)}


@cache
def _row_names(columns: tuple[str, ...], rows: int) -> tuple[tuple[str, int, str], ...]:
    """Names each value of a multi-row insert's shape: (bound name, row, column)."""
    return tuple((f"{name}_{row}", row, name) for row in range(rows) for name in columns)


def bulk_insert(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    *,
    ids: bool = False,
) -> list[int]:
    """Inserts many rows; returns their new ids in order if `ids`.

    A column some rows leave out gets, in those rows, the model's default (what the row would
    hold as a model object); one without a default is NULL where it may be, else the call is
    refused (ValueError) before anything is written, as is a key that names no column.
    PostgreSQL: one COPY, the ids drawn from the table's sequence first. SQLite: one executemany.
    Either way in the session's transaction, the values turned into the driver's as the columns'
    types do, without SQLAlchemy's work per row (a city's import writes 230,000 rows).
    """
    if not rows:
        return []
    table: Table = model.__table__  # type: ignore[attr-defined]
    columns, rows = _completed(model, table, rows, ids=ids)
    session.flush()
    connection = session.connection()
    dialect = connection.dialect
    all_ids: list[int] = []
    if ids and dialect.name == "postgresql":
        drawn = connection.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": len(rows)},
        )
        all_ids = sorted(drawn.scalars())
    elif ids:
        # The first row's insert takes SQLite's write lock, held to the end of the transaction:
        # no other writer can take the ids after its id, so the rest are given theirs.
        first = connection.execute(insert(table).returning(table.c.id), rows[0]).scalar_one()
        all_ids = list(range(first, first + len(rows)))
        rows = rows[1:]
    new_ids = all_ids[len(all_ids) - len(rows) :]
    processors = [_bind_processor(table.c[name], dialect) for name in columns]

    def values() -> Iterator[list[Any]]:
        """Yields each row's values as the driver takes them, its id first when given."""
        for index, row in enumerate(rows):
            found = [
                value if process is None else process(value)
                for process, value in zip(processors, (row[name] for name in columns), strict=True)
            ]
            yield [new_ids[index], *found] if ids else found

    names = ", ".join(f'"{name}"' for name in (["id"] if ids else []) + columns)
    # Names come from the table's metadata; every value is bound or streamed.
    if dialect.name == "postgresql":
        sql = f'COPY "{table.name}" ({names}) FROM STDIN'
    else:
        marks = ", ".join("?" * (len(columns) + (1 if ids else 0)))
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
    driver = connection.connection.driver_connection
    assert driver is not None
    driver_error = dialect.loaded_dbapi.Error
    try:
        if dialect.name == "postgresql":
            # One statement (and one statement-level trigger) for any number of rows.
            with driver.cursor() as cursor, cursor.copy(sql) as copy:
                for row_values in values():
                    copy.write_row(row_values)
        elif rows:
            cursor = driver.cursor()
            try:
                cursor.executemany(sql, values())
            finally:
                cursor.close()
    except driver_error as error:
        # As SQLAlchemy raises it for its own statements (IntegrityError for a constraint).
        raise DBAPIError.instance(sql, None, error, driver_error) from error
    return all_ids


def _completed(
    model: type[SQLModel], table: Table, rows: Sequence[Mapping[str, Any]], *, ids: bool
) -> tuple[list[str], Sequence[Mapping[str, Any]]]:
    """Returns the columns the rows name, and the rows with a value for each of those columns."""
    first = rows[0].keys()
    # One comparison of key sets per row, in C: the usual call, every row alike, costs no more.
    alike = all(row.keys() == first for row in rows)
    columns = list(first) if alike else list(dict.fromkeys(name for row in rows for name in row))
    unknown = [name for name in columns if name not in table.c or (ids and name == "id")]
    if unknown:
        raise ValueError(f"bulk_insert into {table.name}: not columns to fill: {unknown}")
    if alike:
        return columns, rows
    # A row names every column or lacks some: only the columns some row lacks need a default.
    lacking = {
        name for row in rows if len(row) < len(columns) for name in columns if name not in row
    }
    defaults = {name: _default_of(model, table.c[name]) for name in lacking}
    return columns, [row if len(row) == len(columns) else {**defaults, **row} for row in rows]


def _default_of(model: type[SQLModel], column: Column[Any]) -> Any:
    """Returns the value a row that leaves a column out gets: the model's default, else NULL."""
    field = model.model_fields.get(column.name)
    if field is not None and not field.is_required():
        return field.get_default(call_default_factory=True)
    if isinstance(column.default, ScalarElementColumnDefault):
        return column.default.arg
    if column.nullable:
        return None
    raise ValueError(
        f"bulk_insert into {column.table.name}: some rows give no {column.name},"
        " which has no default and may not be NULL"
    )


def _bind_processor(column: Column[Any], dialect: Dialect) -> Any:
    """Returns what turns a column's Python value into the driver's (enums, UTC datetimes), if any."""
    return column.type.bind_processor(dialect)


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
