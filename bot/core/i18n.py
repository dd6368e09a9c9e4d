"""Translation as a dependency: handlers format text through a `Translator`."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

DateStyle = Literal["full", "long", "medium", "short"]

DEFAULT_LOCALE = "zh_CN"
SUPPORTED_LOCALES = ("zh_CN", "en")


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Marks a string for extraction without translating it yet."""
    return message


class Translator(Protocol):
    """Translates catalog messages and formats dates for one locale."""

    @property
    def locale(self) -> str:
        """The locale code, e.g. `zh_CN` or `en`."""
        ...

    def __call__(self, message: str, /, **values: object) -> str:
        """Translates `message` and fills its `{named}` fields."""
        ...

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """Translates a message whose form depends on `n` and fills its fields."""
        ...

    def date(self, value: dt.date, style: DateStyle = "long") -> str:
        """Formats a date for this locale."""
        ...

    def time(self, value: dt.time | dt.datetime) -> str:
        """Formats a wall-clock time (HH:MM) for this locale."""
        ...

    def weekday(self, value: dt.date) -> str:
        """Names the weekday of a date in this locale."""
        ...

    def month(self, value: dt.date) -> str:
        """Names the month (with its year) of a date in this locale."""
        ...

    def join(self, items: list[str]) -> str:
        """Joins items as a list in this locale (A、B和C / A, B, and C)."""
        ...


def match_locale(hint: str | None) -> str | None:
    """Maps a platform's language tag (`zh-hans`, `zh-CN`, `en-US`) to a supported locale."""
    if not hint:
        return None
    tag = hint.strip().replace("_", "-").lower()
    if tag == "zh" or tag.startswith(("zh-hans", "zh-cn", "zh-sg")):
        return "zh_CN"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None
