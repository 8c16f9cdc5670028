"""The command palette (Ctrl+K): type a few letters, jump to any thread, workspace or copilot, or run any menu
action; and the keyboard shortcuts list (Help → Keyboard shortcuts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from app.ui.qt import (
    QAction,
    QDialog,
    QIcon,
    QKeySequence,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from app.ui.rows import wrap_rows


@dataclass
class Entry:
    """Something the palette offers: what it shows (`kind` first: Thread, Workspace, Copilot, Action) and what
    choosing it does."""

    kind: str
    label: str
    run: Callable[[], None]
    icon: QIcon | None = None
    detail: str = ""  # a shortcut, or where it is

    def matches(self, typed: str) -> bool:
        """Every word typed appears in the label or the kind (any order, any case)."""
        haystack = f"{self.kind} {self.label} {self.detail}".casefold()
        return all(word in haystack for word in typed.casefold().split())


def menu_entries(menus: list[QMenu]) -> list[Entry]:
    """Every enabled action of these menus (and their submenus), as palette entries."""
    entries: list[Entry] = []

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} › {action.text().replace('&', '')}")  # type: ignore[arg-type]
            elif action.text() and not action.isSeparator() and action.isEnabled():
                shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                label = action.text().replace("&", "").rstrip("…")
                entries.append(Entry("Action", label, action.trigger, None, shortcut or path))

    for menu in menus:
        walk(menu, menu.title().replace("&", ""))
    return entries


class CommandPalette(QDialog):
    """A filter box over the entries; Enter (or a click) runs the highlighted one, Escape closes."""

    def __init__(self, entries: list[Entry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Go to or run…")
        self.setAccessibleName("Command palette")
        self.entries = entries
        layout = QVBoxLayout(self)
        self.filter = QLineEdit(placeholderText="Type a thread, workspace, copilot or action…")
        self.filter.setAccessibleName("Search the command palette")
        self.list = QListWidget()
        self.list.setAccessibleName("Matching entries")
        wrap_rows(self.list)  # entries wrap: never elided
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        self.filter.textChanged.connect(self._refill)
        self.filter.returnPressed.connect(self.run_current)
        self.list.itemActivated.connect(lambda _item: self.run_current())
        self.filter.installEventFilter(self)
        self.resize(560, 420)
        self._refill("")

    def shown(self) -> list[str]:
        """The entries listed now, as their rows read."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _refill(self, typed: str) -> None:
        self.list.clear()
        for entry in self.entries:
            if entry.matches(typed):
                text = f"{entry.kind}: {entry.label}" + (f"    {entry.detail}" if entry.detail else "")
                item = QListWidgetItem(text)
                if entry.icon is not None:
                    item.setIcon(entry.icon)
                item.setData(Qt.ItemDataRole.UserRole, self.entries.index(entry))
                self.list.addItem(item)
        self.list.setCurrentRow(0)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        """Up and Down in the filter box move through the list."""
        if watched is self.filter and event.type() == event.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.list.count():
                step = 1 if key == Qt.Key.Key_Down else -1
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + step)))
                return True
        return super().eventFilter(watched, event)

    def run_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        entry = self.entries[item.data(Qt.ItemDataRole.UserRole)]
        self.accept()
        entry.run()


# shortcuts that are no menu action's (menu actions list their own)
OTHER_SHORTCUTS = [
    ("Enter", "Send the message"),
    ("Shift+Enter", "New line in the message"),
    ("@", "Pick a copilot to ask (completes names)"),
    ("Escape", "Close the overlay, a dialog or the palette"),
    ("F2", "Rename the selected thread"),
    ("Delete", "Delete the selected thread (Undo for 8 seconds)"),
]


def shortcut_rows(actions: list[QAction], overlay_shortcut: str) -> list[tuple[str, str]]:
    """(keys, what they do) for every shortcut: the actions', the overlay's global one, and the others."""
    rows = []
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    if overlay_shortcut:
        rows.append((overlay_shortcut, "Ask a copilot from anywhere (the overlay)"))
    return rows + OTHER_SHORTCUTS


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: every shortcut in one table."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Every shortcut in Roundtable:"))
        self.table = QTableWidget(len(rows), 2)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Keys", "What it does"])
        self.table.verticalHeader().setVisible(False)
        for row, (keys, what) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        self.resize(520, 420)


def window_entries(window: Any) -> list[Entry]:
    """What the main window's palette offers: its threads, workspaces, copilots (choosing one starts a message
    to it) and menu actions."""
    from app.ui.design import avatar_icon

    entries: list[Entry] = []
    threads = window.sidebar.threads
    for item in window.sidebar.thread_items():
        title = item.data(Qt.ItemDataRole.AccessibleTextRole)
        entries.append(Entry("Thread", title, partial(threads.setCurrentItem, item)))
    spaces = window.sidebar.workspaces
    for index in range(spaces.count()):
        entries.append(Entry("Workspace", spaces.itemText(index), partial(spaces.setCurrentIndex, index)))
    for copilot in window.copilots.values():
        icon = avatar_icon(copilot.name, copilot.color)
        entries.append(Entry("Copilot", f"Ask {copilot.name}", partial(window.address, copilot.id), icon))
    menus = [action.menu() for action in window.menuBar().actions() if action.menu() is not None]
    return entries + [e for e in menu_entries(menus) if e.label != "Command palette"]
