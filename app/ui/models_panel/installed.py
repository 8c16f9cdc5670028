"""Models on this machine: installed files with their users, and the ones loaded in memory now, with the copilots
that share each (specialists on one base share its process: the base once, their adapters beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.hub.starter import STARTER_MODEL_ID
from app.ui.models_panel.search import _mb, _table
from app.ui.operations import query, run_in_background
from app.ui.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    Qt,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import plain_tooltip


class InstalledSection(QWidget):
    """Installed models: disk use, users, delete, bind to a copilot, add a GGUF from disk.

    Signals:
        changed: models or copilot bindings changed.
        message: a one-line note or error for the user.
    """

    changed = Signal()
    message = Signal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.models: list[Any] = []
        layout = QVBoxLayout(self)
        self.table = _table(["Model", "Quant", "Size", "Used by", "Source"])
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.use_button = QPushButton("Use for copilot…")
        self.delete_button = QPushButton("Delete")
        self.add_button = QPushButton("Add a GGUF from disk…")
        for button in (self.use_button, self.delete_button, self.add_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.use_button.clicked.connect(self._use)
        self.delete_button.clicked.connect(self._delete)
        self.add_button.clicked.connect(self._add)

    def refresh(self) -> None:
        from app.core.hub.installed import installed_models

        ctx = self.ctx
        query(lambda: installed_models(ctx), self._show, self.message.emit)

    def _show(self, models: list) -> None:
        self.models = models
        self.table.setRowCount(0)
        for model in models:
            row = self.table.rowCount()
            self.table.insertRow(row)
            cells = [
                model.id + ("" if model.present else "  (file missing)"),
                _kind(model),
                _mb(model.size_bytes),
                # a model's copilots with their adapters: all of them share its one process
                ", ".join(s.label() for s in model.specialists) or ", ".join(model.used_by) or "-",
                model.repo or model.source,
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tooltip(model.path))  # the path holds a Hub filename
                self.table.setItem(row, column, item)

    def _selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def _use(self) -> None:
        model = self._selected()
        if model is None:
            self.message.emit("Pick a model first.")
            return
        query(self.ctx.copilots, lambda copilots: self._ask_which(model.id, copilots), self.message.emit)

    def _ask_which(self, model_id: str, copilots: list[Any]) -> None:
        """Which copilot answers with `model_id` from now on (window-modal, no nested event loop)."""
        dialog = QDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle(f"Use {model_id} for…")
        layout = QVBoxLayout(dialog)
        combo = QComboBox()
        for copilot in copilots:
            combo.addItem(copilot.name, copilot.id)
        layout.addWidget(combo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.accepted.connect(lambda: self.bind(combo.currentData(), model_id))
        dialog.open()

    def bind(self, copilot_id: str, model_id: str) -> None:
        """Make a copilot answer with an installed model (saved on the database worker; then `changed`)."""
        ctx = self.ctx
        # an adapter or control vector is applied on the copilot's model rather than replacing it
        kind = next((m.adapter for m in self.models if m.id == model_id), None)
        field = "model" if kind is None else "control_vector" if kind == "control_vector" else "lora"

        def save() -> str:
            copilot = ctx.copilot(copilot_id)
            updated = copilot.model_copy(update={field: None if model_id == STARTER_MODEL_ID else model_id})
            ctx.store.save_copilot(updated.id, updated.name, updated.model_dump())
            return copilot.name

        def saved(name: str) -> None:
            self.message.emit(f"{name} now answers with {model_id}.")
            self.refresh()
            self.changed.emit()

        query(save, saved, self.message.emit)

    def _delete(self) -> None:
        from app.core.hub.installed import remove

        model = self._selected()
        if model is None:
            return
        force = False
        if model.used_by:
            buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
            question = QMessageBox(
                QMessageBox.Icon.Question,
                "Model in use",
                f"{', '.join(model.used_by)} use {model.id}. Move them to the starter model and delete it?",
                buttons,
                self,
            )
            question.setTextFormat(Qt.TextFormat.PlainText)  # the model's id holds a Hub filename
            if question.exec() != QMessageBox.StandardButton.Yes:
                return
            force = True

        def done(_moved: Any) -> None:
            self.message.emit(f"Deleted {model.id}.")
            self.refresh()
            self.changed.emit()

        ctx = self.ctx
        query(lambda: remove(ctx, model.id, force=force), done, self.message.emit)

    def _add(self) -> None:
        from app.core.hub.installed import add_local

        path, _ = QFileDialog.getOpenFileName(self, "Add a GGUF model", str(Path.home()), "GGUF models (*.gguf)")
        if not path:
            return
        self.message.emit(f"Checking {Path(path).name}…")

        def done(model_id: str) -> None:
            self.message.emit(f"Added {Path(path).name} as '{model_id}'.")
            self.refresh()
            self.changed.emit()

        run_in_background(lambda: add_local(self.ctx, Path(path)), done, self.message.emit)


def _kind(model: Any) -> str:
    if model.adapter == "control_vector":
        return f"control vector for {model.architecture or '?'}"
    return f"{model.adapter.upper()} adapter for {model.architecture}" if model.adapter else model.quant or "?"


class LoadedSection(QWidget):
    """Models loaded in memory right now, with what they hold and the copilots sharing each (`base X: analyst,
    writer (adapter a.gguf ×1)`), and an Unload button each."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.loaded: list[dict] = []
        layout = QVBoxLayout(self)
        self.table = _table(["Model", "Shared by", "Context", "Memory (now)", "Estimated"])
        self.table.setMaximumHeight(130)
        layout.addWidget(self.table)
        self.unload_button = QPushButton("Unload")
        layout.addWidget(self.unload_button)
        self.unload_button.clicked.connect(self._unload)

    def refresh(self) -> None:
        """The loaded hosts (their memory read in a thread of its own), then who shares each (a store read)."""
        from app.core.hub.installed import specialists_by_base

        ctx = self.ctx

        def with_copilots(loaded: list[dict]) -> None:
            query(lambda: specialists_by_base(ctx), lambda groups: self._show(loaded, groups), None)

        run_in_background(ctx.pool.loaded, with_copilots, None)

    def _show(self, loaded: list[dict], groups: dict[str, list[Any]]) -> None:
        from app.core.hub.installed import sharing_text

        self.loaded = loaded
        self.table.setRowCount(0)
        for info in self.loaded:
            row = self.table.rowCount()
            self.table.insertRow(row)
            spec = info["spec"]
            name = Path(spec.path).name
            cells = [
                name,
                "(embeds documents)" if spec.embedding else sharing_text(name, groups.get(spec.path, [])),
                str(info["spec"].n_ctx),
                _mb(info["rss_bytes"]),
                _mb(info["estimate_bytes"]),
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tooltip(text))  # file names the user or the Hub chose
                self.table.setItem(row, column, item)

    def _unload(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            spec = self.loaded[rows[0].row()]["spec"]
            run_in_background(lambda: self.ctx.pool.unload(spec), lambda _r: self.refresh(), None)
