"""Find text a person could not read whole: labels, buttons, tabs, group titles, combo boxes and list rows that
are elided or clipped, widgets pushed out of their window, and horizontal scroll bars where none belongs.

Each check compares the room a widget has with what its text needs, in the widget's own font; only widgets a
person can see count (shown, inside the window, not scrolled out of view).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtGui import Qt as QtGuiNames
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QListView,
    QPushButton,
    QRadioButton,
    QStyle,
    QStyleOptionComboBox,
    QStyleOptionViewItem,
    QTabBar,
    QToolButton,
    QWidget,
)

SLACK = 1  # px: rounding between a font's metrics and where Qt draws


def _name(widget: QWidget) -> str:
    named = widget.objectName() or widget.accessibleName()
    if not named and isinstance(widget, QLabel | QAbstractButton):
        named = repr(widget.text()[:30])
    return f"{type(widget).__name__}#{named or '?'}"


def _seen(widget: QWidget, window: QWidget) -> bool:
    """Shown, and at least partly inside the window (a widget scrolled out of view is not clipped)."""
    if not widget.isVisible() or widget.width() <= 0 or widget.height() <= 0:
        return False
    top_left = widget.mapTo(window, widget.rect().topLeft())
    return QRect(top_left, widget.size()).intersects(window.rect())


def _label(label: QLabel) -> str | None:
    text = label.text()
    if not text or label.pixmap() is not None and not label.pixmap().isNull():
        return None
    room = label.contentsRect()
    margin = 2 * label.margin() + max(0, label.indent())
    width = room.width() - margin
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and QtGuiNames.mightBeRichText(text)
    )
    if rich:
        document = QTextDocument()
        document.setDefaultFont(label.font())
        document.setDocumentMargin(0)
        document.setHtml(text)
        if not label.wordWrap():
            if document.idealWidth() > width + SLACK:
                return f"needs {document.idealWidth():.0f} px wide, has {width}"
            return None
        document.setTextWidth(width)
        if document.size().height() > room.height() + SLACK:
            return f"needs {document.size().height():.0f} px high at {width} px, has {room.height()}"
        return None
    metrics = QFontMetrics(label.font())
    if label.wordWrap():
        needed = label.heightForWidth(label.width())
        if needed > label.height() + SLACK:
            return f"needs {needed} px high at {label.width()} px, has {label.height()}"
        return None
    widest = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
    if widest > width + SLACK:
        return f"'{text[:40]}' needs {widest} px wide, has {width}"
    return None


def _button(button: QAbstractButton) -> str | None:
    if not button.text():
        return None
    if isinstance(button, QPushButton | QCheckBox | QRadioButton) or (
        isinstance(button, QToolButton) and button.toolButtonStyle() != Qt.ToolButtonStyle.ToolButtonIconOnly
    ):
        metrics = QFontMetrics(button.font())
        text = button.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        needed = metrics.horizontalAdvance(text)
        if isinstance(button, QCheckBox | QRadioButton):
            needed += 24  # the box and its gap
        if not button.icon().isNull():
            needed += button.iconSize().width() + 4
        if needed > button.width() + SLACK:
            return f"'{text[:40]}' needs {needed} px wide, has {button.width()}"
    return None


def _tabs(bar: QTabBar) -> str | None:
    for i in range(bar.count()):
        text = bar.tabText(i).replace("&", "")
        needed = QFontMetrics(bar.font()).horizontalAdvance(text)
        room = bar.tabRect(i)
        if not room.isValid() or not bar.rect().contains(room):
            return f"tab '{text}' is out of view (scrolled)"
        if needed > room.width() - 8:
            return f"tab '{text}' needs {needed} px, has {room.width()}"
    return None


def _group(box: QGroupBox) -> str | None:
    needed = QFontMetrics(box.font()).horizontalAdvance(box.title().replace("&", ""))
    if box.title() and needed > box.width() - 8:
        return f"title '{box.title()}' needs {needed} px, has {box.width()}"
    return None


def _combo(combo: QComboBox) -> str | None:
    if combo.isEditable() or not combo.currentText():
        return None
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, combo
    )
    needed = QFontMetrics(combo.font()).horizontalAdvance(combo.currentText())
    if not combo.itemIcon(combo.currentIndex()).isNull():
        needed += combo.iconSize().width() + 4
    if needed > field.width() + SLACK:
        return f"'{combo.currentText()[:40]}' needs {needed} px, has {field.width()}"
    return None


def _rows(view: QAbstractItemView) -> list[str]:
    """Cells whose text the view elides: a list's rows, a tree's or table's top-level cells (each beside its icon)."""
    model = view.model()
    if model is None or isinstance(view, QHeaderView):
        return []
    if isinstance(view, QListView) and view.wordWrap():
        return _wrapped_rows(view)
    if view.textElideMode() == Qt.TextElideMode.ElideNone:
        return []
    problems: list[str] = []
    metrics = QFontMetrics(view.font())
    viewport = view.viewport().rect()
    for row in range(min(model.rowCount(QModelIndex()), 200)):
        for column in [view.modelColumn()] if isinstance(view, QListView) else range(model.columnCount()):
            index = model.index(row, column, QModelIndex())
            rect = view.visualRect(index)
            if not rect.isValid() or not viewport.intersects(rect) or view.indexWidget(index) is not None:
                continue
            text = str(index.data() or "")
            if not text:
                continue
            icon = index.data(Qt.ItemDataRole.DecorationRole) is not None
            needed = max(metrics.horizontalAdvance(line) for line in text.split("\n")) + 8
            needed += view.iconSize().width() + 4 if icon and view.iconSize().width() > 0 else (16 if icon else 0)
            room = min(rect.right(), viewport.right()) - rect.left()
            if needed > room + SLACK:
                problems.append(f"cell '{text[:40]}' needs {needed} px, has {room}")
    return problems


