"""A reply's confidence view: its text as plain text, the tokens the model gave less than 0.5 (`confidence.LOW`)
highlighted, each
token's probability and alternatives in a tooltip (plain text: they quote the model, or a remote server)."""

from __future__ import annotations

import bisect
import json
import math
from typing import Any

from app.core.confidence import TokenConfidence, spans
from app.ui.qt import QColor, QEvent, QFrame, QSizePolicy, Qt, QTextCursor, QTextEdit, QToolTip, QWidget
from app.ui.reply_view import plain_tooltip


def tooltip_text(token: TokenConfidence) -> str:
    """What hovering a token shows: its probability, then the most likely tokens at its place with theirs."""
    lines = [f"{_quoted(token.text)}  p = {token.p:.2f}", "Alternatives:"]
    lines += [f"  {_quoted(choice.text)}  {choice.p:.2f}" for choice in token.alternatives]
    return "\n".join(lines)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # spaces and line breaks visible; shown as plain text


class ConfidenceView(QTextEdit):
    """The reply's text, read-only and selectable, its low-probability tokens marked with extra selections (the
    text itself is never markup), as tall as its text (the thread scrolls, not the view)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(0)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._starts: list[int] = []  # each placed token's first position, as Qt counts them
        self._ends: list[int] = []
        self._tokens: list[TokenConfidence] = []

    def _fit(self, *_args: Any) -> None:
        height = max(1, math.ceil(self.document().size().height()) + 2 * self.frameWidth())
        if height != self.height():
            self.setFixedHeight(height)

    def show_tokens(self, text: str, tokens: list[TokenConfidence]) -> None:
        """Show `text` with `tokens` placed on it (`confidence.spans`); the runs under LOW are highlighted."""
        from app.ui.passage import HIGHLIGHT  # the passage view's marker colour (it imports document search)

        self.setPlainText(text)
        self._starts, self._ends, self._tokens = [], [], []
        at, counted = 0, 0  # a Python index and the same place in UTF-16 code units (Qt's positions)
        marks = []
        for begin, end, token in spans(text, tokens):
            start = counted + _utf16_length(text[at:begin])
            stop = start + _utf16_length(text[begin:end])
            at, counted = end, stop
            self._starts.append(start)
            self._ends.append(stop)
            self._tokens.append(token)
            if token.low:
                mark = QTextEdit.ExtraSelection()
                mark.format.setBackground(QColor(HIGHLIGHT))
                mark.format.setForeground(QColor("black"))
                cursor = self.textCursor()
                cursor.setPosition(start)
                cursor.setPosition(stop, QTextCursor.MoveMode.KeepAnchor)
                mark.cursor = cursor
                marks.append(mark)
        self.setExtraSelections(marks)

    def highlighted(self) -> list[str]:
        """The marked tokens' texts, in order (what a reader sees highlighted)."""
        return [mark.cursor.selectedText() for mark in self.extraSelections()]

    def token_at(self, position: int) -> TokenConfidence | None:
        """The token at a document position, if one was placed there."""
        index = bisect.bisect_right(self._starts, position) - 1
        if index >= 0 and position < self._ends[index]:
            return self._tokens[index]
        return None

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ToolTip:
            position = self.cursorForPosition(event.pos()).position()  # type: ignore[attr-defined]
            token = self.token_at(position)
            if token is None:
                QToolTip.hideText()
            else:
                where = event.globalPos()  # type: ignore[attr-defined]
                QToolTip.showText(where, plain_tooltip(tooltip_text(token)), self)
            return True
        return super().viewportEvent(event)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
