"""The message box: Enter sends, Shift+Enter breaks the line, @ completes copilot names, files drop in."""

from __future__ import annotations

from pathlib import Path

from app.ui.design import avatar_icon
from app.ui.qt import (
    QCompleter,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QStandardItem,
    QStandardItemModel,
    Qt,
    QWidget,
    Signal,
)

_MAX_DROPPED_BYTES = 512 * 1024


class PromptEdit(QPlainTextEdit):
    """The text field.

    Signals:
        submitted: Enter was pressed.
        problem: something could not be done (a file that is not text); the message says what.
    """

    submitted = Signal()
    problem = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Ask the crew… (@name to pick a copilot, Enter to send, Shift+Enter for a new line)")
        self.setAcceptDrops(True)
        self.names = QStandardItemModel(self)  # the @names on offer, with avatars (kept: `completer.model()` is typed
        self.completer = QCompleter(self.names, self)  # as the base model)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.activated.connect(self._complete)
        self.setMaximumHeight(110)

    def set_names(self, copilots: list[tuple[str, str, str]]) -> None:
        """The copilots `@` completes, as (id, name, colour): each offered as `@id` with its avatar and name."""
        self.names.clear()
        for copilot_id, name, colour in copilots:
            item = QStandardItem(avatar_icon(name, colour, 20), f"@{copilot_id}")
            item.setToolTip(name)
            item.setData(f"@{copilot_id} ({name})", Qt.ItemDataRole.AccessibleTextRole)
            self.names.appendRow(item)

    def offered(self) -> list[str]:
        """The @names on offer, in order."""
        return [self.names.item(row).text() for row in range(self.names.rowCount())]

    def _word_before_cursor(self) -> str:
        cursor = self.textCursor()
        words = cursor.block().text()[: cursor.positionInBlock()].split()
        return words[-1] if words else ""

    def _complete(self, choice: str) -> None:
        word = self._word_before_cursor()
        cursor = self.textCursor()
        for _ in word:
            cursor.deletePreviousChar()
        cursor.insertText(choice + " ")
        self.setTextCursor(cursor)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        popup = self.completer.popup()
        assert popup is not None  # QCompleter makes its default popup on first use; never None here
        if popup.isVisible() and event.key() in (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Tab):
            event.ignore()
            return
        if event.key() in (Qt.Key.Key_Enter, Qt.Key.Key_Return) and not event.modifiers():
            self.submitted.emit()
            return
        super().keyPressEvent(event)
        word = self._word_before_cursor()
        if word.startswith("@"):
            self.completer.setCompletionPrefix(word)
            rect = self.cursorRect()
            rect.setWidth(200)
            self.completer.complete(rect)
        else:
            popup.hide()

    def canInsertFromMimeData(self, source) -> bool:  # noqa: N802
        return source.hasUrls() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source) -> None:  # noqa: N802
        if not source.hasUrls():
            super().insertFromMimeData(source)
            return
        for url in source.urls():
            self.insert_file(Path(url.toLocalFile()))

    def insert_file(self, path: Path) -> None:
        """Put a text file's content into the message, fenced and named."""
        try:
            if path.stat().st_size > _MAX_DROPPED_BYTES:
                raise ValueError(f"{path.name} is larger than {_MAX_DROPPED_BYTES // 1024} KB")
            text = path.read_bytes().decode("utf-8")
            if "\0" in text:
                raise ValueError(f"{path.name} is not a text file")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.problem.emit(f"Cannot add {path.name}: {exc if isinstance(exc, ValueError) else 'not UTF-8 text'}")
            return
        self.insertPlainText(f"\n```{path.name}\n{text.rstrip()}\n```\n")


class Composer(QWidget):
    """The prompt box with its Send/Stop button.

    Signals:
        send: the user sent this text.
        stop: the user pressed Stop.
    """

    send = Signal(str)
    stop = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = PromptEdit()
        self.edit.setAccessibleName("Message")
        self.button = QPushButton("Send")
        self.button.setProperty("role", "primary")
        self.button.setMinimumWidth(80)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)
        self.edit.submitted.connect(self._send)
        self.button.clicked.connect(self._clicked)
        self.busy = False

    def _clicked(self) -> None:
        if self.busy:
            self.stop.emit()
        else:
            self._send()

    def _send(self) -> None:
        text = self.edit.toPlainText().strip()
        if text and not self.busy:
            self.edit.clear()
            self.send.emit(text)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.button.setText("Stop" if busy else "Send")
