"""The right column's copilot roster: the workspace's copilots, the form to edit one, TOML import/export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.crew.copilots import Copilot, load_manifest_file
from app.core.crew.trust import NEEDS_REVIEW, endpoint_of, is_remote
from app.ui.copilot_form import CopilotDialog
from app.ui.design import avatar_icon, model_chip
from app.ui.operations import query, run_in_background
from app.ui.qt import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSize,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import plain_tooltip
from app.ui.rows import wrap_rows
from app.ui.tool_grants import tool_choices


def _check_adapters(ctx: Any, copilot: Copilot) -> None:
    """Refuse an adapter or control vector that does not fit the copilot's model, as `copilots edit` does (the
    error names both files); reads their headers, so it runs with the save, off the GUI thread."""
    from app.core.providers.local import check_adapter, check_control_vector

    model = ctx.resolve_model(copilot.model)
    if copilot.lora:
        check_adapter(model, ctx.resolve_model(copilot.lora))
    if copilot.control_vector:
        check_control_vector(model, ctx.resolve_model(copilot.control_vector))


_STATE = Qt.ItemDataRole.UserRole + 1


class RosterPanel(QWidget):
    """The workspace's copilots: add, edit in a form, import and export TOML.

    Signals:
        changed: a copilot was added or changed.
        message: a one-line note or error for the status bar.
    """

    changed = Signal()
    message = Signal(str)

    def __init__(
        self, ctx: Any, workspace: Callable[[], str], copilots: dict[str, Copilot], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.workspace = workspace
        self.copilots = copilots  # the window's id -> Copilot map, kept current by its refresh
        self.dialog: CopilotDialog | None = None  # the form opened last
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        wrap_rows(self.list)  # names and roles wrap: never elided, never behind a horizontal scroll bar
        self.list.setAccessibleName("Copilots")
        self.list.setIconSize(QSize(32, 32))
        self.list.setSpacing(2)
        layout.addWidget(self.list, 1)
        self.warning = QLabel()  # damaged copilot rows, skipped: what they are and how to remove them
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.warning.setWordWrap(True)
        self.warning.setProperty("role", "warning")
        self.warning.hide()
        layout.addWidget(self.warning)
        row = QHBoxLayout()
        buttons = {
            "Add": lambda: self.edit(None),
            "Edit": self._edit_selected,
            "Import": self.import_manifest,
            "Export": self._export_selected,
        }
        for label, slot in buttons.items():
            button = QPushButton(label)
            button.clicked.connect(slot)
            row.addWidget(button)
        layout.addLayout(row)
        self.list.itemDoubleClicked.connect(lambda item: self.edit(item.data(Qt.ItemDataRole.UserRole)))

    def set_copilots(
        self,
        copilots: list[Copilot],
        review: dict[str, str] | None = None,
        damaged: list[str] | None = None,
        states: dict[str, str] | None = None,
    ) -> None:
        """Show the roster, a card per copilot: avatar, name, role, model (or host) and state (`states`, from
        `AppContext.copilot_state`); `review` marks imported copilots, `damaged` lists stored rows skipped."""
        review, states = review or {}, states or {}
        self.list.clear()
        for copilot in copilots:
            name = f"⚠ {copilot.name} ({NEEDS_REVIEW})" if copilot.id in review else copilot.name
            facts = " · ".join(part for part in (model_chip(copilot), states.get(copilot.id, "")) if part)
            label = f"{name}\n{copilot.description or 'No description'}\n{facts}"
            item = QListWidgetItem(avatar_icon(copilot.name, copilot.color, 32), label)
            item.setData(_STATE, states.get(copilot.id, ""))
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{copilot.name}: {copilot.description}")
            targets = ", ".join(copilot.handoff_to) or "-"
            tip = f"model: {copilot.model or 'starter'}; hands off to: {targets}"
            if copilot.id in review:
                tip = (
                    f"{review[copilot.id]}: its key name, tools and approvals were not imported."
                    + (f" It runs only once you confirm {endpoint_of(copilot)}." if is_remote(copilot) else "")
                    + f"\n{tip}"
                )
            item.setToolTip(plain_tooltip(tip))  # the manifest (maybe an archive's) chose the model and URL
            item.setData(Qt.ItemDataRole.UserRole, copilot.id)
            self.list.addItem(item)
        self.warning.setText("\n".join(damaged or []))
        self.warning.setVisible(bool(damaged))

    def _selected(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _edit_selected(self) -> None:
        if (copilot_id := self._selected()) is not None:
            self.edit(copilot_id)

    def _export_selected(self) -> None:
        if (copilot_id := self._selected()) is not None:
            self.export_manifest(copilot_id)

    def _save(self, copilot: Callable[[], Copilot]) -> None:
        """Store a copilot (made by `copilot()`, on the database worker) and add it to the workspace's roster."""
        ctx, workspace = self.ctx, self.workspace()

        def save() -> None:
            saved = copilot()
            if saved.provider == "local" and (saved.lora or saved.control_vector):
                _check_adapters(ctx, saved)
            ctx.store.save_copilot(saved.id, saved.name, saved.model_dump())
            roster = ctx.store.roster(workspace)
            if saved.id not in roster:
                ctx.store.set_roster(workspace, [*roster, saved.id])

        query(save, lambda _r: self.changed.emit(), self.message.emit)

    def edit(self, copilot_id: str | None) -> None:
        """The manifest form for a copilot (None: a new one), opened once the installed models, adapters and control
        vectors, and the tools it may be granted, are read (on the database worker)."""
        from app.core.hub.installed import installed_models
        from app.core.secrets import key_names

        copilot = self.copilots.get(copilot_id) if copilot_id else None
        ctx = self.ctx
        query(
            lambda: (installed_models(ctx), tool_choices(ctx.store), key_names(ctx.store)),
            lambda read: self._open_form(copilot, *read),
            self.message.emit,
        )

    def _open_form(
        self, copilot: Copilot | None, models: list[Any], tools: list[tuple[str, str]], keys: list[str]
    ) -> None:
        dialog = self.dialog = CopilotDialog(copilot, models, list(self.copilots), self, tools, keys)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._form_saved(dialog))
        dialog.open()  # window-modal, without a nested event loop

    def _form_saved(self, dialog: CopilotDialog) -> None:
        saved = dialog.saved
        if saved is not None:
            self._save(lambda: saved)

    def import_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a copilot", str(Path.home()), "Copilot manifests (*.toml)")
        if path:
            self._save(lambda: load_manifest_file(Path(path)))  # read with the save: a file is not read here

    def export_manifest(self, copilot_id: str) -> None:
        copilot = self.copilots[copilot_id]
        path, _ = QFileDialog.getSaveFileName(self, "Export copilot", f"{copilot.id}.toml", "TOML (*.toml)")
        if path:
            text = copilot.to_toml()
            run_in_background(
                lambda: Path(path).write_text(text, encoding="utf-8"),
                lambda _r: self.message.emit(f"Exported {copilot.name} to {path}."),
                self.message.emit,
            )
