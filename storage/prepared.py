"""The hot path's statements run on the driver's cursor, compiled once per database kind.

A check-in runs three or four short statements; SQLAlchemy's execution of a compiled statement
(its parameter processing, execution context and result object) cost twice the statement
itself on SQLite. `fetch` does what those steps do for one statement shape, once: the SQL text,
the order of its parameters, each parameter's and each column's type conversion. It keeps
what callers and the rest of the system rely on: pending ORM changes are flushed first, the
statement runs in the session's transaction, engine listeners see it, and a driver error comes
out as SQLAlchemy's, with a lost connection invalidated in the pool.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

from sqlalchemy import Executable
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session

from storage.types import UTCDateTime

_T = TypeVar("_T")

Convert = Callable[[Any], Any] | None
# Values remembered per conversion: a unit of work binds its one `now` several times (the seen
# mark, the sign-in, the delivery keys) and reads the same meeting starts again and again.
REMEMBERED = 256
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement as the driver takes it, with what turns values in and rows out."""

    sql: str
    # The bound names in the order the driver wants them (None: the driver takes names).
    order: tuple[str, ...] | None
    keys: dict[str, str]
    # The bound names once each (positions may repeat one), with their conversions.
    names: tuple[tuple[str, Convert], ...]
    # The values of parameters the statement holds itself, already converted for the driver.
    constants: dict[str, Any]
    # The columns whose values need turning into Python's, by position.
    results: tuple[tuple[int, Callable[[Any], Any]], ...]
    row: Callable[..., Any]
    # Whether the statement gives rows (it selects columns, or returns them).
    returns_rows: bool

    def values(self, params: Mapping[str, Any]) -> Any:
        """Turns the caller's parameters into the driver's."""
        constants = self.constants
        converted: dict[str, Any] = {}
        for name, convert in self.names:
            given = params.get(name, _MISSING)
            if given is _MISSING:
                converted[name] = constants[name]
            else:
                converted[name] = convert(given) if convert is not None else given
        if self.order is not None:
            return tuple([converted[name] for name in self.order])
        return {key: converted[name] for name, key in self.keys.items()}

    def rows(self, fetched: Sequence[Any]) -> list[Any]:
        """Turns the driver's rows into named rows of the columns' Python values."""
        results, row = self.results, self.row
        if not results:
            return [row(*raw) for raw in fetched]
        rows = []
        for raw in fetched:
            values = list(raw)
            for position, convert in results:
                values[position] = convert(values[position])
            rows.append(row(*values))
        return rows


