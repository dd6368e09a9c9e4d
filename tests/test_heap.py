"""The interpreter's tuning: collection paused around large results, settled once serving."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

from bot.core.heap import SERVING_SWITCH_INTERVAL, SERVING_THRESHOLD, collection_paused


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
