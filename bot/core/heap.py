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
