"""The one place that imports the Qt binding; the rest of app.ui imports Qt names from here.

QtNetwork (only the single-instance pipe on Windows uses it) is imported when one of its names is first asked for:
elsewhere the app runs without it (start-up time, ~6 MB).
"""

import importlib
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QObject,
    QRect,
    QSize,
    QSocketNotifier,
    QStandardPaths,
    QStringListModel,
    Qt,
    QThread,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QCursor,
    QDesktopServices,
    QFont,
    QGuiApplication,
    QIcon,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPaintDevice,
    QPainter,
    QPalette,
    QPixmap,
    QShortcut,
    QStandardItem,
    QStandardItemModel,
    QTextCursor,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStatusBar,
    QStyle,
    QStyledItemDelegate,
    QStyleFactory,
    QStyleOptionViewItem,
    QSystemTrayIcon,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QTextEdit,
    QToolButton,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

if TYPE_CHECKING:
    from PySide6.QtGui import QPageSize, QPdfWriter
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

# imported when first asked for: only a report's PDF, or the instance pipe on Windows, needs them
_LATER = {
    "QLocalServer": "PySide6.QtNetwork",
    "QLocalSocket": "PySide6.QtNetwork",
    "QPageSize": "PySide6.QtGui",
    "QPdfWriter": "PySide6.QtGui",
}

__all__ = [name for name in dir() if name.startswith("Q") or name in ("Qt", "Signal", "Slot", "isValid")] + list(_LATER)


def __getattr__(name: str) -> Any:
    """A name of `_LATER`, from its module, imported now."""
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LATER[name]), name)
    globals()[name] = value
    return value
