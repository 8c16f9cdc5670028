"""The main window's menus: File, Models, Go, Thread and Help, each action with its shortcut (the command palette
and the shortcuts sheet list them from here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.core.logs import log_folder
from app.ui.qt import QAction, QApplication, QDesktopServices, QKeySequence, Qt, QUrl
from app.ui.run_report import export_report, open_timeline

# opens the log folder (Help menu); tests swap it so nothing is opened
folder_opener: Callable[[QUrl], Any] = QDesktopServices.openUrl


def build_menus(window: Any) -> tuple[QAction, QAction]:
    """The menu bar of `window` (a MainWindow); returns the Thread menu's actions: Run timeline…, Export report…."""
    file_menu = window.menuBar().addMenu("&File")
    for label, shortcut, slot in (
        ("New thread", "Ctrl+N", window.sidebar.start_new),
        ("Settings…", "Ctrl+,", window.open_settings),
        ("Quit", "Ctrl+Q", QApplication.quit),
    ):
        action = QAction(label, window, shortcut=QKeySequence(shortcut))
        action.triggered.connect(slot)
        file_menu.addAction(action)
        if label == "Quit":
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # from any Roundtable window
    models = QAction("Model manager…", window, shortcut=QKeySequence("Ctrl+M"))
    models.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    models.triggered.connect(window.open_models)
    window.menuBar().addMenu("&Models").addAction(models)
    window.addAction(models)
    go = window.menuBar().addMenu("&Go")
    for label, shortcut, slot in (
        ("Command palette…", "Ctrl+K", window.open_palette),
        ("Message box", "Ctrl+L", window.composer.edit.setFocus),
        ("Thread search", "Ctrl+F", window.sidebar.search.setFocus),
    ):
        action = QAction(label, window, shortcut=QKeySequence(shortcut))
        action.triggered.connect(slot)
        go.addAction(action)
    thread_menu = window.menuBar().addMenu("&Thread")
    timeline = QAction("Run timeline…", window, shortcut=QKeySequence("Ctrl+Shift+T"))
    timeline.triggered.connect(lambda: open_timeline(window))
    report = QAction("Export report…", window, shortcut=QKeySequence("Ctrl+Shift+E"))
    report.triggered.connect(lambda: export_report(window))
    thread_menu.addActions([timeline, report])
    help_menu = window.menuBar().addMenu("&Help")
    shortcuts = QAction("Keyboard shortcuts", window, shortcut=QKeySequence("Ctrl+/"))
    shortcuts.triggered.connect(window.show_shortcuts)
    help_menu.addAction(shortcuts)
    logs = QAction("Open log folder", window)  # the folder is ours (app.core.logs): a local path, never a link
    logs.triggered.connect(lambda: folder_opener(QUrl.fromLocalFile(str(log_folder(window.ctx.paths)))))
    help_menu.addAction(logs)
    return timeline, report
