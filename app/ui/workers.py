"""Background work for the GUI: core calls run in threads; results come back as queued signals."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.core.crew.tools import Approver, Consent
from app.core.errors import RoundtableError
from app.core.providers.base import CancelToken, Event
from app.ui.qt import QObject, Signal

# Tasks in flight, kept alive until they finish (a QObject without a reference would be collected).
_RUNNING: set[BackgroundTask] = set()


class BackgroundTask(QObject):
    """Runs `work(emit, cancel)` in a thread. `emit(obj)` sends progress; the return value is the result.

    Signals (all queued: their slots run on the GUI thread):
        progress: something `work` emitted (an event, a download's progress).
        succeeded: the value `work` returned.
        failed: a one-line message saying what went wrong and what to do.
        finished: emitted last, whatever happened.
    """

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, work: Callable[[Callable[[Any], None], CancelToken], Any]):
        # Owned by no widget (kept alive by _RUNNING): closing a window mid-task must not delete it under its thread.
        super().__init__(None)
        self.work = work
        self.cancel = CancelToken()

    def start(self) -> BackgroundTask:
        _RUNNING.add(self)
        # queued after every other signal of this task: it is kept alive until they are all delivered
        self.finished.connect(lambda: _RUNNING.discard(self))
        threading.Thread(target=self._run, name="roundtable-gui-worker", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            result = self.work(self._emit_progress, self.cancel)
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


def run_in_background(
    work: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> BackgroundTask:
    """Run a plain call off the GUI thread; `on_success`/`on_failure` run on the GUI thread."""
    task = BackgroundTask(lambda _emit, _cancel: work())
    if on_success:
        task.succeeded.connect(on_success)  # queued: runs on the GUI thread
    if on_failure:
        task.failed.connect(on_failure)  # queued: runs on the GUI thread
    return task.start()


@dataclass
class ToolApproval(Event):
    """A worker asks the GUI whether a copilot may use a tool; the GUI sets `consent`, then `answered`."""

    type: ClassVar[str] = "approval"
    copilot: str
    tool: str
    arguments: dict[str, Any]
    consent: Consent = Consent.DENY
    answered: threading.Event = field(default_factory=threading.Event)


def gui_approver(emit: Callable[[Any], None], cancel: CancelToken) -> Approver:
    """An approver for a crew run in a worker: it asks the GUI thread (which shows a dialog) and waits."""

    def approve(_workspace: str, copilot: str, tool: str, arguments: dict) -> Consent:
        question = ToolApproval(copilot, tool, arguments)
        emit(question)
        while not question.answered.wait(0.1):
            if cancel.cancelled:
                return Consent.DENY
        return question.consent

    return approve


def ask_about_tool(parent: Any, question: ToolApproval) -> None:
    """Show the dialog for a ToolApproval (on the GUI thread); its answer goes back to the worker when it closes."""
    from app.ui.tool_approval import ToolApprovalDialog

    ToolApprovalDialog(question, parent).open()  # window-modal, without a nested event loop
