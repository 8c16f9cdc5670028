"""Rich text that stays data: replies rendered from Markdown, links opened only by our own handler.

`SafeBrowser` never loads a resource (no image from file: or the network, no stylesheet), never follows a link
itself, and hands a clicked link to `opener` only if it is http, https or mailto; the target is shown on hover
first. `ReplyView` adds streaming: a finished Markdown block is rendered once, only the open block again.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any, overload

from app.ui.markdown_view import MarkdownBlocks, block_html, code_blocks, safe_link
from app.ui.qt import (
    QApplication,
    QByteArray,
    QCursor,
    QDesktopServices,
    QFrame,
    QImage,
    QObject,
    QPaintDevice,
    QPainter,
    QSizePolicy,
    Qt,
    QTextBrowser,
    QTextDocument,
    QToolTip,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)

# Where a link the user clicked goes once it passed `safe_link`. Tests put a recorder here: nothing is opened.
opener: Callable[[QUrl], Any] = QDesktopServices.openUrl


def open_link(url: str) -> bool:
    """Open `url` with `opener` if it is http, https or mailto; file:, smb:, UNC and other schemes never are."""
    target = safe_link(url)
    if target is None:
        return False
    opener(QUrl(target))
    return True


_NO_IMAGE = QImage(1, 1, QImage.Format.Format_ARGB32)
_NO_IMAGE.fill(0)


COPY_SCHEME = "copy:"  # our Copy buttons over code blocks; a reply's own links never keep it (safe_link)
CARET = "▍"  # at the end of a reply while it streams
_CODE = '<div class="codehilite"'
_COPY_HTML = (
    '<table width="100%" cellspacing="0" cellpadding="0"><tr><td align="right">'
    '<a href="copy:{n}" style="text-decoration:none">Copy</a></td></tr></table>'
)


def with_copy_buttons(block: str, fences: list[int]) -> str:
    """A block's HTML with a Copy link over each code block that opens in it (`fences`: their numbers)."""
    if not fences:
        return block
    parts = block.split(_CODE)
    if len(parts) - 1 != len(fences):  # not one highlighted block per fence: the links go above the block
        return "".join(_COPY_HTML.format(n=n) for n in fences) + block
    return parts[0] + "".join(_COPY_HTML.format(n=n) + _CODE + part for n, part in zip(fences, parts[1:], strict=True))


def with_caret(html_text: str) -> str:
    """`html_text` with the streaming caret after its last words."""
    end = html_text.rstrip()
    if end.endswith("</p>"):
        return end[: -len("</p>")] + CARET + "</p>"
    return html_text + f"<p>{CARET}</p>"


def plain_tooltip(text: str) -> str:
    """`text` as a tooltip that shows it literally (Qt guesses tooltips to be rich text when they look like it)."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


class SafeBrowser(QTextBrowser):
    """A read-only rich-text view for text we did not write.

    Attributes:
        refused_resources: every resource the document asked for (none is ever loaded).

    Signals:
        link_hovered: the target of the link under the mouse, '' when it leaves (for a status bar).
    """

    link_hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.refused_resources: list[str] = []
        self.setOpenLinks(False)  # a click must never make the browser load the target as a document
        self.setOpenExternalLinks(False)  # ... nor go to the OS without our check
        self.anchorClicked.connect(self._clicked)
        self.highlighted.connect(self._hovered)
        self.document().setUndoRedoEnabled(False)  # read-only: an undo stack would only grow

    def loadResource(self, kind: int, name: QUrl | str) -> Any:  # noqa: N802 (Qt's name)
        # Never null: on a null value QTextDocument reads file: URLs itself, and Qt's image handler loads the
        # image's name as a file path (\\\\host\\share on Windows too) unless it was given an image.
        # Qt passes a QUrl; the binding also lets Python callers pass a str.
        self.refused_resources.append(name.toString() if isinstance(name, QUrl) else name)
        if kind == QTextDocument.ResourceType.ImageResource:
            return _NO_IMAGE
        return QByteArray()

    def _clicked(self, url: QUrl) -> None:
        open_link(url.toString())

    def _hovered(self, url: QUrl) -> None:
        target = url.toString() if not url.isEmpty() else ""
        if target.startswith(COPY_SCHEME):  # our own button, not a place to go
            QToolTip.showText(QCursor.pos(), "Copy this code", self)
            self.link_hovered.emit("")
            return
        if target:
            QToolTip.showText(QCursor.pos(), plain_tooltip(target), self)
        else:
            QToolTip.hideText()
        self.link_hovered.emit(target)


class _Piece(SafeBrowser):
    """A part of a reply, as tall as its text, without scroll bars or frame (it sits in a card)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replyPiece")  # the stylesheet draws no box of its own: the card is the box
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)  # the card shows through (a palette, not a style sheet: cheaper)
        self.document().setDocumentMargin(0)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def _fit(self, *_args: Any) -> None:
        height = max(1, math.ceil(self.document().size().height()) + 2 * self.frameWidth())
        if height != self.height():
            self.setFixedHeight(height)


