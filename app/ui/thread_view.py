"""The thread in the centre of the window: messages with their authors, streaming, and the cards between."""

from __future__ import annotations

import html
from typing import Any

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
)
from app.ui.reply_view import ReplyView

_RENDER_MS = 33  # streamed text is shown at most this often; each time only its open Markdown block is re-rendered
_STATUS_WORDS = {"streaming": "writing…", "interrupted": "interrupted", "failed": "failed"}


class MessageWidget(QFrame):
    """One message: its author's name in the copilot's colour, the text, and its status.

    The text is data: Markdown without raw HTML or images, links opened by our own handler (see reply_view);
    the error banner is plain text.

    Signals:
        details_requested: the user asked for this reply's trace (message id).
        retry_requested: the user asked to try a crashed reply again (author).
        link_hovered: the target of the link under the mouse, '' when it leaves.
    """

    details_requested = Signal(str)
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
        self.dark = dark
        self.dirty = False
        self.setObjectName("message")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        header = QHBoxLayout()
        self.name_label = QLabel(f"<b style='color:{html.escape(colour)}'>{html.escape(name)}</b>")
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: gray")
        header.addWidget(self.name_label)
        header.addWidget(self.status_label)
        header.addStretch()
        if author != "user":
            self.details_button = QToolButton(text="details")
            self.details_button.setAutoRaise(True)
            self.details_button.clicked.connect(lambda: self.details_requested.emit(self.message_id))
            header.addWidget(self.details_button)
        layout.addLayout(header)
        self.body = ReplyView(dark)
        self.body.link_hovered.connect(self.link_hovered)
        layout.addWidget(self.body)
        self.citations: list[dict] = []
        self.sources = QLabel()
        self.sources.setObjectName("sources")
        self.sources.setTextFormat(Qt.TextFormat.RichText)
        self.sources.setStyleSheet("color: gray")
        self.sources.setWordWrap(True)
        self.sources.linkActivated.connect(self._open_source)
        self.sources.hide()
        layout.addWidget(self.sources)
        self.banner = QFrame()
        self.banner.setStyleSheet("background:#7a2e2e; color:white; border-radius:4px")
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

    def render(self) -> None:
        """Show what arrived since the last call; once the reply is no longer streaming, close its last block."""
        self.body.render(final=self.status != "streaming")
        self.dirty = False

    def set_status(self, status: str) -> None:
        self.status = status
        self.status_label.setText(_STATUS_WORDS.get(status, ""))

    def set_sources(self, citations: list[dict]) -> None:
        """The document passages the reply was given, each a link that shows the passage."""
        citations = [c for c in citations if isinstance(c, dict)] if isinstance(citations, list) else []
        self.citations = citations
        # every value came with the message (a stored one may come from an imported archive): escaped, so the
        # only anchors in this rich-text label are our own cite: links
        links = [
            f"<a href='cite:{i}'>[{html.escape(str(c.get('number', i + 1)))}] {html.escape(str(c.get('source', '')))}"
            f"{html.escape(', ' + str(c['location'])) if c.get('location') else ''}</a>"
            for i, c in enumerate(citations)
        ]
        self.sources.setText("Sources: " + " · ".join(links))
        self.sources.setVisible(bool(citations))

    def _open_source(self, link: str) -> None:
        from app.ui.documents import show_passage

        source = self.citations[int(link.removeprefix("cite:"))]
        location = source.get("location")
        show_passage(
            self, str(source.get("source", "")), str(location) if location else None, str(source.get("passage", ""))
        )

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
        self.setStyleSheet("color: gray; font-style: italic; padding: 2px 12px")


def route_card(copilot: str, reason: str, by: str) -> str:
    if by == "mention":
        return f"→ {copilot} (mentioned)"
    return f"→ router chose {copilot}: {reason}"


def tool_card(author: str, tool: str, status: str, result: str | None) -> str:
    outcome = " ".join((result or "").split())[:200]
    return f"⚙ {author} used {tool}: {status}" + (f" — {outcome}" if outcome else "")


