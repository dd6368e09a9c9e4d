"""Conversation state in the database, keyed by (channel, chat, user), so flows survive restarts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete
from sqlmodel import Session, col, select

from bot.core.inbound import Channel
from storage.models import Conversation
from storage.queries import run


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identifies one person's conversation in one chat on one channel."""

    channel: Channel
    chat_id: str
    user_id: str


@dataclass(slots=True)
class State:
    """Where a person stands in a flow, and the draft collected so far."""

    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class Conversations:
    """Loads and saves conversation state."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def load(self, key: ConversationKey) -> State | None:
        """Returns the stored state of a conversation, if any."""
        params = {"channel": key.channel.value, "chat_id": key.chat_id, "user_id": key.user_id}
        # Plain columns, no ORM object: every message reads its state.
        row = run(self.session, STATE_COLUMNS, params).first()
        if row is None:
            return None
        return State(row.flow, row.step, json.loads(row.data), row.updated_at)

    def save(self, key: ConversationKey, state: State) -> None:
        """Stores (or replaces) the state of a conversation."""
        row = self._row(key)
        data = json.dumps(state.data, ensure_ascii=False, default=str)
        if row is None:
            row = Conversation(
                channel=key.channel,
                chat_id=key.chat_id,
                user_id=key.user_id,
                flow=state.flow,
                step=state.step,
                data=data,
                updated_at=self.now,
            )
        else:
            row.flow, row.step, row.data, row.updated_at = state.flow, state.step, data, self.now
        self.session.add(row)

    def clear(self, key: ConversationKey) -> None:
        """Forgets a conversation's state."""
        self.session.execute(
            delete(Conversation).where(
                col(Conversation.channel) == key.channel,
                col(Conversation.chat_id) == key.chat_id,
                col(Conversation.user_id) == key.user_id,
            )
        )

    def _row(self, key: ConversationKey) -> Conversation | None:
        """Returns the stored row of a conversation."""
        params = {"channel": key.channel.value, "chat_id": key.chat_id, "user_id": key.user_id}
        return self.session.exec(STATE_LOOKUP, params=params).first()


# Built once: every inbound message reads its conversation state.
STATE_LOOKUP = select(Conversation).where(
    col(Conversation.channel) == bindparam("channel"),
    col(Conversation.chat_id) == bindparam("chat_id"),
    col(Conversation.user_id) == bindparam("user_id"),
)
_TABLE = Conversation.__table__  # type: ignore[attr-defined]
STATE_COLUMNS = select(_TABLE.c.flow, _TABLE.c.step, _TABLE.c.data, _TABLE.c.updated_at).where(
    _TABLE.c.channel == bindparam("channel"),
    _TABLE.c.chat_id == bindparam("chat_id"),
    _TABLE.c.user_id == bindparam("user_id"),
)
