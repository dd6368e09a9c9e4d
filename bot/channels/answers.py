"""How a channel asks the core for an answer without blocking its event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import cast

from bot.core.inbound import Inbound
from bot.core.ports import Answer, Core, GroupCore


@functools.cache
def _groups(kind: type) -> bool:
    """Tells whether a core class commits groups (a protocol check is slow: once per class)."""
    return issubclass(kind, GroupCore)


def group_core(core: Core) -> GroupCore | None:
    """Returns the core as one that commits groups, or None when it answers one at a time."""
    return cast(GroupCore, core) if _groups(type(core)) else None


async def answer_of(
    core: Core,
    inbound: Inbound,
    *,
    once: Sequence[str] = (),
    numbered: bool = False,
    executor: Executor | None = None,
) -> Answer:
    """Returns the core's answer to one delivery, once committed.

    A core that commits groups gets the delivery queued (no thread waits on it); any other is
    called in `executor`'s threads (the default one when None).
    """
    if _groups(type(core)):
        grouping = cast(GroupCore, core)
        return await asyncio.wrap_future(grouping.submit(inbound, once=once, numbered=numbered))
    loop = asyncio.get_running_loop()
    call = functools.partial(core.answer, inbound, once=once, numbered=numbered)
    return await loop.run_in_executor(executor, call)
