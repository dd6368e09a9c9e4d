"""Gongjian (共建助手): a chat assistant for party-branch co-construction."""
