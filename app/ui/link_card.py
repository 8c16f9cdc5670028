"""The router's choice, a handoff and a consult drawn as links between turns: who hands what to whom, and how
that task stands (waiting, working, done, failed, not followed) as the turns it started go by."""

from __future__ import annotations

from typing import Any

from app.core.crew.events import ConsultEvent, CrewEvent, HandoffEvent, RouteDecision
from app.core.crew.transcript import Card as CardText
from app.ui.design import SPACE, avatar, set_role
from app.ui.qt import QFrame, QHBoxLayout, QLabel, Qt, QVBoxLayout, QWidget

ROUTER = "router"
_ROUTER_COLOUR = "#6b7280"
# the task's state, as the chip says it; `set_state` takes the keys
STATES = {
    "waiting": "waiting",
    "working": "working…",
    "complete": "✓ done",
    "failed": "✗ failed",
    "interrupted": "✗ cut off",
    "rejected": "not followed",
}


def link_ends(event: CrewEvent) -> tuple[str, str, str, bool] | None:
    """(from, to, what, followed) for an event drawn as a link; None for the others.

    `from` is a copilot id or `router`; `what` is the task, the question or the router's reason.
    """
    if isinstance(event, RouteDecision) and event.by not in ("asked", "mention"):
        return ROUTER, event.copilot, event.reason, True
    if isinstance(event, HandoffEvent):
        followed = event.status == "accepted"
        return event.from_, event.to, event.task if followed else _refused(event.task, event.reason), followed
    if isinstance(event, ConsultEvent) and event.status in ("asked", "rejected"):
        followed = event.status == "asked"
        return event.from_, event.to, event.question if followed else _refused(event.question, event.reason), followed
    return None


def _refused(what: str, reason: str | None) -> str:
    return f"{what} — not followed: {reason}" if reason else what


class LinkCard(QFrame):
    """`From → To: what` between two turns, with both avatars and the task's state.

    The words are plain text (they quote models); `text()` is the card's one wording (`transcript.card`), which
    is also its accessible name and tooltip.

    Attributes:
        target: the copilot id the task went to.
        state: a key of `STATES`.
    """

    def __init__(
        self, shown: CardText, ends: tuple[str, str, str, bool], copilots: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("link")
        source, self.target, what, followed = ends
        self._text = f"{shown.symbol} {shown.text}"
        self.setAccessibleName(self._text)
        self.setToolTip(self._text)
        row = QHBoxLayout(self)
        row.setContentsMargins(SPACE["m"], SPACE["xs"], SPACE["m"], SPACE["xs"])
        row.setSpacing(SPACE["s"])
        names = []
        for n, end in enumerate((source, self.target)):
            copilot = copilots.get(end)
            name = "Router" if end == ROUTER else (copilot.name if copilot else end)
            colour = _ROUTER_COLOUR if copilot is None else copilot.color
            picture = QLabel()
            picture.setPixmap(avatar(name, colour, 20, self.devicePixelRatioF()))
            row.addWidget(picture, 0, Qt.AlignmentFlag.AlignTop)
            if n == 0:
                arrow = QLabel(shown.symbol)
                arrow.setObjectName("linkArrow")
                row.addWidget(arrow, 0, Qt.AlignmentFlag.AlignTop)
            names.append(name)
        words = QVBoxLayout()
        words.setSpacing(0)
        self.heading = QLabel(f"{names[0]} → {names[1]}")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)  # a manifest's names
        self.heading.setObjectName("linkHeading")
        self.what = QLabel(what)
        self.what.setTextFormat(Qt.TextFormat.PlainText)  # a model's words
        self.what.setWordWrap(True)
        set_role(self.what, "muted")
        words.addWidget(self.heading)
        words.addWidget(self.what)
        row.addLayout(words, 1)
        self.chip = QLabel()
        self.chip.setProperty("role", "chip")
        row.addWidget(self.chip, 0, Qt.AlignmentFlag.AlignTop)
        self.state = ""
        self.set_state("waiting" if followed else "rejected")

    def text(self) -> str:
        return self._text

    def set_state(self, state: str) -> None:
        self.state = state
        self.chip.setText(STATES.get(state, state))
        self.chip.setAccessibleName(f"Task state: {self.chip.text()}")
