"""A crew run's questions for the user (tool approvals), asked from a worker and answered on the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.core.crew.tools import Approver, Consent
from app.core.providers.base import CancelToken, Event


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
    """An approver for a crew run in a worker: it asks the GUI thread (which shows a card) and waits."""

    def approve(_workspace: str, copilot: str, tool: str, arguments: dict) -> Consent:
        question = ToolApproval(copilot, tool, arguments)
        emit(question)
        while not question.answered.wait(0.1):
            if cancel.cancelled:
                return Consent.DENY
        return question.consent

    return approve
