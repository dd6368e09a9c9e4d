"""Dialect-aware statements the ORM does not spell alike on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_ignore(
    session: Session,
    model: type[SQLModel],
    *,
    values: dict[str, Any],
    conflict: tuple[str, ...],
) -> int | None:
    """Inserts one row unless it clashes with `conflict`'s unique key; returns the new id or None."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(table.c.id)
    )
    new_id: int | None = session.execute(statement).scalar_one_or_none()
    return new_id


def insert_returning(
    session: Session,
    model: type[SQLModel],
    *,
    values: dict[str, Any],
    conflict: tuple[str, ...],
) -> Mapping[str, Any] | None:
    """Inserts one row unless it clashes with `conflict`; returns the stored row's columns or None."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*table.c)
    )
    row = session.execute(statement).first()
    return dict(row._mapping) if row is not None else None


def pin(session: Session, *rows: SQLModel) -> None:
    """Keeps rows alive for the rest of the unit of work, so lookups by key hit the identity map."""
    session.info.setdefault("pinned", []).extend(rows)
