"""The Documents tab: a workspace's documents (drop files, see indexing progress, remove), its linked folders
(link, unlink; scanned on start and watched while running) and a search over its messages and documents.
Indexing, scanning, watching and searching run in workers."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.ui.operations import Operation, query, run_in_background
from app.ui.passage import show_passage
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
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import plain_tooltip

# The linked folders' start-up scan and watcher wait this long after `start_watching`: the window paints first
# (starting them imports the document readers and starts two threads, ~20 ms on the GUI thread).
WATCH_AFTER_MS = 1000


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
        self.watcher: Operation | None = None  # the linked folders' watcher, while it runs
        self._watch_due = False  # start_watching was called: the watcher starts when WATCH_AFTER_MS have passed
        self.to_embed: set[str] = set()  # workspaces whose linked folders changed while another task ran
        self.added_text = ""  # what the last adding did, kept in view while its passages are embedded
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        self.search = QLineEdit(placeholderText="Search messages and documents…")
        self.results = QListWidget()
        self.results.hide()
        self.list = QListWidget()
        self.list.setToolTip("Drop files or folders here to add them")
        self.folders = QListWidget()
        self.folders.setToolTip("Linked folders: their documents follow the files in them")
        self.folders.setMaximumHeight(90)
        self.folders.hide()
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it names documents and quotes reader errors
        self.status.setWordWrap(True)
        self.status.setProperty("role", "muted")
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add files…")
        self.link_button = QPushButton("Link folder…")
        self.unlink_button = QPushButton("Unlink")
        self.unlink_button.hide()
        self.remove_button = QPushButton("Remove")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        for button in (self.add_button, self.link_button, self.unlink_button, self.remove_button, self.cancel_button):
            buttons.addWidget(button)
        for widget in (self.search, self.results, self.list, self.folders, self.progress, self.status):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.search.returnPressed.connect(self.run_search)
        self.search.textChanged.connect(lambda text: None if text.strip() else self.results.hide())
        self.results.itemActivated.connect(self._open_result)
        self.results.itemClicked.connect(self._open_result)
        self.add_button.clicked.connect(self._choose_files)
        self.remove_button.clicked.connect(self._remove)
        self.link_button.clicked.connect(self._choose_folder)
        self.unlink_button.clicked.connect(self._confirm_unlink)
        self.cancel_button.clicked.connect(lambda: self.task.cancel.cancel() if self.task else None)

    # -- the list -------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        store, workspace = self.ctx.store, self.workspace()
        query(lambda: store.documents(workspace), self._show_documents, self.message.emit)
        query(lambda: store.linked_folders(workspace), self._show_folders, self.message.emit)

    def _show_documents(self, documents: list) -> None:
        self.list.clear()
        for document in documents:
            item = QListWidgetItem(f"{document.name}  ·  {document.kind}, {document.chunk_count} passages")
            item.setData(Qt.ItemDataRole.UserRole, document.id)
            item.setToolTip(plain_tooltip(document.path))
            self.list.addItem(item)
        if not documents and not self.status.text():  # a report (an unlink's, say) says more than the hint
            self.status.setText("No documents yet: drop files here, or Add files…; copilots answer from them.")

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        from app.core.knowledge.folders import remove_by_hand

        document_id = item.data(Qt.ItemDataRole.UserRole)
        store = self.ctx.store
        query(lambda: remove_by_hand(store, document_id), lambda _r: self.refresh(), self.status.setText)

    # -- linked folders ---------------------------------------------------------------------------------------

    def _show_folders(self, folders: list) -> None:
        self.folders.clear()
        for folder in folders:
            state = f" — {folder.last_error}" if folder.last_error else ""
            state += f" · {len(folder.skipped)} skipped" if folder.skipped else ""
            item = QListWidgetItem(f"📁 {folder.path}  ·  {folder.documents} documents{state}")
            item.setData(Qt.ItemDataRole.UserRole, folder.path)
            item.setToolTip(plain_tooltip(folder.path))
            self.folders.addItem(item)
        self.folders.setVisible(bool(folders))
        self.unlink_button.setVisible(bool(folders))

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Link a folder: its documents follow the files in it")
        if path:
            self.link(Path(path))

    def link(self, path: Path) -> None:
        """Link a folder to the workspace, then scan it (with progress and Cancel)."""
        from app.core.knowledge.folders import link_folder

        store, workspace = self.ctx.store, self.workspace()
        query(lambda: link_folder(store, workspace, path), lambda _folder: self.sync(), self.status.setText)

    def _confirm_unlink(self) -> None:
        item = self.folders.currentItem() or self.folders.item(0)
        if item is None:
            return
        folder = item.data(Qt.ItemDataRole.UserRole)
        box = QMessageBox(QMessageBox.Icon.Question, "Unlink folder", "", QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # a folder's name is the user's, whatever it holds
        box.setText(f"Stop following {folder}?\nIts documents can leave the workspace or stay (the files stay).")
        remove = box.addButton("Unlink and remove its documents", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Unlink, keep its documents", QMessageBox.ButtonRole.AcceptRole)

        def answered(_result: int) -> None:
            if box.clickedButton() in (remove, keep):
                self.unlink(folder, keep_documents=box.clickedButton() is keep)

        box.finished.connect(answered)
        box.open()  # no nested event loop: the answer comes back through `finished`

    def unlink(self, folder: str, keep_documents: bool) -> None:
        """Stop following a linked folder; its documents are removed, or kept as documents added by hand."""
        from app.core.knowledge.folders import unlink_folder

        store, workspace = self.ctx.store, self.workspace()

        def unlinked(result: tuple[str, int]) -> None:
            fate = "kept" if keep_documents else "removed (the files are untouched)"
            self.status.setText(f"Unlinked {result[0]}: its {result[1]} documents {fate}.")
            self.refresh()

        query(lambda: unlink_folder(store, workspace, Path(folder), keep_documents), unlinked, self.status.setText)

    def sync(self) -> None:
        """Scan every workspace's linked folders in a worker, with the progress bar and Cancel; what changed is then
        embedded."""
        if self.task is not None:
            return
        from app.core.knowledge.folders import sync_linked_folders

        store = self.ctx.store
        task = Operation(lambda emit, cancel: sync_linked_folders(store, None, emit, cancel))
        self._busy()
        # a scan reads the files that changed: its own thread, like adding
        self.task = task.with_progress(self._progress).success(self._synced).failure(self._failed).run_in_background()

    def start_watching(self) -> None:
        """Scan the linked folders in `WATCH_AFTER_MS`, then every few seconds while the window runs (`stop_watching`
        ends it, or keeps it from starting)."""
        self._watch_due = True
        QTimer.singleShot(WATCH_AFTER_MS, self, self._start_watching_now)

    def _start_watching_now(self) -> None:
        if not self._watch_due:
            return
        self._watch_due = False
        from app.core.knowledge.folders import FolderWatcher

        self.sync()
        if self.watcher is None:
            watcher = FolderWatcher(self.ctx.store)
            # it polls until cancelled: a thread of its own; each scan that changed something comes as progress
            self.watcher = Operation(watcher.run).with_progress(self._show_scan).run_in_background()

    def stop_watching(self) -> None:
        """Stop the watcher (a scan in progress ends first, in its thread)."""
        self._watch_due = False
        if self.watcher is not None:
            self.watcher.cancel.cancel()
            self.watcher = None

    def _synced(self, report: Any) -> None:
        self._done()
        self._show_scan(report)

    def _show_scan(self, report: Any) -> None:
        """A scan's report (the start-up sync's or the watcher's): say what changed, and embed it."""
        if report.changed or any(f.error for f in report.folders):
            self.added_text = f"Linked folders: {report.summary()}"
            self.status.setText(self.added_text)
        self.refresh()
        self.to_embed.update(report.changed_workspaces())
        self._embed_waiting()

    def _embed_waiting(self) -> None:
        if self.task is None and self.to_embed:
            workspaces, self.to_embed = sorted(self.to_embed), set()
            self.embed(workspaces)

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
        self._busy()
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
            self.to_embed.add(self.workspace())
        self._embed_waiting()

    def embed(self, workspaces: list[str] | None = None) -> None:
        """Embed the passages that need it (of the workspace shown, or of `workspaces`), in a worker, with a progress
        bar and Cancel (what was embedded before Cancel is kept; the next embedding goes on from there)."""
        if self.task is not None:
            return
        from app.core.knowledge.embedding import embed_pending

        ctx, chosen = self.ctx, workspaces or [self.workspace()]

        def embed_all(emit: Any, cancel: Any) -> int:
            return sum(embed_pending(ctx.store, ctx.embedder(), w, emit, cancel) for w in chosen)

        task = Operation(embed_all)
        self._busy()
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
        self._embed_waiting()

    def _failed(self, message: str) -> None:
        self._done()
        self.status.setText(message)
        self._embed_waiting()

    def _busy(self) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.add_button.setEnabled(False)
        self.link_button.setEnabled(False)

    def _done(self) -> None:
        self.task = None
        self.progress.hide()
        self.cancel_button.hide()
        self.add_button.setEnabled(True)
        self.link_button.setEnabled(True)

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
            show_passage(self, hit.title, hit.location, hit.text, query=self.search.text())
