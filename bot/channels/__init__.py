"""Chat platforms, one package each behind `bot.core.channel.ChatChannel`, listed in `registry`.

telegram/, wechat/, wecom/ and console/ are the channels; weixin/ is what the WeChat official
account and the WeCom app share; http.py is the one ASGI app the webhooks are served on.
"""
