"""Python's cycle collector on the GUI thread only.

Python runs its cyclic garbage collector on whichever thread happens to allocate when a generation's threshold
is crossed. When the garbage holds a Qt object (a widget kept in a cycle by a lambda connected to its own
signal, say), that object is then destroyed on a worker thread, and Qt crashes: CI saw exactly that, a
segfault inside "Garbage-collecting" on the database worker while it read a model file's header. So the app
turns automatic collection off and collects here instead, on the GUI thread, a generation at a time with
Python's own thresholds, as PyQt's and pyqtgraph's users have long done.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 1000


class MainThreadCollector(QObject):
    """While it lives, cyclic garbage is collected on the thread that made it (the GUI thread), never elsewhere."""

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = 0  # how many collections this collector ran (for tests and diagnostics)
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds, as the interpreter would have."""
        young, middle, old = gc.get_count()
        if young <= self.threshold[0]:
            return
        generation = 0
        if middle > self.threshold[1]:
            generation = 2 if old > self.threshold[2] else 1
        gc.collect(generation)
        self.collections += 1

    def collect_all(self) -> None:
        gc.collect()
        self.collections += 1

    def freeze(self) -> None:
        """Collect, then move every object that survived out of the collector's way for good (`gc.freeze`): what
        start-up made lives as long as the app, and full collections then look only at what came since. (CPython
        skips a full collection until a quarter of the long-lived objects are new; this collector has no such
        rule, so without this each would walk the whole app.)"""
        self.collect_all()
        gc.freeze()

    def stop(self) -> None:
        """Back to the interpreter's own collection (after the last Qt object is gone)."""
        self.timer.stop()
        gc.enable()
