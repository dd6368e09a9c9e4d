"""The one list of chat channels: which the settings turn on, built for `gongjian run` and pushes.

A channel is a package exposing `build_channel(context) -> ChatChannel` (the interface in
`bot.core.channel`); adding one is that package and one line in `CHANNELS`. Packages are
imported only when their channel is on, so a platform's library is needed only where it is used.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from bot.config import Settings
from bot.core.channel import ChatChannel
from bot.core.clock import Clock, SystemClock
from bot.core.ports import Core, Sender
from storage.engine import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """One line of the registry: a channel's package and when the settings turn it on."""

    name: str
    package: str
    enabled: Callable[[Settings], bool]


CHANNELS: tuple[ChannelEntry, ...] = (
    ChannelEntry("telegram", "bot.channels.telegram", lambda s: s.telegram_enabled),
    ChannelEntry("wechat", "bot.channels.wechat", lambda s: s.wechat_enabled),
    ChannelEntry("wecom", "bot.channels.wecom", lambda s: s.wecom_enabled),
)


class ChannelContext:
    """What a channel is built from: settings and core, the database and clock on first use."""

    def __init__(
        self,
        settings: Settings,
        core: Core,
        *,
        database: Database | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.core = core
        self._database = database
        self._clock = clock

    @property
    def database(self) -> Database:
        """The database the channels share (opened here when none was given)."""
        if self._database is None:
            self._database = Database.connect(self.settings.database_url)
        return self._database

    @property
    def clock(self) -> Clock:
        """The clock (the system's, in the configured time zone, when none was given)."""
        if self._clock is None:
            self._clock = SystemClock(self.settings.tz)
        return self._clock


def build_channels(
    settings: Settings,
    core: Core,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    entries: Sequence[ChannelEntry] | None = None,
) -> list[ChatChannel]:
    """Builds every channel the settings turn on, in registry order (`entries`: CHANNELS)."""
    context = ChannelContext(settings, core, database=database, clock=clock)
    channels: list[ChatChannel] = []
    for entry in CHANNELS if entries is None else entries:
        if entry.enabled(settings):
            package = importlib.import_module(entry.package)
            channels.append(package.build_channel(context))
    return channels


@contextlib.asynccontextmanager
async def push_senders(
    settings: Settings,
    core: Core,
    *,
    database: Database,
    clock: Clock,
    entries: Sequence[ChannelEntry] | None = None,
) -> AsyncIterator[list[Sender]]:
    """Opens the configured channels for pushing only (no polling, no webhook)."""
    started: list[ChatChannel] = []
    try:
        for channel in build_channels(
            settings, core, database=database, clock=clock, entries=entries
        ):
            await channel.start(receive=False)
            started.append(channel)
        yield [channel.sender for channel in started]
    finally:
        for channel in reversed(started):
            try:
                await channel.stop()
            except Exception:
                log.warning("closing the %s channel failed", channel.name, exc_info=True)
