"""The interpreter tuned for its work: collection paused while a large result is built, and
start-up's heap frozen and threads switched often once serving."""

from __future__ import annotations

import gc
import sys
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
# Seconds a thread holds the interpreter before another may run (Python's default: 0.005). The
# event loop reads requests while a committer thread answers a group: at 5 ms a burst's requests
# wait behind whole slices of the committer's work; at 1 ms they interleave (a burst of 500 WeChat
# callbacks on SQLite, three runs each way: p99 0.44–0.47 s against 0.51–0.55 s, for the same CPU).
SERVING_SWITCH_INTERVAL = 0.001


def settle_for_serving() -> None:
    """Moves start-up's objects out of the collector's sight, spaces collections, switches often."""
    # Start-up leaves ~10^5 long-lived objects (modules, compiled statements, catalogs); each
    # full collection would walk them all again for nothing.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLD)
    sys.setswitchinterval(SERVING_SWITCH_INTERVAL)
