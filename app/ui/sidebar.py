"""The left column: workspaces, their threads grouped by date (pinned ones first), and search over the full-text
index of messages and documents."""

from __future__ import annotations

from datetime import datetime

from app.ui.qt import (
    QComboBox,
    QFont,
    QHBoxLayout,
    QKeySequence,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QShortcut,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import plain_tooltip
from app.ui.rows import wrap_rows

_PINNED = Qt.ItemDataRole.UserRole + 1
_PASSAGE = Qt.ItemDataRole.UserRole + 2  # a document passage the search found (its Hit)
_HEADING = Qt.ItemDataRole.UserRole + 3


def group_of(updated_at: str, now: datetime) -> str:
    """The sidebar's date group of a thread last updated at `updated_at` (ISO, UTC), in the local time of `now`:
    Today, Yesterday, Previous 7 days, Previous 30 days, or the month ("March 2025")."""
    try:
        when = datetime.fromisoformat(updated_at.replace("Z", "+00:00"))
    except ValueError:
        return "Older"  # an imported archive's odd date: listed, never a crash
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    days = (now.date() - when.astimezone(now.tzinfo).date()).days
    if days <= 0:
        return "Today"
    if days == 1:
        return "Yesterday"
    if days <= 7:
        return "Previous 7 days"
    if days <= 30:
        return "Previous 30 days"
    return when.strftime("%B %Y")


class Sidebar(QWidget):
    """Workspaces and threads; the window fills it from the store (in a worker) and reacts to its signals.

    Signals:
        workspace_changed: another workspace was picked (id).
        thread_selected: a thread was picked (id), or None for a new, empty thread.
        search_changed: the search text changed.
        rename_requested: rename this thread (id, new title).
        delete_requested: delete this thread (id).
        pin_requested: pin (True) or unpin this thread (id, pinned).
        passage_selected: a document passage found by the search was picked (its search hit).
    """

    workspace_changed = Signal(str)
    thread_selected = Signal(object)
    search_changed = Signal(str)
    rename_requested = Signal(str, str)
    delete_requested = Signal(str)
    pin_requested = Signal(str, bool)
    passage_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.workspaces = QComboBox()
        self.search = QLineEdit(placeholderText="Search threads…")
        self.search.setClearButtonEnabled(True)
        self.threads = QListWidget()
        self.threads.setEditTriggers(QListWidget.EditTrigger.EditKeyPressed | QListWidget.EditTrigger.DoubleClicked)
        wrap_rows(self.threads)  # titles wrap: never elided, never behind a horizontal scroll bar
        self.workspaces.setAccessibleName("Workspace")
        self.search.setAccessibleName("Search threads")
        self.threads.setAccessibleName("Threads")
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.threads, self._delete)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)  # F2 renames: the list's own edit key
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        self.pin_button = QPushButton("Pin")
        for button in (self.new_button, self.pin_button, self.rename_button, self.delete_button):
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
        self.pin_button.clicked.connect(self._pin)
        self.threads.currentItemChanged.connect(lambda item, _previous: self._show_pin(item))
        self._filling = False

    def set_workspaces(self, workspaces: list[dict], current: str) -> None:
        self.workspaces.blockSignals(True)
        self.workspaces.clear()
        for workspace in workspaces:
            self.workspaces.addItem(workspace["name"], workspace["id"])
        index = self.workspaces.findData(current)
        self.workspaces.setCurrentIndex(max(index, 0))
        self.workspaces.blockSignals(False)

    def set_threads(self, threads: list, selected: str | None, passages: list | None = None) -> None:
        """Show threads under their group headings (`group_of`); `passages`: document hits of a search, listed
        after them under "In documents"."""
        self._filling = True
        self.threads.blockSignals(True)
        self.threads.clear()
        now = datetime.now().astimezone()
        heading = None
        for thread in threads:
            group = "Pinned" if thread.pinned else group_of(thread.updated_at, now)
            if group != heading:
                self._heading(group)
                heading = group
            item = QListWidgetItem(("📌 " if thread.pinned else "") + thread.title)
            item.setData(Qt.ItemDataRole.UserRole, thread.id)
            item.setData(_PINNED, thread.pinned)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, thread.title)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            updated = thread.updated_at[:16].replace("T", " ")  # an imported archive's text: shown, never markup
            item.setToolTip(plain_tooltip(f"{thread.message_count} messages, updated {updated}"))
            self.threads.addItem(item)
            if thread.id == selected:
                self.threads.setCurrentItem(item)
        if passages:
            self._heading("In documents")
            for hit in passages:
                label = f"{hit.title}" + (f", {hit.location}" if hit.location else "")
                item = QListWidgetItem(f"📄 {label}")
                item.setData(_PASSAGE, hit)
                item.setToolTip(plain_tooltip(hit.snippet or hit.text[:200]))
                self.threads.addItem(item)
        self.threads.blockSignals(False)
        self._filling = False
        self._show_pin(self.threads.currentItem())

    def _heading(self, text: str) -> None:
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)  # a heading: never selected, never edited
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
        item.setData(_HEADING, True)
        self.threads.addItem(item)

    def thread_items(self) -> list[QListWidgetItem]:
        """The rows that are threads (not headings, not document passages), in order."""
        items = [self.threads.item(i) for i in range(self.threads.count())]
        return [item for item in items if item.data(Qt.ItemDataRole.UserRole)]

    def thread_titles(self) -> list[str]:
        return [item.data(Qt.ItemDataRole.AccessibleTextRole) for item in self.thread_items()]

    def headings(self) -> list[str]:
        """The group headings shown, in order."""
        items = [self.threads.item(i) for i in range(self.threads.count())]
        return [item.text() for item in items if item.data(_HEADING)]

    def _show_pin(self, item: QListWidgetItem | None) -> None:
        pinned = bool(item and item.data(_PINNED))
        self.pin_button.setText("Unpin" if pinned else "Pin")
        self.pin_button.setEnabled(bool(item and item.data(Qt.ItemDataRole.UserRole)))

    def _pin(self) -> None:
        item = self.threads.currentItem()
        if item and item.data(Qt.ItemDataRole.UserRole):
            self.pin_requested.emit(item.data(Qt.ItemDataRole.UserRole), not item.data(_PINNED))

    def current_thread(self) -> str | None:
        item = self.threads.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def start_new(self) -> None:
        self.threads.setCurrentRow(-1)  # no current thread: what setCurrentItem(None) does, which the stubs refuse
        self.thread_selected.emit(None)

    def _picked(self, current: QListWidgetItem | None, _previous: object) -> None:
        if self._filling or (current is not None and current.data(_HEADING)):
            return
        if current is not None and current.data(_PASSAGE) is not None:
            self.passage_selected.emit(current.data(_PASSAGE))
            return
        self.thread_selected.emit(current.data(Qt.ItemDataRole.UserRole) if current else None)

    def _rename(self) -> None:
        item = self.threads.currentItem()
        if item:
            self.threads.editItem(item)

    def _edited(self, item: QListWidgetItem) -> None:
        if not self._filling and item.data(Qt.ItemDataRole.UserRole):
            self.rename_requested.emit(item.data(Qt.ItemDataRole.UserRole), item.text().removeprefix("📌 "))

    def _delete(self) -> None:
        item = self.threads.currentItem()
        if item and item.data(Qt.ItemDataRole.UserRole):
            self.delete_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    def take_thread(self, thread_id: str) -> None:
        """Take a thread out of the list (it is being deleted; Undo lists it again with the next refresh)."""
        for row in range(self.threads.count()):
            if self.threads.item(row).data(Qt.ItemDataRole.UserRole) == thread_id:
                self.threads.takeItem(row)
                return
