"""The database: one engine per process, SQLite pragmas on every connection, schema upgrades."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, create_engine

__all__ = ["Database", "Session"]

MIGRATIONS = Path(__file__).with_name("migrations")
# One transaction's session, as code above the services names it without importing the ORM.
UnitOfWork = Session
# A pooled server connection idle this long is pinged before use: a restart or an idle timeout
# may have ended it. Busy connections are not, as a ping is a round trip on every request.
PING_AFTER_IDLE_SECONDS = 10.0
# Connections a server database's pool keeps open. Above it, a connection is opened for a burst
# and closed after, which costs PostgreSQL a new backend process each time: the pool must cover
# the threads that work at once (a channel's core threads, Telegram's workers, the scheduler).
POOL_SIZE = 12
POOL_OVERFLOW = 12


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Turns on WAL, a busy timeout and foreign keys for a new SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    """Remembers when a connection went back to the pool."""
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Checks a connection that sat idle in the pool; a dead one is replaced by the pool."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise DisconnectionError("pooled connection is gone") from error


def make_engine(url: str, *, pool: bool = True) -> Engine:
    """Creates the engine for a sqlite:/// or postgresql+psycopg:// URL."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 5}
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if not pool:
        kwargs["poolclass"] = NullPool
    elif parsed.get_backend_name() != "sqlite":
        kwargs["pool_size"] = POOL_SIZE
        kwargs["max_overflow"] = POOL_OVERFLOW
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif pool:
        event.listen(engine, "checkin", _note_idle)
        event.listen(engine, "checkout", _ping_if_idle)
    return engine


def alembic_config(engine: Engine) -> Config:
    """Returns an Alembic configuration bound to `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def backend_name(url: str) -> str:
    """Returns the backend a database URL names: `sqlite` or `postgresql`."""
    return make_url(url).get_backend_name()


def unusable_reason(error: BaseException) -> str | None:
    """Returns the first line of why the database could not be used, if `error` says so."""
    if not isinstance(error, OperationalError):
        return None
    return str(error.orig or error).strip().splitlines()[0]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Brings the schema up to `revision` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


class Database:
    """Owns the engine and hands out sessions, one per unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, url: str, *, migrate: bool = True) -> Database:
        """Opens the database at `url` and, by default, upgrades its schema."""
        database = cls(make_engine(url))
        if migrate:
            upgrade(database.engine)
        return database

    @property
    def dialect(self) -> str:
        """The backend's name: `sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yields a session whose transaction commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def revision(self) -> str | None:
        """Returns the Alembic revision the schema is at."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def ping(self) -> bool:
        """Tells whether the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        """Closes every pooled connection."""
        self.engine.dispose()


def masked_url(url: str) -> str:
    """Returns a database URL fit for logs: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)
