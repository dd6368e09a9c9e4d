"""The cyclic garbage collector, paused while a large result is built."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """Counts the blocks that want collection paused; the last one out restores it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.restore = False

    def enter(self) -> None:
        """Pauses collection, unless another block already did."""
        with self.lock:
            self.count += 1
            if self.count == 1:
                self.restore = gc.isenabled()
                gc.disable()

    def leave(self) -> None:
        """Resumes collection when no block wants it paused (if it ran before)."""
        with self.lock:
            self.count -= 1
            if self.count == 0 and self.restore:
                gc.enable()


_pauses = _Pauses()


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pauses cyclic collection while the block runs, in this and every other thread."""
    # Building a city's overview allocates ~10^6 objects that all live until it is done: the
    # collector's passes over them cost a quarter of the time and free nothing.
    _pauses.enter()
    try:
        yield
    finally:
        _pauses.leave()


# Allocations between young collections once serving: the default 700 makes a burst of
# callbacks collect every few requests, each time walking objects that live only as long as
# their request anyway.
SERVING_THRESHOLD = (20_000, 50, 50)


def settle_for_serving() -> None:
    """Moves everything built at start-up out of the collector's sight and spaces collections."""
    # Start-up leaves ~10^5 long-lived objects (modules, compiled statements, catalogs); each
    # full collection would walk them all again for nothing.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLD)
