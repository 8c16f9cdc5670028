"""Background operations for the GUI, in the spirit of Anki's `QueryOp`: the GUI never waits on the database.

An `Operation` wraps `op(emit, cancel)`; its callbacks (`success`, `failure`, `with_progress`, `finally_`) run on
the GUI thread. Store calls go to the one `DatabaseWorker` (`run_on_database`, or `query` for a plain call), so
the GUI's reads and writes are serialised in the order they were asked for; long work that is not a store call
(a crew run, a download, indexing, a Hub request, a model probe) gets its own thread (`run_in_background`).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import traceback
from collections.abc import Callable
from typing import Any

from app.core.errors import RoundtableError
from app.core.providers.base import CancelToken
from app.ui.qt import QObject, Signal

Emit = Callable[[Any], None]
Work = Callable[[Emit, CancelToken], Any]

# Operations in flight, kept alive until they finish (a QObject without a reference would be collected).
_RUNNING: set[Operation] = set()
# what PySide says when a slot touches a Qt object that has been deleted ("Internal C++ object (…) already
# deleted", "Signal source has been deleted")
_GONE = re.compile(r"already deleted|has been deleted")
log = logging.getLogger(__name__)


class DatabaseWorker:
    """The one thread that runs the store operations the GUI asks for, one at a time, in order.

    `Connection` is safe to share, so crew runs, downloads and indexing still write from their own threads;
    this worker keeps the GUI's own queries from racing each other (a save, then the refresh that reads it).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        """Queue `job`; it runs after every job submitted before it."""
        with self._lock:
            if self._thread is None:  # started on first use: importing the UI starts no thread
                self._thread = threading.Thread(target=self._serve, name="roundtable-database", daemon=True)
                self._thread.start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            self._jobs.get()()  # a job reports its own errors (Operation._run): the worker never dies


DATABASE = DatabaseWorker()


class Operation(QObject):
    """Runs `op(emit, cancel)` off the GUI thread. `emit(obj)` sends progress; the return value is the result.

    Attributes:
        cancel: set it to ask `op` to stop (`op` decides where it can).

    Signals (all queued: their slots run on the GUI thread):
        progress: something `op` emitted (an event, a download's progress).
        succeeded: the value `op` returned.
        failed: a one-line message saying what went wrong and what to do.
        finished: emitted last, whatever happened.
    """

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, op: Work) -> None:
        # Owned by no widget (kept alive by _RUNNING): closing a window mid-operation must not delete it under its
        # thread.
        super().__init__(None)
        self.op = op
        self.cancel = CancelToken()

    def success(self, callback: Callable[[Any], None]) -> Operation:
        """Call `callback(result)` when `op` returns."""
        return self._deliver(self.succeeded, callback)

    def failure(self, callback: Callable[[str], None]) -> Operation:
        """Call `callback(message)` when `op` raises."""
        return self._deliver(self.failed, callback)

    def with_progress(self, callback: Callable[[Any], None]) -> Operation:
        """Call `callback(value)` for each value `op` emits."""
        return self._deliver(self.progress, callback)

    def finally_(self, callback: Callable[[], None]) -> Operation:
        """Call `callback()` after success or failure."""
        return self._deliver(self.finished, callback)

    def _deliver(self, signal: Any, callback: Callable[..., None]) -> Operation:
        """Connect `callback` (queued: it runs on the GUI thread); an answer for a widget that was closed and
        deleted meanwhile (a panel closed while its query ran) has nowhere to go, and is dropped."""
        if isinstance(getattr(callback, "__self__", None), QObject):
            signal.connect(callback)  # a widget's own method: Qt drops the connection when the widget goes
            return self

        def deliver(*args: Any) -> None:  # a lambda or another signal's emit: Qt cannot tell whose it is
            try:
                callback(*args)
            except RuntimeError as exc:
                if not _GONE.search(str(exc)):
                    raise
                log.debug("an operation's answer for a deleted widget was dropped: %s", exc)

        signal.connect(deliver)
        return self

    def run_in_background(self) -> Operation:
        """Run in a thread of its own: for long work that must not hold up the database worker."""
        self._keep_alive()
        threading.Thread(target=self._run, name="roundtable-gui-worker", daemon=True).start()
        return self

    def run_on_database(self) -> Operation:
        """Run on the database worker, after every store operation asked for before it."""
        self._keep_alive()
        DATABASE.submit(self._run)
        return self

    def _keep_alive(self) -> None:
        _RUNNING.add(self)
        # queued after every other signal of this operation: it is kept alive until they are all delivered
        self.finished.connect(lambda: _RUNNING.discard(self))

    def _run(self) -> None:
        try:
            result = self.op(self._emit_progress, self.cancel)
        except RoundtableError as exc:
            self._emit(self.failed, str(exc))
        except Exception as exc:  # a bug must not take the window down: say it, keep going
            traceback.print_exc()
            self._emit(self.failed, f"Unexpected error: {type(exc).__name__}: {exc}")
        else:
            self._emit(self.succeeded, result)
        finally:
            self._emit(self.finished)

    def _emit_progress(self, value: Any) -> None:
        self._emit(self.progress, value)

    @staticmethod
    def _emit(signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the app is closing and Qt has already gone: nobody is listening
            pass


def _plain(
    call: Callable[[], Any], on_success: Callable[[Any], None] | None, on_failure: Callable[[str], None] | None
) -> Operation:
    operation = Operation(lambda _emit, _cancel: call())
    if on_success is not None:
        operation.success(on_success)
    if on_failure is not None:
        operation.failure(on_failure)
    return operation


def query(
    call: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> Operation:
    """A store call (or anything else quick that reads or writes the user's data) on the database worker."""
    return _plain(call, on_success, on_failure).run_on_database()


def run_in_background(
    call: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> Operation:
    """A blocking call that is not a store call (the Hub, the hardware, a model probe) in a thread of its own."""
    return _plain(call, on_success, on_failure).run_in_background()
