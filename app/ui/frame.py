"""The main window's frame: the top-level window, on screen before the rest of the app is imported.

A launch shows the frame first, in the theme's background colour, and builds the window's contents into it
once the frame has painted (`app.ui.app.run_app`): importing the core and the panels takes longer than Python
and Qt themselves, and a window that appears at once feels like a fast start. This module imports only PySide6
and the Qt-free tokens, and must stay that light.
"""

from __future__ import annotations

import linecache
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow

from app.ui.tokens import colours

_MAX_SETTINGS_BYTES = 1024 * 1024  # as app.core.settings: a bigger file is not read, and the full check says why


def lighten_pyside_imports() -> None:
    """Keep PySide6 from holding the source of every module imported after it.

    PySide6 checks each new module for `from __feature__ import ...` by reading its source with
    `inspect.getsource`, which keeps every file in `linecache`: about 8 MB of text once the app is built, for the
    life of the process (it checked the modules loaded before it the same way). This makes the same check read
    each file once, keeping nothing, and lets go of what it kept so far. Where PySide6 does it some other way,
    nothing changes.
    """
    feature: Any = sys.modules.get("PySide6.support.feature")
    if feature is not None and callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = _uses_pyside
        linecache.clearcache()  # read again on demand, by a traceback


def _uses_pyside(module: ModuleType) -> bool:
    """Whether the module's source names PySide6 (so it may select features), as PySide6's own check says."""
    try:
        loader: Any = getattr(module, "__loader__", None)
        source = loader.get_source(module.__name__) if loader is not None else None
    except (ImportError, OSError, SyntaxError, AttributeError, TypeError):
        return False
    return isinstance(source, str) and "PySide6" in source


def theme_of(settings_file: Path) -> str:
    """The theme the settings file asks for, read without validating the rest: `system` when the file is missing
    or anything about it is wrong (the full check, a moment later, reports it)."""
    try:
        with settings_file.open("rb") as file:
            data = file.read(_MAX_SETTINGS_BYTES + 1)
        theme = tomllib.loads(data.decode("utf-8")).get("theme") if len(data) <= _MAX_SETTINGS_BYTES else None
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return "system"
    return theme if theme in ("light", "dark") else "system"


def frame_is_dark(theme: str) -> bool:
    """Whether the frame is drawn dark. For `system`, the desktop's own palette says: asking for the colour scheme
    (as `app.ui.theme` does, once the rest is built) loads the whole `Qt` namespace, 12 ms before the first paint."""
    if theme == "system":
        return QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
    return theme == "dark"


class Frame(QMainWindow):
    """The top-level window; its one child, the `MainWindow`, is set with `set_content` once it is built.

    Closing it asks the content first (`MainWindow.closeEvent`: close, or hide to the tray).

    Signals:
        painted: the frame painted for the first time; emitted from the event loop once that paint is done.
    """

    painted = Signal()

    def __init__(self, dark: bool) -> None:
        super().__init__()
        self.setWindowTitle("Roundtable")
        self.setObjectName("frame")
        self.resize(1280, 820)
        # the application's palette, which the full theme replaces once the contents are built
        palette = QApplication.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(colours(dark).window))
        QApplication.setPalette(palette)
        self._first_paint = _FirstPaint(self)
        self.installEventFilter(self._first_paint)

    def set_content(self, window: QMainWindow) -> None:
        """Make `window` (a QMainWindow with its own menus and status bar) the frame's whole contents."""
        self.setCentralWidget(window)  # reparented: now a child widget, shown with the frame
        window.show()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        content: Any = self.centralWidget()
        if content is not None and hasattr(content, "closeEvent"):
            content.closeEvent(event)
        if event.isAccepted():
            super().closeEvent(event)


class _FirstPaint(QObject):
    """Emits the frame's `painted` once, then takes itself off."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(frame)
        self.frame = frame

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.frame.removeEventFilter(self)
            QTimer.singleShot(0, self.frame.painted.emit)  # after this paint reaches the screen
        return False
