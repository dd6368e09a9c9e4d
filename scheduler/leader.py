"""Exactly one active scheduler: whoever holds the database's scheduler lock runs the ticks."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from storage.engine import Database
from storage.locks import FileLeadership, PostgresLeadership

__all__ = ["FileLeadership", "Leadership", "PostgresLeadership", "leadership_for"]


class Leadership(Protocol):
    """Decides whether this process runs the scheduler's ticks."""

    def acquire(self) -> bool:
        """Tries to become the leader, or checks it still is; True while leading."""
        ...

    def release(self) -> None:
        """Gives leadership up."""
        ...

    def dispose(self) -> None:
        """Gives leadership up and frees what holding it needed."""
        ...


def leadership_for(database: Database) -> PostgresLeadership | FileLeadership:
    """Returns the leadership that fits the database's backend."""
    if database.dialect == "postgresql":
        return PostgresLeadership.for_database(database)
    name = database.engine.url.database
    if not name or name == ":memory:":
        return FileLeadership(None)
    return FileLeadership(Path(f"{name}.scheduler-lock"))
