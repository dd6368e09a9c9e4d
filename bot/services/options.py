"""Numbered options for text-only channels: which button each number stood for, per chat account."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.core.inbound import Channel
from bot.core.reply import Reply
from storage.models import ChannelToken
from storage.queries import run

# The rows share channel_token with the platforms' access tokens, told apart by this prefix.
OPTIONS_PREFIX = "options:"
OPTIONS_LOOKUP = select(col(ChannelToken.token), col(ChannelToken.expires_at)).where(
    col(ChannelToken.name) == bindparam("name")
)
# Expired rows are swept by every this-many-th write rather than by a job of their own.
SWEEP_EVERY = 256


def options_name(channel: Channel, user_id: str) -> str:
    """Names the row holding one account's offered options."""
    return f"{OPTIONS_PREFIX}{channel.value}:{user_id}"


def recall_options(
    session: Session, *, channel: Channel, user_id: str, now: datetime
) -> list[str] | None:
    """Returns the option data offered last, oldest first: [] once expired, None if never stored."""
    row = run(session, OPTIONS_LOOKUP, {"name": options_name(channel, user_id)}).first()
    if row is None:
        return None
    token, expires_at = row.token, row.expires_at
    if expires_at <= now:
        return []
    try:
        options = json.loads(token)
    except ValueError:
        return []
    if not isinstance(options, list):
        return []
    return [str(option) for option in options]


def remember_options(
    session: Session,
    *,
    channel: Channel,
    user_id: str,
    options: list[str],
    now: datetime,
    ttl: timedelta,
    sweep: bool = False,
) -> None:
    """Stores the option data just offered (none clears them); `sweep` also drops expired rows."""
    name = options_name(channel, user_id)
    if not options:
        session.execute(delete(ChannelToken).where(col(ChannelToken.name) == name))
    else:
        values = {
            "token": json.dumps(options, ensure_ascii=False),
            "expires_at": now + ttl,
            "refreshed_at": now,
        }
        session.execute(
            _insert(session)(ChannelToken)
            .values(name=name, **values)
            .on_conflict_do_update(index_elements=["name"], set_=values)
        )
    if sweep:
        session.execute(
            delete(ChannelToken).where(
                col(ChannelToken.name).startswith(OPTIONS_PREFIX),
                col(ChannelToken.expires_at) <= now,
            )
        )


def pick_option(text: str, options: Sequence[str]) -> str | None:
    """Returns the data of the option a typed number chose (full-width digits too), else None."""
    number = unicodedata.normalize("NFKC", text).strip()
    if not number.isascii() or not number.isdigit() or len(number) > 4:
        return None
    index = int(number)
    return options[index - 1] if 1 <= index <= len(options) else None


def offered(replies: Sequence[Reply]) -> list[str]:
    """Lists the data of every button in `replies`, numbered in this order across replies."""
    return [button.data for reply in replies for button in reply.flat_buttons]


def _insert(session: Session) -> Any:
    """Returns the dialect's INSERT construct, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