class ReplyView(QWidget):
    """A message's Markdown, shown in pieces of about `PIECE_CHARS` of text stacked one under the other.

    While a reply streams, each `render` re-renders only the open Markdown block and re-sets only the last
    piece; a full piece is never touched again. So an update costs the same at 200 KB as at 2 KB. A stored
    message is cut into the same blocks and pieces (`show_markdown`), so it looks exactly as it streamed.

    Each code block has a *Copy* link over it that puts its code on the clipboard; while the reply streams, a
    caret follows its last words.

    Attributes:
        dark: render code for a dark background.
        pieces: the rich-text views, in order.

    Signals:
        link_hovered: the target of the link under the mouse, '' when it leaves (for a status bar).
        copied: a code block's code was put on the clipboard (the code).
    """

    link_hovered = Signal(str)
    copied = Signal(str)
    PIECE_CHARS = 1536

    def __init__(self, dark: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dark = dark
        self.pieces: list[SafeBrowser] = []
        self._watchers: list[QObject] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        self.begin()

    @property
    def text(self) -> str:
        """The Markdown shown so far (the one copy of it: callers read it here)."""
        return self.blocks.text

    def watch_pieces(self, watcher: QObject) -> None:
        """Filter the events of every piece, now and later, through `watcher` (the pieces take the keyboard)."""
        self._watchers.append(watcher)
        for piece in self.pieces:
            piece.installEventFilter(watcher)

    def toPlainText(self) -> str:  # noqa: N802 (the name QTextEdit gives it)
        return "\n".join(piece.toPlainText() for piece in self.pieces)

    def begin(self, placeholder_html: str = "<i>…</i>") -> None:
        """Start afresh with `placeholder_html` (ours) shown until the first text arrives."""
        for piece in self.pieces:
            self._layout.removeWidget(piece)
            piece.deleteLater()
        self.pieces = []
        self.blocks = MarkdownBlocks()
        self._html: list[str] = []  # the finished blocks of the last piece, as HTML
        self._chars = 0  # ... and their length as Markdown
        self._new_piece().setHtml(placeholder_html)

    def show_markdown(self, text: str) -> None:
        """The whole of a stored message at once."""
        self.begin("")
        self.append(text)
        self.render(final=True)

    def append(self, delta: str) -> None:
        self.blocks.feed(delta)

    @overload
    def render(self, final: bool = False) -> None: ...
    @overload
    def render(self, target: QPaintDevice | QPainter, /, *args: Any, **kwargs: Any) -> None: ...

    def render(self, *args: Any, **kwargs: Any) -> None:
        """Show the blocks finished since the last call and the open one (`final`: the reply is complete).

        The name is QWidget's too: called with a paint device or painter, it is QWidget.render, which still works.
        """
        if args and not isinstance(args[0], bool):
            super().render(*args, **kwargs)
            return
        final: bool = args[0] if args else kwargs.get("final", False)
        blocks = self.blocks.take(final)
        for block, fences in zip(blocks, self.blocks.taken_fences, strict=True):
            if self._chars >= self.PIECE_CHARS:
                self.pieces[-1].setHtml("".join(self._html))  # this piece is full: drop the old open block from it
                self._new_piece()
                self._html, self._chars = [], 0
            self._html.append(with_copy_buttons(block_html(block, self.dark), fences))
            self._chars += len(block)
        if final:
            self.pieces[-1].setHtml("".join(self._html))
            return
        tail = self.blocks.tail
        if self._html or tail.strip():
            shown = with_copy_buttons(block_html(tail, self.dark), self.blocks.open_fences) if tail.strip() else ""
            self.pieces[-1].setHtml(with_caret("".join(self._html) + shown))

    def copy_code(self, number: int) -> str:
        """Put code block `number` (from 0) on the clipboard; returns its code ('' if there is no such block)."""
        found = code_blocks(self.text)
        code = found[number] if 0 <= number < len(found) else ""
        if code:
            QApplication.clipboard().setText(code)
            self.copied.emit(code)
        return code

    def _anchor(self, url: QUrl) -> None:
        target = url.toString()
        if target.startswith(COPY_SCHEME) and target[len(COPY_SCHEME) :].isdigit():
            self.copy_code(int(target[len(COPY_SCHEME) :]))

    def _new_piece(self) -> SafeBrowser:
        piece = _Piece(self)
        piece.link_hovered.connect(self.link_hovered)
        piece.anchorClicked.connect(self._anchor)
        for watcher in self._watchers:
            piece.installEventFilter(watcher)
        self.pieces.append(piece)
        self._layout.addWidget(piece)
        return piece
