"""How a channel asks the core for an answer without blocking its event loop."""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, TypeVar, cast

from bot.core.inbound import Inbound
from bot.core.ports import Answer, Core, GroupCore

T = TypeVar("T")


@functools.cache
def _groups(kind: type) -> bool:
    """Tells whether a core class commits groups (a protocol check is slow: once per class)."""
    return issubclass(kind, GroupCore)


def group_core(core: Core) -> GroupCore | None:
    """Returns the core as one that commits groups, or None when it answers one at a time."""
    return cast(GroupCore, core) if _groups(type(core)) else None


class LoopInbox:
    """Runs calls that other threads post on one event loop, waking the loop once per batch.

    A committed group hands dozens of answers to the loop at once. Each wake-up of the loop
    from another thread is a write to its self-pipe, during which the committer lets go of
    the interpreter and the woken loop takes it: one wake-up per group instead of one per
    answer saves those round trips.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._calls: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._lock = threading.Lock()
        self._woken = False

    def post(self, call: Callable[..., object], *args: Any) -> None:
        """Has the loop run `call(*args)` soon (from any thread); dropped once the loop is closed."""
        self._calls.append((call, args))
        with self._lock:
            if self._woken:
                return
            self._woken = True
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self._run)
        except RuntimeError:
            # Closed meanwhile: nothing is waiting for these calls any more.
            return

    def wrap(self, source: Future[T]) -> asyncio.Future[T]:
        """Returns a future of this loop that takes `source`'s outcome (as `asyncio.wrap_future`)."""
        target: asyncio.Future[T] = self.loop.create_future()

        def cancel_source(done: asyncio.Future[T]) -> None:
            """Cancels the source when its waiter is cancelled."""
            if done.cancelled():
                source.cancel()

        target.add_done_callback(cancel_source)
        source.add_done_callback(lambda done: self.post(settle, done, target))
        return target

    def _run(self) -> None:
        """Runs the calls posted so far (on the loop)."""
        with self._lock:
            self._woken = False
        calls = self._calls
        while calls:
            call, args = calls.popleft()
            call(*args)


def settle(done: Future[T], target: asyncio.Future[T]) -> None:
    """Gives a loop's future the outcome of a finished concurrent one (unless it was cancelled)."""
    if target.cancelled():
        return
    if done.cancelled():
        target.cancel()
    elif (error := done.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(done.result())


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopInbox] = (
    weakref.WeakKeyDictionary()
)


def inbox() -> LoopInbox:
    """Returns the running loop's inbox (made on first use)."""
    loop = asyncio.get_running_loop()
    found = _inboxes.get(loop)
    if found is None:
        found = _inboxes[loop] = LoopInbox(loop)
    return found


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
    grouping = group_core(core)
    if grouping is not None:
        return await inbox().wrap(grouping.submit(inbound, once=once, numbered=numbered))
    loop = asyncio.get_running_loop()
    call = functools.partial(core.answer, inbound, once=once, numbered=numbered)
    return await loop.run_in_executor(executor, call)
