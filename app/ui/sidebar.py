"""The left column: workspaces, their threads, and search."""

from __future__ import annotations

from app.ui.qt import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import plain_tooltip


class Sidebar(QWidget):
    """Workspaces and threads; the window fills it from the store (in a worker) and reacts to its signals.

    Signals:
        workspace_changed: another workspace was picked (id).
        thread_selected: a thread was picked (id), or None for a new, empty thread.
        search_changed: the search text changed.
        rename_requested: rename this thread (id, new title).
        delete_requested: delete this thread (id).
    """

    workspace_changed = Signal(str)
    thread_selected = Signal(object)
    search_changed = Signal(str)
    rename_requested = Signal(str, str)
    delete_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.workspaces = QComboBox()
        self.search = QLineEdit(placeholderText="Search threads…")
        self.search.setClearButtonEnabled(True)
        self.threads = QListWidget()
        self.threads.setEditTriggers(QListWidget.EditTrigger.EditKeyPressed | QListWidget.EditTrigger.DoubleClicked)
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        for button in (self.new_button, self.rename_button, self.delete_button):
            buttons.addWidget(button)
        layout.addWidget(self.workspaces)
        layout.addWidget(self.search)
        layout.addWidget(self.threads, 1)
        layout.addLayout(buttons)
        self.workspaces.currentIndexChanged.connect(
            lambda _i: self.workspace_changed.emit(self.workspaces.currentData() or "default")
        )
        self.search.textChanged.connect(self.search_changed)
        self.threads.currentItemChanged.connect(self._picked)
        self.threads.itemChanged.connect(self._edited)
        self.new_button.clicked.connect(self.start_new)
        self.rename_button.clicked.connect(self._rename)
        self.delete_button.clicked.connect(self._delete)
        self._filling = False

    def set_workspaces(self, workspaces: list[dict], current: str) -> None:
        self.workspaces.blockSignals(True)
        self.workspaces.clear()
        for workspace in workspaces:
            self.workspaces.addItem(workspace["name"], workspace["id"])
        index = self.workspaces.findData(current)
        self.workspaces.setCurrentIndex(max(index, 0))
        self.workspaces.blockSignals(False)

    def set_threads(self, threads: list, selected: str | None) -> None:
        self._filling = True
        self.threads.blockSignals(True)
        self.threads.clear()
        for thread in threads:
            item = QListWidgetItem(thread.title)
            item.setData(Qt.ItemDataRole.UserRole, thread.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            updated = thread.updated_at[:16].replace("T", " ")  # an imported archive's text: shown, never markup
            item.setToolTip(plain_tooltip(f"{thread.message_count} messages, updated {updated}"))
            self.threads.addItem(item)
            if thread.id == selected:
                self.threads.setCurrentItem(item)
        self.threads.blockSignals(False)
        self._filling = False

    def current_thread(self) -> str | None:
        item = self.threads.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def start_new(self) -> None:
        self.threads.setCurrentRow(-1)  # no current thread: what setCurrentItem(None) does, which the stubs refuse
        self.thread_selected.emit(None)

    def _picked(self, current: QListWidgetItem | None, _previous: object) -> None:
        if not self._filling:
            self.thread_selected.emit(current.data(Qt.ItemDataRole.UserRole) if current else None)

    def _rename(self) -> None:
        item = self.threads.currentItem()
        if item:
            self.threads.editItem(item)

    def _edited(self, item: QListWidgetItem) -> None:
        if not self._filling:
            self.rename_requested.emit(item.data(Qt.ItemDataRole.UserRole), item.text())

    def _delete(self) -> None:
        item = self.threads.currentItem()
        if item:
            self.delete_requested.emit(item.data(Qt.ItemDataRole.UserRole))
