"""The thread in the centre of the window: messages with their authors, streaming, and the cards between."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.core.confidence import LOW, NO_DATA, ReplyConfidence
from app.core.crew.events import CrewError, CrewEvent, CrewText, MessageEvent
from app.core.crew.transcript import Card as CardText
from app.core.crew.transcript import Renderer, citation_label, render, render_all, status_word, usage_text
from app.core.providers.base import Citation, Event, Usage
from app.ui.confidence_view import ConfidenceView
from app.ui.design import SPACE, avatar, model_chip, readable
from app.ui.link_card import LinkCard, link_ends
from app.ui.qt import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    Qt,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
    isValid,
)
from app.ui.reply_view import ReplyView
from app.ui.tokens import colours

_RENDER_MS = 33  # streamed text is shown at most this often; each time only its open Markdown block is re-rendered


class MessageWidget(QFrame):
    """One message: its author's name in the copilot's colour, the text, and its status.

    The text is data: Markdown without raw HTML or images, links opened by our own handler (see reply_view);
    the error banner is plain text.

    Signals:
        details_requested: the user asked for this reply's trace (message id).
        confidence_requested: the user switched this reply to its confidence view (message id); the window
            answers with `show_confidence`.
        retry_requested: the user asked to try a crashed reply again (author).
        link_hovered: the target of the link under the mouse, '' when it leaves.
    """

    details_requested = Signal(str)
    confidence_requested = Signal(str)
    retry_requested = Signal(str)
    link_hovered = Signal(str)

    def __init__(
        self,
        message_id: str,
        author: str,
        name: str,
        colour: str,
        text: str = "",
        status: str = "complete",
        dark: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.message_id = message_id
        self.author = author
        self.name = name
        self.dark = dark
        self.dirty = False
        self.setObjectName("message")
        self.setProperty("author", "user" if author == "user" else "copilot")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACE["m"], SPACE["s"], SPACE["m"], SPACE["s"])
        header = QHBoxLayout()
        self.avatar = QLabel()
        self.avatar.setPixmap(avatar(name, colour, 24, self.devicePixelRatioF()))
        self.avatar.setAccessibleName(f"{name}'s avatar")
        header.addWidget(self.avatar)
        shown = readable(colour, colours(dark).surface)  # the copilot's colour, made to read on the card
        self.name_label = QLabel(f"<b style='color:{html.escape(shown)}'>{html.escape(name)}</b>")
        self.status_label = QLabel()
        self.status_label.setProperty("role", "muted")
        header.addWidget(self.name_label)
        self.chip = QLabel()  # the model (or remote host) that wrote it
        self.chip.setTextFormat(Qt.TextFormat.PlainText)  # a manifest's text: shown, never markup
        self.chip.setProperty("role", "chip")
        self.chip.hide()
        header.addWidget(self.chip)
        self.time_label = QLabel()  # when it was written
        self.time_label.setProperty("role", "muted")
        header.addWidget(self.time_label)
        header.addWidget(self.status_label)
        header.addStretch()
        self.confidence_button: QToolButton | None = None
        self.confidence_view: ConfidenceView | None = None
        if author != "user":
            self.confidence_button = QToolButton()
            self.confidence_button.setText("confidence")
            self.confidence_button.setCheckable(True)
            self.confidence_button.setAutoRaise(True)
            self.confidence_button.setToolTip("Mark the words the model was unsure of; hover one for its alternatives")
            self.confidence_button.toggled.connect(self._toggle_confidence)
            header.addWidget(self.confidence_button)
            self.details_button = QToolButton()
            self.details_button.setText("details")
            self.details_button.setAutoRaise(True)
            self.details_button.clicked.connect(lambda: self.details_requested.emit(self.message_id))
            header.addWidget(self.details_button)
        layout.addLayout(header)
        self.body = ReplyView(dark)
        self.body.link_hovered.connect(self.link_hovered)
        layout.addWidget(self.body)
        self.confidence_note = QLabel()  # why there is no confidence data (a server's words, too): plain text
        self.confidence_note.setTextFormat(Qt.TextFormat.PlainText)
        self.confidence_note.setProperty("role", "muted")
        self.confidence_note.setWordWrap(True)
        self.confidence_note.hide()
        layout.addWidget(self.confidence_note)
        self.column = layout
        self.stats = QToolButton()  # tokens, speed, first token: a click shows the whole trace
        self.stats.setAutoRaise(True)
        self.stats.setProperty("role", "muted")
        self.stats.setToolTip("Show this reply's trace")
        self.stats.clicked.connect(lambda: self.details_requested.emit(self.message_id))
        self.stats.hide()
        layout.addWidget(self.stats, 0, Qt.AlignmentFlag.AlignLeft)
        self.citations: list[Citation] = []
        self.sources = QLabel()
        self.sources.setObjectName("sources")
        self.sources.setTextFormat(Qt.TextFormat.RichText)
        self.sources.setProperty("role", "muted")
        self.sources.setWordWrap(True)
        self.sources.linkActivated.connect(self._open_source)
        self.sources.hide()
        layout.addWidget(self.sources)
        self.banner = QFrame()
        self.banner.setProperty("role", "banner")
        banner_layout = QHBoxLayout(self.banner)
        self.banner_label = QLabel()
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)  # errors quote servers and replies
        self.banner_label.setWordWrap(True)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(lambda: self.retry_requested.emit(self.author))
        banner_layout.addWidget(self.banner_label, 1)
        banner_layout.addWidget(self.retry_button)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.set_status(status)
        if text:
            self.body.show_markdown(text)

    @property
    def text(self) -> str:
        """The reply's Markdown so far (held once, by the view that renders it)."""
        return self.body.text

    def append(self, delta: str) -> None:
        self.body.append(delta)
        self.dirty = True

    def show_arrived(self) -> None:
        """Show what arrived since the last call; once the reply is no longer streaming, close its last block."""
        self.body.render(final=self.status != "streaming")
        self.dirty = False

    def set_chip(self, text: str) -> None:
        self.chip.setText(text)
        self.chip.setVisible(bool(text))

    def set_time(self, stamp: str | None) -> None:
        """When the message was written (ISO 8601, as stored; None: now; '' or unreadable: not shown), as the time
        of day, with the date when it was not today."""
        try:
            written = datetime.now().astimezone() if stamp is None else datetime.fromisoformat(stamp).astimezone()
        except ValueError:  # none recorded, or a hand-made or imported row: no time rather than a wrong one
            self.time_label.clear()
            self.time_label.setToolTip("")
            return
        today = written.date() == datetime.now().astimezone().date()
        self.time_label.setText(written.strftime("%H:%M" if today else "%d %b %Y, %H:%M"))
        self.time_label.setToolTip(written.strftime("%A %d %B %Y, %H:%M:%S"))

    def set_usage(self, usage: Usage | None) -> None:
        shown = usage_text(usage)
        self.stats.setText(shown)
        self.stats.setAccessibleName(f"Reply figures: {shown}" if shown else "")
        self.stats.setVisible(bool(shown))

    def set_status(self, status: str) -> None:
        self.status = status
        self.status_label.setText(status_word(status))
        if self.confidence_button is not None:  # the tokens are stored when the reply ends
            self.confidence_button.setEnabled(status != "streaming")

    def _toggle_confidence(self, on: bool) -> None:
        if on:
            self.confidence_requested.emit(self.message_id)
            return
        if self.confidence_view is not None:
            self.confidence_view.hide()
        self.confidence_note.hide()
        self.body.show()

    def show_confidence(self, reply: ReplyConfidence) -> None:
        """Switch to the confidence view: the text with its low-probability tokens marked, or, without token
        data, the reply as it is with a line saying why there is none."""
        if self.confidence_button is None or not self.confidence_button.isChecked():
            return  # switched back before the data arrived
        if not reply.tokens:
            self.confidence_note.setText(reply.missing or NO_DATA)
            self.confidence_note.show()
            return
        if self.confidence_view is None:
            self.confidence_view = ConfidenceView()
            self.column.insertWidget(self.column.indexOf(self.body) + 1, self.confidence_view)
        self.confidence_view.show_tokens(self.text, reply.tokens)
        low = sum(token.low for token in reply.tokens)
        self.confidence_note.setText(f"{low} of {len(reply.tokens)} tokens under p {LOW} are marked.")
        self.body.hide()
        self.confidence_view.show()
        self.confidence_note.show()

    def set_sources(self, citations: list[Citation]) -> None:
        """The passages the reply rests on, each a link that shows the passage, each naming this reply's copilot
        (after a handoff each reply keeps its own)."""
        self.citations = citations
        # every label quotes the message (a stored one may come from an imported archive): escaped, so the only
        # anchors in this rich-text label are our own cite: links
        links = [
            f"<a href='cite:{i}'>{html.escape(citation_label(c, i + 1, self.name))}</a>"
            for i, c in enumerate(citations)
        ]
        self.sources.setText("Sources: " + " · ".join(links))
        self.sources.setVisible(bool(citations))

    def _open_source(self, link: str) -> None:
        from app.ui.passage import show_passage

        source = self.citations[int(link.removeprefix("cite:"))]
        show_passage(self, source.source, source.location, source.passage, source.query, self.name)

    def show_error(self, message: str, can_retry: bool) -> None:
        self.banner_label.setText(message)
        self.retry_button.setVisible(can_retry)
        self.banner.show()


class Card(QLabel):
    """A compact line between messages: a router decision, a tool call or a handoff (plain text: it quotes them)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)
        self.setWordWrap(True)
        self.setObjectName("card")


def show_trace(parent: QWidget, message: Any) -> None:
    """A reply's details: model, quant, sampling, tokens, timings, and why this copilot answered."""
    from app.ui.qt import QMessageBox

    trace = message.data.get("trace") or {}
    if not isinstance(trace, dict):  # a hand-made or imported row: nothing to list, rather than a crash
        trace = {}
    # keys and values come with the message (models, servers, an imported archive): escaped before rich text
    lines = [
        f"<b>{html.escape(str(k).replace('_', ' '))}</b>: {html.escape(str(v))}"
        for k, v in trace.items()
        if v is not None
    ]
    if message.error:
        lines.append(f"<b>error</b>: {html.escape(message.error)}")
    box = QMessageBox(parent)
    box.setWindowTitle(f"Reply details — {message.author}")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText("<br>".join(lines) or "No details were recorded for this message.")
    box.open()


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
