"""Cyclic garbage is freed on the GUI thread: a worker thread that allocates never frees a widget."""

from __future__ import annotations

import gc
import threading

from app.ui.collector import MainThreadCollector


class Cycle:
    """Garbage that only the cycle collector frees; it records the thread that freed it."""

    freed_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.current_thread().name)


def _allocate_on_a_worker() -> list[list[int]]:
    """Container allocations on a worker thread, well past generation 0's threshold (kept, so they count)."""
    kept: list[list[int]] = []
    worker = threading.Thread(target=lambda: kept.extend([index] for index in range(50_000)), name="worker")
    worker.start()
    worker.join()
    return kept


def test_without_the_collector_a_worker_thread_frees_the_cycle() -> None:
    """The hazard itself: with the interpreter's own collection, whichever thread allocates frees the garbage."""
    assert gc.isenabled()
    gc.collect()
    Cycle.freed_on.clear()
    Cycle()
    kept = _allocate_on_a_worker()
    assert len(kept) == 50_000
    assert Cycle.freed_on == ["worker"]


def test_with_the_collector_the_gui_thread_frees_the_cycle(qtbot) -> None:
    """qtbot: this test runs under the suite's collector, as the app runs under its own."""
    assert not gc.isenabled()
    collector = MainThreadCollector(interval_ms=10)
    try:
        gc.collect()
        Cycle.freed_on.clear()
        Cycle()
        kept = _allocate_on_a_worker()
        assert len(kept) == 50_000
        assert Cycle.freed_on == []
        qtbot.waitUntil(lambda: Cycle.freed_on != [], timeout=5000)  # the timer on this thread collects
        assert Cycle.freed_on == [threading.main_thread().name]
        assert collector.collections >= 1
    finally:
        collector.timer.stop()
    assert not gc.isenabled()  # stop() is the suite's, after the test


def test_freezing_moves_what_survived_out_of_the_way_and_frees_the_rest(qtbot) -> None:
    collector = MainThreadCollector(interval_ms=60_000)
    try:
        Cycle.freed_on.clear()
        Cycle()  # garbage: freed by the freeze's collection, never frozen
        kept = Cycle()  # alive: frozen with the rest
        collector.freeze()
        assert Cycle.freed_on == [threading.main_thread().name]
        assert gc.get_freeze_count() > 0 and kept.me is kept
    finally:
        gc.unfreeze()  # the suite's other tests expect their garbage collected
        collector.timer.stop()
