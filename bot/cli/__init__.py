"""The `gongjian` command line: one module per command group, mounted by `bot.cli.app`."""

from __future__ import annotations

from bot.cli.app import app, main

__all__ = ["app", "main"]
