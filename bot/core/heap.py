"""The interpreter tuned for its work: collection paused while a large result is built, and
start-up's heap frozen, threads switched often and kept on one CPU once serving."""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


def settle_for_serving(*, one_cpu: bool = True) -> None:
    """Moves start-up's objects out of the collector's sight, spaces collections, switches often.

    With `one_cpu`, the process's threads are kept on the CPU it runs on (see `keep_to_one_cpu`).
    """
    # Start-up leaves ~10^5 long-lived objects (modules, compiled statements, catalogs); each
    # full collection would walk them all again for nothing.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLD)
    sys.setswitchinterval(SERVING_SWITCH_INTERVAL)
    if one_cpu:
        keep_to_one_cpu()


def keep_to_one_cpu() -> int | None:
    """Keeps every thread of the process (and those it starts) on one CPU; returns it.

    The CPU is the one it runs on now, unless other processes are kept to it and another allowed
    CPU has fewer (replicas of `gongjian run` on one host spread out). None where the process
    may use one CPU only, or affinity is not supported.

    Only one thread runs Python at a time, and the event loop and the committers hand the
    interpreter to each other at every statement and socket call: on two CPUs each hand-over
    moves the interpreter's hot memory between their caches. A burst of 500 WeChat check-ins
    on SQLite, server on one CPU against two (four runs each way, same code): server CPU per
    check-in 0.76–1.19 ms against 1.24–1.45 ms, p99 0.43–0.68 s against 0.73–0.93 s.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    cpu = choose_cpu(allowed, current=_current_cpu(), taken=_kept_elsewhere())
    for task in _threads():
        try:
            os.sched_setaffinity(task, {cpu})
        except OSError:
            # A thread that ended meanwhile.
            continue
    return cpu


def choose_cpu(allowed: set[int], *, current: int | None, taken: dict[int, int]) -> int:
    """Picks the CPU with the fewest other processes kept to it, the current one among equals."""
    return min(allowed, key=lambda cpu: (taken.get(cpu, 0), cpu != current, cpu))


def _current_cpu() -> int | None:
    """Returns the CPU the calling thread runs on (Linux), else None."""
    try:
        fields = Path("/proc/thread-self/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # The 39th field, counted from the pid; the split starts at the 3rd.
    return int(fields[36])


def _kept_elsewhere() -> dict[int, int]:
    """Counts, per CPU, the other user processes kept to that CPU alone (Linux; else none)."""
    counts: dict[int, int] = {}
    mine = os.getpid()
    try:
        entries = [entry for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    except OSError:
        return counts
    for entry in entries:
        if int(entry.name) == mine:
            continue
        try:
            # Kernel threads have no command line and are kept to their CPU by design.
            if not (entry / "cmdline").read_bytes():
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Cpus_allowed_list:"):
                listed = line.split(":", 1)[1].strip()
                if listed.isdigit():
                    counts[int(listed)] = counts.get(int(listed), 0) + 1
                break
    return counts


def _threads() -> list[int]:
    """Lists the ids of the process's threads (Linux), else the calling thread's only."""
    try:
        return [int(task.name) for task in Path("/proc/self/task").iterdir()]
    except OSError:
        return [0]
