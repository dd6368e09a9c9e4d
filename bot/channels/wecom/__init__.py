"""The WeCom (企业微信) self-built app: encrypted callbacks in, replies and pushes out."""

from __future__ import annotations

from bot.channels.registry import ChannelContext
from bot.channels.wecom.channel import PATH, WeComChannel
from bot.channels.wecom.sender import WeComSender, member_limiter
from bot.core.channel import ChatChannel

__all__ = ["PATH", "WeComChannel", "WeComSender", "build_channel", "member_limiter"]


def build_channel(context: ChannelContext) -> ChatChannel:
    """Builds the WeCom app's channel for the registry."""
    return WeComChannel(
        context.settings, context.core, database=context.database, clock=context.clock
    )
