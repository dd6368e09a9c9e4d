"""The interpreter's tuning: collection paused around large results, settled once serving."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading

import pytest

from bot.core.heap import (
    SERVING_SWITCH_INTERVAL,
    SERVING_THRESHOLD,
    choose_cpu,
    collection_paused,
)


def test_pauses_nest_and_the_last_one_out_restores_collection() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        inner_done = threading.Event()

        def other() -> None:
            with collection_paused():
                assert not gc.isenabled()
            inner_done.set()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert inner_done.is_set()
        # Another thread's pause ended, this one's has not.
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pause_leaves_collection_off_when_it_was_off() -> None:
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_settling_for_serving_freezes_the_heap_and_switches_threads_often() -> None:
    # In a process of its own: the settings are the whole interpreter's.
    script = (
        "import gc, sys; from bot.core.heap import settle_for_serving; settle_for_serving();"
        " print(gc.get_freeze_count() > 0, gc.get_threshold(), sys.getswitchinterval())"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split(maxsplit=1)
    assert shown[0] == "True"
    assert shown[1].strip() == f"{SERVING_THRESHOLD} {SERVING_SWITCH_INTERVAL}"


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs thread affinity and two CPUs",
)
@pytest.mark.parametrize("one_cpu", [True, False])
def test_settling_for_serving_keeps_every_thread_on_one_cpu(one_cpu: bool) -> None:
    # A thread started before settling and one started after: both follow the process.
    script = (
        "import os, threading, time; from bot.core.heap import settle_for_serving;"
        " before = threading.Thread(target=time.sleep, args=(1,)); before.start();"
        f" settle_for_serving(one_cpu={one_cpu});"
        " after = []; child = threading.Thread(target=lambda: after.append(os.sched_getaffinity(0)));"
        " child.start(); child.join();"
        " print(len(os.sched_getaffinity(0)), len(os.sched_getaffinity(before.native_id)),"
        " len(after[0]))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    allowed = len(os.sched_getaffinity(0))
    assert shown == ["1", "1", "1"] if one_cpu else [str(allowed)] * 3


def test_one_cpu_is_kept_where_the_process_may_use_one_only() -> None:
    script = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
        " from bot.core.heap import keep_to_one_cpu; print(keep_to_one_cpu())"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == "None"


def test_the_cpu_kept_is_the_least_taken_and_else_the_current_one() -> None:
    assert choose_cpu({0, 1, 2}, current=1, taken={}) == 1
    assert choose_cpu({0, 1, 2}, current=1, taken={1: 1}) == 0
    assert choose_cpu({0, 1, 2}, current=1, taken={0: 2, 1: 1, 2: 1}) == 1
    assert choose_cpu({2, 3}, current=None, taken={}) == 2
    # A CPU the process may not use is never chosen, however free.
    assert choose_cpu({2, 3}, current=0, taken={2: 1}) == 3
