"""The WeChat official account (公众号): callback XML in, passive replies and pushes out."""

from __future__ import annotations

from bot.channels.registry import ChannelContext
from bot.channels.wechat.channel import PATH, WeChatChannel
from bot.channels.wechat.sender import WeChatSender, seconds_to_midnight
from bot.core.channel import ChatChannel

__all__ = ["PATH", "WeChatChannel", "WeChatSender", "build_channel", "seconds_to_midnight"]


def build_channel(context: ChannelContext) -> ChatChannel:
    """Builds the official account's channel for the registry."""
    return WeChatChannel(
        context.settings, context.core, database=context.database, clock=context.clock
    )