def remembered(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wraps a pure conversion so that a value converted lately is not converted again.

    Values are told apart by type as well, and datetimes by their offset too: two datetimes in
    different zones are equal when they are the same instant, but a conversion may write out
    their wall-clock time.
    """

    @lru_cache(maxsize=REMEMBERED)
    def known(value: Any, _kind: type, _offset: Any) -> Any:
        return convert(value)

    def converted(value: Any) -> Any:
        if value is None:
            return convert(value)
        offset = value.utcoffset() if isinstance(value, datetime) else None
        return known(value, cast(Hashable, type(value)), offset)

    return converted


def _remembering(convert: Callable[[Any], Any], kind: TypeEngine[Any]) -> Callable[[Any], Any]:
    """Remembers the conversions of a date or time column's values (pure, and costly in Python)."""
    if isinstance(kind, UTCDateTime):
        return remembered(convert)
    if isinstance(kind, TypeDecorator):
        # Another decorator's own conversion is not known to be pure.
        return convert
    try:
        python = kind.python_type
    except NotImplementedError:
        return convert
    return remembered(convert) if issubclass(python, date) else convert


def prepare(statement: Executable, dialect: Dialect) -> Prepared:
    """Compiles a statement for a dialect, refusing what `fetch` cannot run as compiled."""
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    params = compiled.binds
    if any(param.expanding or param.literal_execute for param in params.values()):
        raise TypeError("a statement with lists bound at execution cannot be prepared")
    columns = list(getattr(statement, "selected_columns", ()))
    if not columns and getattr(compiled, "effective_returning", None):
        raise TypeError("a statement returning rows must name them as selected columns")
    escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
    binds: dict[str, Convert] = {}
    for name, param in params.items():
        convert = param.type.dialect_impl(dialect).bind_processor(dialect)
        binds[name] = _remembering(convert, param.type) if convert is not None else None
    constants = {}
    for name, param in params.items():
        if not param.required:
            bind = binds[name]
            value = param.effective_value
            constants[name] = bind(value) if bind is not None else value
    return Prepared(
        sql=compiled.string,
        order=tuple(compiled.positiontup) if compiled.positiontup is not None else None,
        keys={name: escaped.get(name, name) for name in params},
        names=tuple(binds.items()),
        constants=constants,
        results=tuple(
            (position, _remembering(convert, column.type))
            for position, column in enumerate(columns)
            if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ),
        row=namedtuple("Row", [column.key for column in columns], rename=True),
        returns_rows=bool(columns),
    )


_prepared: dict[tuple[Executable, str], Prepared] = {}
_preparing = threading.Lock()


def _prepared_for(statement: Executable, dialect: Dialect) -> Prepared:
    """Returns the statement prepared for a dialect, preparing it the first time."""
    key = (statement, dialect.name)
    found = _prepared.get(key)
    if found is None:
        with _preparing:
            found = _prepared.get(key) or prepare(statement, dialect)
            _prepared[key] = found
    return found


def fetch(session: Session, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
    """Runs a statement built once (a module's constant) in the session's transaction; its rows.

    Rows are named tuples of the statement's columns. Statements that bind lists at execution
    (`expanding`) are refused: use `storage.queries.run` for them.
    """
    connection, prepared = _connected(session, statement)
    values = prepared.values(params)

    def run(cursor: Any) -> list[Any]:
        cursor.execute(prepared.sql, values)
        # Known from the statement: psycopg builds a description's columns anew when asked.
        return list(cursor.fetchall()) if prepared.returns_rows else []

    return prepared.rows(_on_cursor(connection, prepared, values, run, many=False))


def execute_many(
    session: Session, statement: Executable, many: Sequence[Mapping[str, Any]]
) -> None:
    """Runs a statement that gives no rows once per parameter set, in one driver call.

    As `fetch` does: pending ORM changes first, the session's transaction, the engine's
    listeners, SQLAlchemy's errors. psycopg sends the sets in one pipeline (one round trip).
    """
    if not many:
        return
    connection, prepared = _connected(session, statement)
    if prepared.returns_rows:
        raise TypeError("a statement that gives rows cannot be run once per parameter set")
    values = [prepared.values(params) for params in many]
    _on_cursor(
        connection,
        prepared,
        values,
        lambda cursor: cursor.executemany(prepared.sql, values),
        many=True,
    )


def _connected(session: Session, statement: Executable) -> tuple[Connection, Prepared]:
    """Flushes pending ORM changes; returns the session's connection and the statement prepared."""
    session.flush()
    connection = session.connection()
    return connection, _prepared_for(statement, connection.dialect)


def _on_cursor(
    connection: Connection,
    prepared: Prepared,
    values: Any,
    call: Callable[[Any], _T],
    *,
    many: bool,
) -> _T:
    """Runs `call` on a driver cursor after the engine's listeners; SQLAlchemy's errors out."""
    driver = connection.connection.dbapi_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        listeners = connection.dispatch.before_cursor_execute
        if listeners:
            listeners(connection, cursor, prepared.sql, values, None, many)
        return call(cursor)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _translated(
            connection, error, sql=prepared.sql, values=values, cursor=cursor
        ) from error
    finally:
        cursor.close()


def _translated(
    connection: Connection, error: Any, *, sql: str, values: Any, cursor: Any
) -> DBAPIError:
    """Wraps a driver error as SQLAlchemy would, invalidating a connection that is gone."""
    dialect = connection.dialect
    gone = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if gone:
        connection.invalidate(error)
    wrapped = DBAPIError.instance(
        sql,
        values,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=gone,
        dialect=dialect,
    )
    assert isinstance(wrapped, DBAPIError)
    return wrapped