def handoff_card(source: str, target: str, status: str, task: str, reason: str | None) -> str:
    if status == "accepted":
        return f"⇢ handoff {source} → {target}: {task}"
    return f"⇢ handoff {source} → {target} not followed: {reason}"


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


class ThreadView(QScrollArea):
    """A thread's timeline; live events from a crew run are added as they arrive.

    Signals:
        details_requested: forwarded from a message (message id).
        retry_requested: forwarded from a crashed message (copilot id).
        link_hovered: forwarded from a message: the link target under the mouse, '' when none.
    """

    details_requested = Signal(str)
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
        self.timer = QTimer(self)
        self.timer.setInterval(_RENDER_MS)
        self.timer.timeout.connect(self._render_dirty)  # runs on the GUI thread

    @property
    def dark(self) -> bool:
        return bool(QApplication.instance().property("roundtable_dark"))

    def clear(self) -> None:
        self.messages.clear()
        while self.layout_.count() > 1:
            item = self.layout_.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

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
        widget.details_requested.connect(self.details_requested)
        widget.retry_requested.connect(self.retry_requested)
        widget.link_hovered.connect(self.link_hovered)
        self.messages[message_id] = widget
        self._add(widget)
        return widget

    def add_card(self, text: str) -> None:
        self._add(Card(text))

    def load(self, timeline: list[dict]) -> None:
        """Show a stored thread (from Store.timeline)."""
        self.clear()
        for item in timeline:
            if item["kind"] == "message":
                message = item["message"]
                widget = self.add_message(message.id, message.author, message.text, message.status)
                if message.data.get("citations"):
                    widget.set_sources(message.data["citations"])
                if message.error:
                    widget.show_error(message.error, can_retry=message.status == "interrupted")
            elif item["kind"] == "route" and item.get("by") != "asked":
                self.add_card(route_card(item["copilot"], item.get("reason", ""), item.get("by", "")))
            elif item["kind"] == "tool" and item["status"] != "called":
                self.add_card(tool_card(item["author"], item["tool"], item["status"], item.get("result")))
            elif item["kind"] == "handoff":
                self.add_card(
                    handoff_card(item["from"], item["to"], item["status"], item.get("task", ""), item.get("reason"))
                )
        QTimer.singleShot(0, self, self.scroll_to_bottom)

    def handle(self, event: Any) -> None:
        """Show one event of a live crew run."""
        kind = event.type
        if kind == "route" and event.by != "asked":
            self.add_card(route_card(event.copilot, event.reason, event.by))
        elif kind == "message" and event.status == "streaming":
            self.add_message(event.message_id, event.author, status="streaming")
            self.timer.start()
        elif kind == "text" and event.message_id in self.messages:
            self.messages[event.message_id].append(event.delta)
        elif kind == "message" and event.message_id in self.messages:
            widget = self.messages[event.message_id]
            widget.set_status(event.status)
            widget.render()
        elif kind == "handoff":
            self.add_card(handoff_card(event.from_, event.to, event.status, event.task, event.reason))
        elif kind == "tool" and event.status != "called":
            self.add_card(tool_card(event.author, event.tool, event.status, event.result))
        elif kind == "error" and event.message_id in self.messages:
            self.messages[event.message_id].show_error(event.message, can_retry=event.kind == "crashed")

    def _render_dirty(self) -> None:
        dirty = [w for w in self.messages.values() if w.dirty]
        for widget in dirty:
            widget.render()
        if dirty and self.verticalScrollBar().value() >= self.verticalScrollBar().maximum() - 80:
            self.scroll_to_bottom()
        if not any(w.status == "streaming" for w in self.messages.values()):
            self.timer.stop()

    def set_sources(self, message_id: str, citations: list[dict]) -> None:
        widget = self.messages.get(message_id)
        if widget is not None:
            widget.set_sources(citations)

    def scroll_to_message(self, message_id: str) -> None:
        widget = self.messages.get(message_id)
        if widget is not None:
            self.ensureWidgetVisible(widget)
            widget.setFocus()