def _wrapped_rows(view: QListView) -> list[str]:
    """Rows of a word-wrapping list whose wrapped text is taller than the room the style gives it."""
    problems: list[str] = []
    model = view.model()
    viewport = view.viewport().rect()
    for row in range(min(model.rowCount(QModelIndex()), 200)):
        index = model.index(row, view.modelColumn(), QModelIndex())
        rect = view.visualRect(index)
        if not rect.isValid() or not viewport.intersects(rect) or view.indexWidget(index) is not None:
            continue
        option = QStyleOptionViewItem()
        option.initFrom(view)
        view.itemDelegateForIndex(index).initStyleOption(option, index)
        option.rect = rect
        room = view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, view)
        width = room.width() - 6  # the style's text margins (focus frame + 1, each side)
        flags = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft
        needed = option.fontMetrics.boundingRect(QRect(0, 0, max(1, width), 100_000), flags, option.text).height()
        if needed > room.height() + SLACK or rect.right() > viewport.right() + SLACK:
            problems.append(f"row '{option.text[:40]}' needs {needed} px high at {width} px, has {room.height()}")
    return problems


def clipped(window: QWidget) -> list[str]:
    """Every piece of text in `window` that does not fit where it is drawn, as 'Widget#name: why'."""
    problems: list[str] = []
    for widget in [window, *window.findChildren(QWidget)]:
        if not _seen(widget, window):
            continue
        why: str | None = None
        if isinstance(widget, QLabel):
            why = _label(widget)
        elif isinstance(widget, QAbstractButton):
            why = _button(widget)
        elif isinstance(widget, QTabBar):
            why = _tabs(widget)
        elif isinstance(widget, QGroupBox):
            why = _group(widget)
        elif isinstance(widget, QComboBox):
            why = _combo(widget)
        elif isinstance(widget, QAbstractItemView):
            problems += [f"{_name(widget)}: {row}" for row in _rows(widget)]
        if why:
            problems.append(f"{_name(widget)}: {why}")
        parent = widget.parentWidget()
        if (
            parent is not None
            and widget is not window
            and not widget.isWindow()
            and not isinstance(parent.parentWidget(), QAbstractScrollArea)  # a scroll area's content may be larger
            and not parent.rect().contains(widget.geometry())
        ):
            problems.append(f"{_name(widget)}: pushed out of {_name(parent)} ({widget.geometry()} in {parent.rect()})")
    return problems


def horizontal_scroll_bars(*areas: QAbstractScrollArea) -> list[str]:
    return [f"{_name(area)}: a horizontal scroll bar shows" for area in areas if area.horizontalScrollBar().isVisible()]
