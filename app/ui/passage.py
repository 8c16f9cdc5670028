"""A passage of a document, opened from a reply's sources or a search result: where it comes from, who cited it,
and its text with the words it was found for highlighted. Everything shown is plain text: a document is data."""

from __future__ import annotations

from app.core.knowledge.search import matched_spans
from app.ui.qt import (
    QColor,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    Qt,
    QTextCursor,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

HIGHLIGHT = "#ffe58a"  # a marker-pen yellow, readable under dark and light text alike


class PassageDialog(QDialog):
    """One passage, read-only and selectable, with the words of `query` marked.

    Attributes:
        where: the document's name and the passage's page or section.
        cited_by: the copilot that used the passage (hidden when none is named).
        text: the passage itself, as plain text.
    """

    def __init__(
        self,
        parent: QWidget | None,
        source: str,
        location: str | None,
        passage: str,
        query: str | None = None,
        copilot: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(source)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(560, 380)
        layout = QVBoxLayout(self)
        self.where = QLabel(f"{source} — {location}" if location else source)
        self.cited_by = QLabel(f"Cited by {copilot}" if copilot else "")
        self.cited_by.setVisible(bool(copilot))
        self.found_for = QLabel(f"Found for: {query}" if query else "")
        self.found_for.setVisible(bool(query))
        for label in (self.where, self.cited_by, self.found_for):
            label.setTextFormat(Qt.TextFormat.PlainText)  # names and questions quote documents and replies
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
        self.where.setStyleSheet("font-weight: bold")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlainText(passage)  # never parsed as markup, whatever the document holds
        layout.addWidget(self.text, 1)
        self._mark(matched_spans(passage, query) if query else [])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _mark(self, spans: list[tuple[int, int]]) -> None:
        """Highlight the spans as extra selections: the text itself stays plain, nothing is inserted into it."""
        marks = []
        for start, end in spans:
            start, end = _utf16(self.text.toPlainText(), start), _utf16(self.text.toPlainText(), end)
            mark = QTextEdit.ExtraSelection()
            mark.format.setBackground(QColor(HIGHLIGHT))
            mark.format.setForeground(QColor("black"))
            cursor = self.text.textCursor()
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            mark.cursor = cursor
            marks.append(mark)
        self.text.setExtraSelections(marks)
        if marks:  # the first match in view, not the top of a long passage
            self.text.setTextCursor(QTextCursor(marks[0].cursor.block()))
            self.text.ensureCursorVisible()

    def highlighted(self) -> list[str]:
        """The marked words, in order (what a reader sees highlighted)."""
        return [mark.cursor.selectedText() for mark in self.text.extraSelections()]


def _utf16(text: str, index: int) -> int:
    """A Python string index as Qt counts it (UTF-16 code units: a character beyond the BMP counts twice)."""
    return len(text[:index].encode("utf-16-le")) // 2


def show_passage(
    parent: QWidget,
    source: str,
    location: str | None,
    passage: str,
    query: str | None = None,
    copilot: str | None = None,
) -> PassageDialog:
    """Open a passage beside the window (not modal: the reply stays readable under it)."""
    dialog = PassageDialog(parent, source, location, passage, query, copilot)
    dialog.show()
    return dialog
