"""One crew run at a time for a window: confirmation of imported endpoints, the run in a worker, its events on
the GUI thread, the user's answers to its questions, and Stop. The main window and the overlay both use it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from app.core.crew.copilots import Copilot
from app.core.crew.tools import Approver
from app.core.providers.base import CancelToken
from app.ui.endpoint_dialog import answer_worker_question, confirm_in_gui
from app.ui.operations import Emit, Operation
from app.ui.qt import QObject, QWidget, Signal, isValid
from app.ui.workers import ToolApproval, gui_approver

# what a run reaches (asked before it starts) and the run itself; both are called in the worker
Reaches = Callable[[], list[Copilot]]
Run = Callable[[Approver, CancelToken], Iterable[Any]]
# shows a tool call's question in the conversation (a ToolApprovalCard) and returns the card
ShowApproval = Callable[[ToolApproval], Any]


class CrewRunner(QObject):
    """Runs a crew run in its own thread; a tool call's question is shown in the conversation by `show_approval`,
    an imported endpoint's gets a dialog on `parent`.

    Attributes:
        operation: the run in flight, if any.
        cards: the tool questions shown for this run; those left unanswered when it ends are expired (denied).

    Signals (queued: slots run on the GUI thread):
        run_event: a run event to show (questions are answered here, never forwarded). Not `event`: that name
            would hide `QObject.event()`, which Qt calls for every event the object receives.
        failed: the run could not start or broke (one line).
        finished: the run ended, whatever happened; `operation` is None again.
    """

    run_event = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, ctx: Any, parent: QWidget, show_approval: ShowApproval) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.dialog_parent = parent
        self.show_approval = show_approval
        self.operation: Operation | None = None
        self.cards: list[Any] = []

    @property
    def busy(self) -> bool:
        return self.operation is not None

    def start(self, reaches: Reaches, run: Run) -> Operation:
        """Confirm the imported remote copilots `reaches()` names (a no stops the run), then emit what `run` yields."""
        ctx = self.ctx

        def work(emit: Emit, cancel: CancelToken) -> None:
            confirm_in_gui(ctx, reaches(), emit, cancel)  # nothing is sent to an unconfirmed endpoint
            for event in run(gui_approver(emit, cancel), cancel):
                emit(event)

        self.operation = (
            Operation(work).with_progress(self._forward).failure(self.failed.emit).finally_(self._done)
        ).run_in_background()  # a run is long: never on the database worker
        return self.operation

    def stop(self) -> None:
        """Ask the run to stop; what was written is kept, marked interrupted."""
        if self.operation is not None:
            self.operation.cancel.cancel()

    def _forward(self, event: Any) -> None:
        if isinstance(event, ToolApproval):
            self.cards.append(self.show_approval(event))
        elif not answer_worker_question(self.dialog_parent, event):
            self.run_event.emit(event)

    def _done(self) -> None:
        for card in self.cards:
            if isValid(card):  # a card of a thread the user has left is gone, and said no when it went
                card.expire()
        self.cards = []
        self.operation = None
        self.finished.emit()
