"""Process-wide locks: a PostgreSQL session advisory lock, or a lock file beside SQLite.

The PostgreSQL lock lives as long as the session on one dedicated connection: when that
connection dies, the server drops the lock and the next process that asks becomes the leader.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import IO

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from storage.engine import Database

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_NAME = "gongjian.scheduler"
# Keepalives let a silently dropped leader connection fail within seconds, not hours.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


class PostgresLeadership:
    """Leadership through `pg_try_advisory_lock` held on a dedicated connection."""

    def __init__(self, engine: Engine, *, name: str = LOCK_NAME) -> None:
        self.engine = engine
        self.name = name
        self._connection: Connection | None = None

    @classmethod
    def for_database(cls, database: Database, *, name: str = LOCK_NAME) -> PostgresLeadership:
        """Builds the leadership on its own unpooled engine to the same database."""
        url = database.engine.url
        engine = create_engine(url, poolclass=NullPool, connect_args=KEEPALIVES)
        return cls(engine, name=name)

    @property
    def leading(self) -> bool:
        """Tells whether the lock connection is held (as of the last check)."""
        return self._connection is not None

    def acquire(self) -> bool:
        """Checks the held lock's connection, or tries to take the lock on a fresh one."""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except SQLAlchemyError:
                log.warning("lost the scheduler lock: its connection died")
                self._discard()
        try:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError:
            log.warning("cannot reach the database to take the scheduler lock", exc_info=True)
            return False
        try:
            key = self.lock_key(connection)
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            ).scalar_one()
        except SQLAlchemyError:
            log.warning("could not ask for the scheduler lock", exc_info=True)
            connection.close()
            return False
        if not taken:
            connection.close()
            return False
        self._connection = connection
        log.info("this process now runs the scheduler")
        return True

    def lock_key(self, connection: Connection) -> int:
        """Derives the lock's key from the database and schema, so test schemas do not clash."""
        database, schema = connection.execute(
            text("SELECT current_database(), current_schema()")
        ).one()
        return zlib.crc32(f"{self.name}:{database}:{schema}".encode())

    def backend_pid(self) -> int | None:
        """Returns the server process id of the lock connection (for tests and diagnostics)."""
        if self._connection is None:
            return None
        pid = self._connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return int(pid)

    def release(self) -> None:
        """Unlocks and closes the lock connection."""
        if self._connection is None:
            return
        try:
            key = self.lock_key(self._connection)
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        except SQLAlchemyError:
            log.debug("unlock failed; closing the connection drops the lock anyway")
        self._discard()

    def dispose(self) -> None:
        """Releases leadership and closes the engine."""
        self.release()
        self.engine.dispose()

    def _discard(self) -> None:
        """Forgets the lock connection, closing it if it can."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError:
                log.debug("closing a dead lock connection failed", exc_info=True)


class FileLeadership:
    """Leadership for SQLite: an exclusive lock on a file beside the database (one process)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        """Takes the lock file without waiting; True while this process holds it."""
        if self._handle is not None or self.path is None or fcntl is None:
            return True
        handle = self.path.open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        """Drops the lock file's lock."""
        handle, self._handle = self._handle, None
        if handle is not None:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def dispose(self) -> None:
        """Releases leadership."""
        self.release()
