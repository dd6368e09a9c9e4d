"""Babel-backed translators, one per locale, built from the catalogs in `locales/`."""

from __future__ import annotations

import datetime as dt
import io
import sys
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.core.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, DateStyle

DOMAIN = "messages"


def locales_dir() -> Path:
    """Finds the catalogs: next to the source tree, or where the wheel installed them."""
    candidates = [
        Path(__file__).resolve().parents[2] / "locales",
        Path(sys.prefix) / "share" / "gongjian" / "locales",
    ]
    for candidate in candidates:
        if (candidate / DEFAULT_LOCALE / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
            return candidate
    raise FileNotFoundError("message catalogs not found (expected locales/ next to the code)")


@cache
def load_translations(locale: str) -> Translations:
    """Compiles a locale's .po catalog in memory and returns it as gettext translations."""
    po_path = locales_dir() / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


class BabelTranslator:
    """Translates messages and formats dates for one locale."""

    def __init__(self, locale: str) -> None:
        if locale not in SUPPORTED_LOCALES:
            locale = DEFAULT_LOCALE
        self._locale = locale
        self._babel_locale = Locale.parse(locale)
        self._translations = load_translations(locale)
        # HH:MM by hour and minute: a check-in's answer shows one, and Babel takes microseconds.
        self._times: dict[tuple[int, int], str] = {}

    @property
    def locale(self) -> str:
        """The locale code."""
        return self._locale

    def __call__(self, message: str, /, **values: object) -> str:
        """Translates `message` and fills its `{named}` fields."""
        translated = self._translations.gettext(message)
        return translated.format(**values) if values else translated

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """Translates a message whose form depends on `n` and fills its fields."""
        translated = self._translations.ngettext(singular, plural, n)
        return translated.format(n=n, **values)

    def date(self, value: dt.date, style: DateStyle = "long") -> str:
        """Formats a date for this locale."""
        return format_date(value, format=style, locale=self._babel_locale)

    def time(self, value: dt.time | dt.datetime) -> str:
        """Formats a wall-clock time as HH:MM."""
        # The pattern shows the value's own wall-clock hour and minute and nothing else.
        key = (value.hour, value.minute)
        shown = self._times.get(key)
        if shown is None:
            shown = self._times[key] = format_time(value, format="HH:mm", locale=self._babel_locale)
        return shown

    def weekday(self, value: dt.date) -> str:
        """Names the weekday of a date in this locale."""
        return format_date(value, format="EEEE", locale=self._babel_locale)

    def month(self, value: dt.date) -> str:
        """Names the month (with its year) of a date in this locale."""
        return format_skeleton("yMMMM", value, locale=self._babel_locale)

    def join(self, items: list[str]) -> str:
        """Joins items as a list in this locale (A、B和C / A, B, and C)."""
        return format_list(items, locale=self._babel_locale) if items else ""


@cache
def translator(locale: str) -> BabelTranslator:
    """Returns the shared translator of a locale (unsupported locales fall back to Chinese)."""
    return BabelTranslator(locale)
