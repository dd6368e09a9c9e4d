"""The Telegram channel: inbound updates, outbound replies and Telegram's limits, one module each."""

from __future__ import annotations

from bot.channels.registry import ChannelContext
from bot.channels.telegram.channel import (
    WEBHOOK_HEADER,
    WEBHOOK_PATH,
    TelegramChannel,
    deep_link,
)
from bot.channels.telegram.limits import telegram_rate_limiter
from bot.core.channel import ChatChannel

__all__ = [
    "WEBHOOK_HEADER",
    "WEBHOOK_PATH",
    "TelegramChannel",
    "build_channel",
    "deep_link",
    "telegram_rate_limiter",
]


def build_channel(context: ChannelContext) -> ChatChannel:
    """Builds the Telegram channel for the registry."""
    return TelegramChannel(context.settings, context.core)
