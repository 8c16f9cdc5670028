"""One message in a thread (its author, text, status, sources and confidence), the cards between messages,
and a reply's details dialog."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from app.core.confidence import LOW, NO_DATA, ReplyConfidence
from app.core.crew.transcript import citation_label, status_word, usage_text
from app.core.providers.base import Citation, Usage
from app.ui.confidence_view import ConfidenceView
from app.ui.design import SPACE, avatar, readable
from app.ui.qt import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import ReplyView
from app.ui.tokens import colours


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
