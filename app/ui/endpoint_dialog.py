"""Confirming an imported remote copilot's endpoint before a run sends it anything.

A worker that is about to run asks here (through a queued event) for each imported remote copilot the user has not
confirmed; the dialog names the copilot, the archive it came in and the exact endpoint, as plain text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.core.crew.copilots import Copilot
from app.core.crew.routing import mentions
from app.core.crew.trust import UnconfirmedEndpoint, endpoint_of
from app.core.errors import UsageError
from app.core.providers.base import CancelToken, Event
from app.ui.qt import QDialog, QDialogButtonBox, QLabel, Qt, QVBoxLayout, QWidget

CONFIRM_LABEL = "Confirm endpoint"


@dataclass
class EndpointConfirmation(Event):
    """A worker asks the GUI to confirm an imported copilot's endpoint; the GUI sets `confirmed`, then `answered`."""

    type: ClassVar[str] = "endpoint-confirmation"
    copilot: Copilot
    review: str
    confirmed: bool = False
    answered: threading.Event = field(default_factory=threading.Event)


class EndpointDialog(QDialog):
    """Asks whether an imported remote copilot may be sent the thread; every shown value is plain text.

    Attributes:
        question: the worker's question, answered when the dialog closes (closed or destroyed any other way: no).
    """

    def __init__(self, question: EndpointConfirmation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = question
        copilot = question.copilot
        self.setWindowTitle("Confirm an imported copilot")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        layout = QVBoxLayout(self)
        self.text = QLabel(
            f"The copilot “{copilot.name}” ({copilot.id}) was {question.review}.\n\n"
            f"Running it sends this thread to:\n{endpoint_of(copilot)}\n\n"
            "Its key name, tools and approvals were not imported. Send to this endpoint from now on?"
        )
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # the archive chose the name and the URL
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm_button = buttons.addButton(CONFIRM_LABEL, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)  # Enter does not send the thread anywhere
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(self._answer)
        # a dialog destroyed unanswered (its window closed under it) must not leave the worker waiting: a no
        answered = question.answered
        self.destroyed.connect(lambda *_: answered.set())

    def _answer(self, result: int) -> None:
        self.question.confirmed = result == QDialog.DialogCode.Accepted
        self.question.answered.set()


def ask_about_endpoint(parent: QWidget, question: EndpointConfirmation) -> EndpointDialog:
    """Show the dialog (on the GUI thread, window-modal, no nested event loop); the answer goes back on close."""
    dialog = EndpointDialog(question, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def answer_worker_question(parent: QWidget, event: Any) -> bool:
    """If `event` is a run's question about an imported endpoint, show its dialog on `parent` and return True;
    the answer goes back to the waiting worker when the dialog closes. (Tool calls are asked in the
    conversation: `CrewRunner`'s `show_approval`.)"""
    if isinstance(event, EndpointConfirmation):
        ask_about_endpoint(parent, event)
        return True
    return False


def confirm_in_gui(ctx: Any, copilots: list[Copilot], emit: Callable[[Any], None], cancel: CancelToken) -> None:
    """In a worker, before a run: ask about each unconfirmed imported remote copilot; a no stops the run."""
    while True:
        try:
            ctx.confirm_endpoints(copilots)
            return
        except UnconfirmedEndpoint as refused:
            copilot = refused.copilot
            question = EndpointConfirmation(copilot, ctx.copilot_list().review.get(copilot.id, "imported"))
            emit(question)
            while not question.answered.wait(0.1):
                if cancel.cancelled:
                    raise UsageError("Stopped before the run began.") from refused
            if not question.confirmed:
                raise UsageError(
                    f"Not sent: you did not confirm copilot '{copilot.id}' and its endpoint {endpoint_of(copilot)}."
                ) from refused
            ctx.store.set_copilot_review(copilot.id, None)


def copilots_of_run(ctx: Any, workspace: str, text: str) -> list[Copilot]:
    """Who a message in `workspace` could reach: the workspace's crew and anyone it @mentions (in a worker)."""
    from app.core.crew.runs import participants_for

    return [*participants_for(ctx, workspace, None), *mentions(text, ctx.copilots())]


def copilots_of_ask(ctx: Any, copilot_id: str | None, text: str) -> list[Copilot]:
    """Who a quick ask reaches: the copilots `text` @mentions, else the chosen one (in a worker; as runs.ask)."""
    return mentions(text, ctx.copilots()) or [ctx.copilot(copilot_id)]
