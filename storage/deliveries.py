"""Answers stored with delivery keys, keys recorded on their own, and failed-bind counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from bot.core.inbound import Channel
from storage.channels import KEY_LENGTH, record_deliveries
from storage.engine import Database
from storage.models import BindFailure, ProcessedInbound


def remember_keys(
    *, database: Database, channel: Channel, keys: Sequence[str], now: datetime
) -> str | None:
    """Records keys in a transaction of their own; returns the first one seen before."""
    with database.session() as session:
        return record_deliveries(session, channel=channel, keys=keys, at=now)


def stored_answer(*, session: Session, channel: Channel, key: str) -> str | None:
    """Returns the answer stored with a delivery key, if any."""
    statement = select(ProcessedInbound.answer).where(
        col(ProcessedInbound.channel) == channel, col(ProcessedInbound.key) == key[:KEY_LENGTH]
    )
    return session.exec(statement).first()


def prune_bind_failures(*, session: Session, before: datetime) -> None:
    """Deletes failed-bind counts last touched before `before`."""
    session.execute(delete(BindFailure).where(col(BindFailure.last_at) < before))
