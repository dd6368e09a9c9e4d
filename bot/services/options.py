"""Numbered options for text-only channels: which offered option a typed number chose.

The numbering itself is `bot.core.reply.numbered`; the options offered last are kept per chat
account in storage (`storage.channels`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def pick_option(text: str, options: Sequence[str]) -> str | None:
    """Returns the data of the option a typed number chose (full-width digits too), else None."""
    number = unicodedata.normalize("NFKC", text).strip()
    if not number.isascii() or not number.isdigit() or len(number) > 4:
        return None
    index = int(number)
    return options[index - 1] if 1 <= index <= len(options) else None
