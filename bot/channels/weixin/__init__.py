"""What the WeChat official account and the WeCom app share: checks, the callback, the API.

Not a channel itself: `bot.channels.wechat` and `bot.channels.wecom` build on it.
"""
