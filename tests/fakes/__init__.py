"""Fakes of the outside world (platform APIs, the core, time) that channel tests run against."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Sequence

from bot.core.i18n import DateStyle, match_locale
from bot.core.inbound import Channel, Inbound
from bot.core.ports import Answer
from bot.core.reply import Reply
from bot.engine.assistant import UNSUPPORTED
from bot.texts.translation import translator


class ManualTime:
    """A monotonic clock and a sleep that only advance it, so rate-limit waits take no time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Returns the current fake time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Records the wait, moves time forward and yields to other tasks."""
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class TaggingTranslator:
    """A translator that marks text with its locale: `[en] Sorry…`."""

    def __init__(self, locale: str) -> None:
        self._locale = locale

    @property
    def locale(self) -> str:
        """The locale code."""
        return self._locale

    def __call__(self, message: str, /, **values: object) -> str:
        """Returns the message tagged with the locale, fields filled."""
        return f"[{self._locale}] {message.format(**values)}"

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """Picks the English form and tags it."""
        return self(singular if n == 1 else plural, n=n, **values)

    def date(self, value: dt.date, style: DateStyle = "long") -> str:
        """Formats a date as ISO."""
        return value.isoformat()

    def time(self, value: dt.time | dt.datetime) -> str:
        """Formats HH:MM."""
        return value.strftime("%H:%M")

    def weekday(self, value: dt.date) -> str:
        """Names the weekday in English."""
        return value.strftime("%A")

    def month(self, value: dt.date) -> str:
        """Names the month and year in English."""
        return value.strftime("%B %Y")


def echo(inbound: Inbound) -> list[Reply]:
    """Answers with what came in."""
    return [Reply(f"echo: {inbound.button or inbound.text}")]


class ScriptedCore:
    """A `Core` double: records every inbound and answers through a replaceable script."""

    def __init__(self, script: Callable[[Inbound], list[Reply]] = echo) -> None:
        self.script = script
        self.inbounds: list[Inbound] = []
        self.keys: list[str] = []
        self.is_healthy = True
        self.translators: list[tuple[str, str | None]] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.handled = threading.Event()

    def handle(self, inbound: Inbound) -> list[Reply]:
        """Records the inbound and returns the script's replies."""
        self.inbounds.append(inbound)
        self.handled.set()
        return self.script(inbound)

    def answer(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Answer:
        """Remembers delivery keys like the database would; answers new deliveries by script."""
        with self._lock:
            self.keys.extend(once)
            repeat = next((key for key in once if key in self._seen), None)
            if repeat is None:
                self._seen.update(once)
        locale = match_locale(inbound.locale_hint) or "zh_CN"
        if repeat is not None:
            return Answer([], locale, repeat=repeat)
        if inbound.unsupported:
            # As the assistant: the keys are recorded and the note answers (an event gets none).
            self.inbounds.append(inbound)
            note = [] if "event" in inbound.extra else [Reply(translator(locale)(UNSUPPORTED))]
            return Answer(note, locale)
        return Answer(self.handle(inbound), locale)

    def translator_for(
        self, *, channel: Channel, user_id: str, hint: str | None = None
    ) -> TaggingTranslator:
        """Returns a tagging translator in the hinted language (default zh_CN)."""
        self.translators.append((user_id, hint))
        return TaggingTranslator(match_locale(hint) or "zh_CN")

    def command_menu(self, locale: str) -> list[tuple[str, str]]:
        """Lists two commands, described in `locale`."""
        if locale == "en":
            return [("checkin", "Check in to a meeting"), ("language", "Switch language")]
        return [("checkin", "会议签到"), ("language", "切换语言")]

    def healthy(self) -> bool:
        """Returns what the test set."""
        return self.is_healthy

    def bound(self, *, channel: Channel, user_id: str) -> bool:
        """Treats every chat account as bound (the script answers what it is told)."""
        return True
