"""Find models on the Hub: search results, then a repo's files with a fit badge and the recommended row."""

from __future__ import annotations

from typing import Any

from app.ui.operations import run_in_background
from app.ui.qt import (
    QAbstractItemView,
    QColor,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)

_BADGES = {
    "gpu": ("fits on GPU", "#1f9d74"),
    "partial": ("partial", "#d9822b"),
    "cpu": ("CPU", "#5b7cfa"),
    "no": ("won't fit", "#c23b5a"),
}


def fit_badge(fit: str | None, gpu_layers: int = 0) -> str:
    """A fit verdict in words, as the files table and the recommended list show it."""
    if fit == "partial":
        return f"partial ({gpu_layers} layers on GPU)"
    return _BADGES[fit][0] if fit in _BADGES else "?"


def _mb(count: int | None) -> str:
    return "" if not count else f"{count / 1e6:,.0f} MB" if count < 1e9 else f"{count / 1e9:.1f} GB"


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().hide()
    return table


class SearchSection(QWidget):
    """Hub search and a repo's quant table.

    Signals:
        download_requested: the user wants this file (repo, filename, size, sha256).
        message: a one-line note or error for the user.
    """

    download_requested = Signal(str, str, int, object)
    message = Signal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.files: list[Any] = []
        self.repo = ""
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.query = QLineEdit(placeholderText="Search GGUF models on the Hugging Face Hub, e.g. qwen instruct")
        self.query.setAccessibleName("Search the Hub")
        self.search_button = QPushButton("Search")
        row.addWidget(self.query, 1)
        row.addWidget(self.search_button)
        layout.addLayout(row)
        self.results = _table(["Repository", "Downloads", "Likes", "Updated", "Chat"])
        self.results.setMaximumHeight(180)
        layout.addWidget(self.results)
        self.files_label = QLabel("Pick a repository to see its files and whether they fit.")
        self.files_label.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the search and Hub errors
        layout.addWidget(self.files_label)
        self.files_table = _table(["File", "Quant", "Size", "Fit", "Needs"])
        layout.addWidget(self.files_table, 1)
        self.download_button = QPushButton("Download selected file")
        layout.addWidget(self.download_button)
        self.query.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        self.results.itemSelectionChanged.connect(self._repo_picked)
        self.download_button.clicked.connect(self._download)

    def search(self) -> None:
        from app.core.hub.catalog import search

        text = self.query.text().strip()
        if not text:
            return
        self.search_button.setEnabled(False)
        self.files_label.setText(f"Searching for '{text}'…")
        run_in_background(lambda: search(text, limit=30), self._show_results, self._failed)

    def _failed(self, error: str) -> None:
        self.search_button.setEnabled(True)
        self.files_label.setText(error)
        self.message.emit(error)

    def _show_results(self, results: list) -> None:
        self.search_button.setEnabled(True)
        self.results.setRowCount(0)
        for result in results:
            row = self.results.rowCount()
            self.results.insertRow(row)
            cells = [
                result.repo,
                f"{result.downloads:,}",
                str(result.likes),
                (result.last_modified or "")[:10],
                "yes" if result.instruct else "",
            ]
            for column, text in enumerate(cells):
                self.results.setItem(row, column, QTableWidgetItem(text))
        self.files_label.setText(f"{len(results)} repositories." if results else "No GGUF models found.")

    def _repo_picked(self) -> None:
        from app.core.hardware import probe
        from app.core.hub.catalog import list_files

        rows = self.results.selectionModel().selectedRows()
        if not rows:
            return
        item = self.results.item(rows[0].row(), 0)
        if item is None:  # a selected row whose cell is not filled in yet: nothing to read
            return
        self.repo = item.text()
        context = self.ctx.settings.context_size
        self.files_label.setText(f"Reading {self.repo}'s files…")
        run_in_background(lambda: list_files(self.repo, probe(), context), self._show_files, self._failed)

    def _show_files(self, listing: Any) -> None:
        self.files = listing.files
        self.files_table.setRowCount(0)
        for file in self.files:
            row = self.files_table.rowCount()
            self.files_table.insertRow(row)
            colour = _BADGES[file.fit][1] if file.fit in _BADGES else "#888888"
            badge = fit_badge(file.fit, file.gpu_layers) if file.fit else "adapter" if file.kind == "lora" else "?"
            name = file.filename + (f"  ({len(file.parts)} parts)" if len(file.parts) > 1 else "")
            name = ("★ " if file.recommended else "") + name
            cells = [name, file.quant or "?", _mb(file.size_bytes), badge, _mb(file.est_memory_bytes)]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 3:
                    item.setForeground(QColor(colour))
                if file.recommended:
                    item.setBackground(QColor(91, 124, 250, 60))
                    item.setToolTip("Recommended for this machine")
                self.files_table.setItem(row, column, item)
        recommended = next((i for i, f in enumerate(self.files) if f.recommended), None)
        if recommended is not None:
            self.files_table.selectRow(recommended)
        note = f"{self.repo}: {len(self.files)} files at {listing.context} tokens of context"
        self.files_label.setText(note + ("; ★ recommended for this machine." if recommended is not None else "."))

    def _download(self) -> None:
        rows = self.files_table.selectionModel().selectedRows()
        if not rows:
            self.message.emit("Pick a file to download first.")
            return
        file = self.files[rows[0].row()]
        self.download_requested.emit(self.repo, file.filename, file.size_bytes, file.sha256)
