"""The Documents tab: a workspace's documents (drop files, see indexing progress, remove) and a search over
its messages and documents. Indexing and searching run in workers."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.ui.operations import Operation, query, run_in_background
from app.ui.qt import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import plain_tooltip


def show_passage(parent: QWidget, source: str, location: str | None, passage: str) -> None:
    """A cited passage, in a dialog a person can read and copy from."""
    box = QMessageBox(parent)
    box.setWindowTitle(f"{source}{f' — {location}' if location else ''}")
    box.setTextFormat(Qt.TextFormat.PlainText)  # a document's text is data, whatever markup it holds
    box.setText(passage)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()


class DocumentsPanel(QWidget):
    """Documents of the current workspace, and search over it.

    Signals:
        open_message: a search result in a thread was chosen (thread id, message id).
        message: something to say in the status bar.
    """

    open_message = Signal(str, str)
    message = Signal(str)

    def __init__(self, ctx: Any, workspace: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.workspace = workspace
        self.task: Operation | None = None
        self.added_text = ""  # what the last adding did, kept in view while its passages are embedded
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        self.search = QLineEdit(placeholderText="Search messages and documents…")
        self.results = QListWidget()
        self.results.hide()
        self.list = QListWidget()
        self.list.setToolTip("Drop files or folders here to add them")
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it names documents and quotes reader errors
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: gray")
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add files…")
        self.remove_button = QPushButton("Remove")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        for button in (self.add_button, self.remove_button, self.cancel_button):
            buttons.addWidget(button)
        for widget in (self.search, self.results, self.list, self.progress, self.status):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.search.returnPressed.connect(self.run_search)
        self.search.textChanged.connect(lambda text: None if text.strip() else self.results.hide())
        self.results.itemActivated.connect(self._open_result)
        self.results.itemClicked.connect(self._open_result)
        self.add_button.clicked.connect(self._choose_files)
        self.remove_button.clicked.connect(self._remove)
        self.cancel_button.clicked.connect(lambda: self.task.cancel.cancel() if self.task else None)

    # -- the list -------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        store, workspace = self.ctx.store, self.workspace()
        query(lambda: store.documents(workspace), self._show_documents, self.message.emit)

    def _show_documents(self, documents: list) -> None:
        self.list.clear()
        for document in documents:
            item = QListWidgetItem(f"{document.name}  ·  {document.kind}, {document.chunk_count} passages")
            item.setData(Qt.ItemDataRole.UserRole, document.id)
            item.setToolTip(plain_tooltip(document.path))
            self.list.addItem(item)
        if not documents:
            self.status.setText("No documents yet: drop files here, or Add files…; copilots answer from them.")

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        document_id = item.data(Qt.ItemDataRole.UserRole)
        store = self.ctx.store
        query(lambda: store.remove_document(document_id), lambda _r: self.refresh(), self.message.emit)

    # -- adding ---------------------------------------------------------------------------------------------

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Add documents", "", "Documents (*.txt *.md *.markdown *.pdf *.html *.htm *.docx);;All files (*)"
        )
        if paths:
            self.add([Path(p) for p in paths])

    def add(self, paths: list[Path]) -> None:
        """Index files or folders in a worker, with a progress bar and Cancel."""
        if self.task is not None:
            self.message.emit("Still adding the last documents; wait for them or press Cancel.")
            return
        from app.core.knowledge.index import add_paths

        store, workspace = self.ctx.store, self.workspace()
        task = Operation(lambda emit, cancel: add_paths(store, workspace, paths, emit, cancel))
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.add_button.setEnabled(False)
        # indexing reads files for a long while: its own thread, so the GUI's queries are not held up behind it
        self.task = task.with_progress(self._progress).success(self._added).failure(self._failed).run_in_background()

    def _progress(self, step: Any) -> None:
        self.progress.setRange(0, max(step.total, 1))
        self.progress.setValue(step.done)
        self.status.setText(f"Reading {Path(step.path).name}…" if step.path else "")

    def _added(self, report: Any) -> None:
        self._done()
        parts = [f"{len(getattr(report, k))} {k}" for k in ("added", "updated", "unchanged") if getattr(report, k)]
        failures = [f"{Path(p).name}: {reason}" for p, reason in report.failed]
        self.added_text = "; ".join(parts + failures) or "Stopped."
        self.status.setText(self.added_text)
        self.refresh()
        if report.added or report.updated or report.unchanged:
            self.embed()

    def embed(self) -> None:
        """Embed the workspace's passages that need it, in a worker, with a progress bar and Cancel (what was
        embedded before Cancel is kept; the next embedding goes on from there)."""
        if self.task is not None:
            return
        from app.core.knowledge.embedding import embed_pending

        ctx, workspace = self.ctx, self.workspace()
        task = Operation(lambda emit, cancel: embed_pending(ctx.store, ctx.embedder(), workspace, emit, cancel))
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.add_button.setEnabled(False)
        # embedding runs the model for a while: its own thread, like indexing
        self.task = (
            task.with_progress(self._embed_progress).success(self._embedded).failure(self._failed).run_in_background()
        )

    def _embed_progress(self, step: Any) -> None:
        self.progress.setRange(0, max(step.total, 1))
        self.progress.setValue(step.done)
        self.status.setText(f"Embedding passages for search by meaning: {step.done} of {step.total}…")

    def _embedded(self, count: int) -> None:
        self._done()
        embedded = [f"{count} passages embedded for search by meaning"] if count else []
        self.status.setText("; ".join([self.added_text, *embedded]))

    def _failed(self, message: str) -> None:
        self._done()
        self.status.setText(message)

    def _done(self) -> None:
        self.task = None
        self.progress.hide()
        self.cancel_button.hide()
        self.add_button.setEnabled(True)

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.add(paths)

    # -- searching ---------------------------------------------------------------------------------------------

    def run_search(self) -> None:
        text, workspace, store = self.search.text().strip(), self.workspace(), self.ctx.store
        if not text:
            self.results.hide()
            return

        from app.core.knowledge.search import search_everything

        embedder = self.ctx.embedder()
        # the same search as `roundtable search`; it embeds the question with a model: a thread of its own
        run_in_background(
            lambda: search_everything(store, workspace, text, 20, "hybrid", embedder),
            self._show_results,
            self.message.emit,
        )

    def _show_results(self, hits: list) -> None:
        self.results.clear()
        self.results.show()
        for hit in hits:
            where = f"{hit.title} — {hit.location}" if hit.location else hit.title
            snippet = html.unescape(" ".join(hit.snippet.split()))
            item = QListWidgetItem(f"{'💬' if hit.kind == 'message' else '📄'} {where}\n{snippet}")
            item.setData(Qt.ItemDataRole.UserRole, hit)
            self.results.addItem(item)
        if not hits:
            self.results.addItem("Nothing found.")

    def _open_result(self, item: QListWidgetItem) -> None:
        hit = item.data(Qt.ItemDataRole.UserRole)
        if hit is None:
            return
        if hit.kind == "message":
            self.open_message.emit(hit.thread_id, hit.id)
        else:
            show_passage(self, hit.title, hit.location, hit.text)
