"""Column types shared by the tables: UTC datetimes, channel names and string-backed enums."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Enum as SAEnum
from sqlalchemy.types import TypeDecorator

from bot.core.inbound import Channel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and returns them aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuses naive datetimes and converts aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass an aware datetime")
        converted = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC so ordering is lexical and correct.
        return converted.replace(tzinfo=None) if dialect.name == "sqlite" else converted

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Returns the stored instant as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(
    enum: type[StrEnum], *, nullable: bool = False, index: bool = False, **kw: Any
) -> Any:
    """Returns a VARCHAR column that round-trips a StrEnum by value."""
    return Column(
        SAEnum(
            enum,
            native_enum=False,
            create_constraint=False,
            length=32,
            values_callable=lambda members: [m.value for m in members],
        ),
        nullable=nullable,
        index=index,
        **kw,
    )


class ChannelName(TypeDecorator[Channel]):
    """Stores a channel's name as text and reads it back as a `Channel`."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Stores the plain name."""
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Channel | None:
        """Returns the name as a `Channel`."""
        return None if value is None else Channel(value)


def channel_column(*, nullable: bool = False, index: bool = False) -> Any:
    """Returns a VARCHAR(32) column holding a channel's name (any channel, none listed here)."""
    return Column(ChannelName(), nullable=nullable, index=index)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    """Returns a UTC datetime column."""
    return Column(UTCDateTime(), nullable=nullable, index=index)


def text_column(length: int, *, nullable: bool = False, index: bool = False) -> Any:
    """Returns a bounded VARCHAR column."""
    return Column(String(length), nullable=nullable, index=index)
