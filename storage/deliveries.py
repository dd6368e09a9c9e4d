"""Delivery keys (Telegram update ids, WeChat MsgIds, nonces) and the answers stored with them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from bot.core.inbound import Channel
from storage.engine import Database
from storage.models import BindFailure, ProcessedInbound
from storage.queries import insert_ignore_rows

# The column's width: longer keys are stored cut, and compared cut.
KEY_LENGTH = 128


def record_deliveries(
    *,
    session: Session,
    channel: Channel,
    keys: Sequence[str],
    now: datetime,
    answer: str | None = None,
) -> str | None:
    """Records a delivery's keys (with its answer) in one statement; returns the first seen before."""
    if not keys:
        return None
    stored = dict.fromkeys(key[:KEY_LENGTH] for key in keys)
    new = insert_ignore_rows(
        session,
        ProcessedInbound,
        rows=[
            {"channel": channel.value, "key": key, "at": now, "answer": answer} for key in stored
        ],
        conflict=("channel", "key"),
        returning="key",
    )
    return next((key for key in keys if key[:KEY_LENGTH] not in new), None)


def remember_keys(
    *, database: Database, channel: Channel, keys: Sequence[str], now: datetime
) -> str | None:
    """Records keys in a transaction of their own; returns the first one seen before."""
    with database.session() as session:
        return record_deliveries(session=session, channel=channel, keys=keys, now=now)


def stored_answer(*, session: Session, channel: Channel, key: str) -> str | None:
    """Returns the answer stored with a delivery key, if any."""
    statement = select(ProcessedInbound.answer).where(
        col(ProcessedInbound.channel) == channel, col(ProcessedInbound.key) == key[:KEY_LENGTH]
    )
    return session.exec(statement).first()


def prune_bind_failures(*, session: Session, before: datetime) -> None:
    """Deletes failed-bind counts last touched before `before`."""
    session.execute(delete(BindFailure).where(col(BindFailure.last_at) < before))
