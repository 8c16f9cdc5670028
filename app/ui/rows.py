"""List rows whose text wraps to the list's width and is never elided, at any width.

Qt sizes a word-wrapped row once, at the width it guessed, and elides what no longer fits when the list
narrows; `WrappingRows` asks the style where the text goes at the list's width now and makes the row as tall
as its wrapped text, and `wrap_rows` has the list lay its rows out again whenever it is resized.
"""

from __future__ import annotations

from typing import Any

from app.ui.qt import QListView, QRect, QSize, QStyle, QStyledItemDelegate, QStyleOptionViewItem, Qt

_TALL = 100_000  # px: a row "as tall as it likes", to ask the style where its text goes
TEXT_MARGIN = 4  # px each side: the style's own text margin (focus frame + 1), and a little more
PADDING = 6  # px above and below a row's text


def text_room(view: QListView, option: QStyleOptionViewItem) -> QRect:
    """Where the style draws the text of a row laid out in `option.rect`, less its text margins."""
    rect = view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, view)
    return rect.adjusted(TEXT_MARGIN, 0, -TEXT_MARGIN, 0)


def wrapped_height(option: QStyleOptionViewItem, width: int) -> int:
    """How tall `option.text` is, wrapped at `width` px in the row's font."""
    flags = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft
    return option.fontMetrics.boundingRect(QRect(0, 0, max(1, width), _TALL), flags, option.text).height()


class WrappingRows(QStyledItemDelegate):
    """Rows as tall as their text wrapped at the list's current width (and at least as tall as their icon)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:  # noqa: N802 (Qt's name)
        view = self.parent()
        assert isinstance(view, QListView)
        shown = QStyleOptionViewItem(option)
        self.initStyleOption(shown, index)
        width = view.viewport().width() - 2 * view.spacing()
        shown.rect = QRect(0, 0, width, _TALL)
        height = wrapped_height(shown, text_room(view, shown).width()) + 2 * PADDING
        if not shown.icon.isNull():
            height = max(height, shown.decorationSize.height() + PADDING)
        return QSize(width, height)


def wrap_rows(view: QListView) -> None:
    """Make `view`'s rows wrap their text at its width, never eliding it, and never scroll sideways."""
    view.setWordWrap(True)
    view.setTextElideMode(Qt.TextElideMode.ElideNone)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setItemDelegate(WrappingRows(view))
