"""The thread in the centre of the window: messages with their authors, streaming, and the cards between."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.core.confidence import ReplyConfidence
from app.core.crew.events import CrewError, CrewEvent, CrewText, MessageEvent
from app.core.crew.transcript import Card as CardText
from app.core.crew.transcript import Renderer, render, render_all
from app.core.providers.base import Citation, Event
from app.ui.design import model_chip
from app.ui.link_card import LinkCard, link_ends
from app.ui.message_card import Card, MessageWidget
from app.ui.qt import (
    QApplication,
    QScrollArea,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
    isValid,
)

_RENDER_MS = 33  # streamed text is shown at most this often; each time only its open Markdown block is re-rendered


class ThreadView(QScrollArea, Renderer):
    """A thread's timeline, drawn by one `Renderer` whether its events arrive live or are read back.

    `handle` takes a live crew run's events as they arrive; `load` a stored thread's (`Store.timeline`), which
    are the same typed events: both paths go through `transcript.render`, so they draw the same cards.

    Signals:
        details_requested: forwarded from a message (message id).
        confidence_requested: forwarded from a message (message id): answered with `show_confidence`.
        retry_requested: forwarded from a crashed message (copilot id).
        link_hovered: forwarded from a message: the link target under the mouse, '' when none.
    """

    details_requested = Signal(str)
    confidence_requested = Signal(str)
    retry_requested = Signal(str)
    link_hovered = Signal(str)

    def __init__(self, copilots: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.copilots = copilots
        self.setWidgetResizable(True)
        self.container = QWidget()
        self.layout_ = QVBoxLayout(self.container)
        self.layout_.setSpacing(8)
        self.layout_.addStretch()
        self.setWidget(self.container)
        self.messages: dict[str, MessageWidget] = {}
        self._waiting: dict[str, list[LinkCard]] = {}  # links whose target has not answered yet, by target
        self._working: dict[str, list[LinkCard]] = {}  # ... and those being answered, by the answer's message id
        self.timer = QTimer(self)
        self.timer.setInterval(_RENDER_MS)
        self.timer.timeout.connect(self._render_dirty)  # runs on the GUI thread

    @property
    def dark(self) -> bool:
        app = QApplication.instance()
        return app is not None and bool(app.property("roundtable_dark"))

    def clear(self) -> None:
        self.messages.clear()
        self._waiting.clear()
        self._working.clear()
        while self.layout_.count() > 1:
            item = self.layout_.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()

    def _add(self, widget: QWidget) -> None:
        at_bottom = self.verticalScrollBar().value() >= self.verticalScrollBar().maximum() - 40
        self.layout_.insertWidget(self.layout_.count() - 1, widget)
        if at_bottom:
            QTimer.singleShot(0, self, self.scroll_to_bottom)

    def scroll_to_bottom(self) -> None:
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def add_message(self, message_id: str, author: str, text: str = "", status: str = "complete") -> MessageWidget:
        copilot = self.copilots.get(author)
        name = "You" if author == "user" else (copilot.name if copilot else author)
        colour = "#888888" if author == "user" else (copilot.color if copilot else "#5b7cfa")
        widget = MessageWidget(message_id, author, name, colour, text, status, self.dark)
        if copilot is not None:
            widget.set_chip(model_chip(copilot))
        widget.details_requested.connect(self.details_requested)
        widget.confidence_requested.connect(self.confidence_requested)
        widget.retry_requested.connect(self.retry_requested)
        widget.link_hovered.connect(self.link_hovered)
        self.messages[message_id] = widget
        self._add(widget)
        return widget

    def add_card(self, text: str) -> None:
        self._add(Card(text))

    def ask_about_tool(self, question: Any) -> QWidget:
        """A run's tool call waits for the user: its question as a card at the end of the thread, in view."""
        from app.ui.tool_approval import ToolApprovalCard

        card = ToolApprovalCard(question)
        self.layout_.insertWidget(self.layout_.count() - 1, card)
        QTimer.singleShot(0, self, lambda: self.ensureWidgetVisible(card) if isValid(card) else None)
        card.focus()
        return card

    def load(self, timeline: Iterable[Event], written: dict[str, str] | None = None) -> None:
        """Show a stored thread (from Store.timeline); `written`: each message's time (message id -> ISO 8601)."""
        self.clear()
        render_all(self, timeline)
        for message_id, widget in self.messages.items():
            widget.set_time((written or {}).get(message_id, ""))
        QTimer.singleShot(0, self, self.scroll_to_bottom)

    def handle(self, event: Event) -> None:
        """Show one event of a live crew run."""
        render(self, event)

    # -- the Renderer contract: how each kind of event shows here ------------------------------------------------

    def on_message_started(self, event: MessageEvent) -> None:
        if event.message_id not in self.messages:
            self.add_message(event.message_id, event.author, status="streaming").set_time(None)
            self.timer.start()
        links = self._waiting.pop(event.author, [])
        for link in links:
            link.set_state("working")
        if links:
            self._working[event.message_id] = links

    def on_text(self, event: CrewText) -> None:
        if event.message_id in self.messages:
            self.messages[event.message_id].append(event.delta)

    def on_message_finished(self, event: MessageEvent) -> None:
        widget = self.messages.get(event.message_id)
        if widget is not None:
            widget.set_status(event.status)
            widget.set_usage(event.usage)
            widget.show_arrived()
            if event.citations:
                widget.set_sources(event.citations)
        for link in self._working.pop(event.message_id, []):
            link.set_state(event.status)

    def on_error(self, event: CrewError) -> None:
        if event.message_id in self.messages:  # only a cut-off reply can be asked again
            self.messages[event.message_id].show_error(event.message, can_retry=event.status == "interrupted")

    def on_card(self, event: CrewEvent, shown: CardText) -> None:
        ends = link_ends(event)
        if ends is None:
            self.add_card(f"{shown.symbol} {shown.text}")
            return
        link = LinkCard(shown, ends, self.copilots)
        if link.state == "waiting":
            self._waiting.setdefault(link.target, []).append(link)
        self._add(link)

    def _render_dirty(self) -> None:
        dirty = [w for w in self.messages.values() if w.dirty]
        for widget in dirty:
            widget.show_arrived()
        if dirty and self.verticalScrollBar().value() >= self.verticalScrollBar().maximum() - 80:
            self.scroll_to_bottom()
        if not any(w.status == "streaming" for w in self.messages.values()):
            self.timer.stop()

    def set_sources(self, message_id: str, citations: list[Citation]) -> None:
        widget = self.messages.get(message_id)
        if widget is not None:
            widget.set_sources(citations)

    def show_confidence(self, message_id: str, reply: ReplyConfidence) -> None:
        widget = self.messages.get(message_id)
        if widget is not None:
            widget.show_confidence(reply)

    def scroll_to_message(self, message_id: str) -> None:
        widget = self.messages.get(message_id)
        if widget is not None:
            self.ensureWidgetVisible(widget)
            widget.setFocus()
