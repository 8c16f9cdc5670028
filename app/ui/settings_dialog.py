"""Settings: theme, memory budget, default copilot, GPU layers, the overlay, where the data lives, and the tools
copilots may use without asking."""

from __future__ import annotations

from typing import Any

from app.core.paths import Paths
from app.core.settings import Settings
from app.ui.design import fit_to_screen, scrolling_form
from app.ui.qt import (
    QCheckBox,
    QComboBox,
    QDesktopServices,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QKeySequence,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    Qt,
    QUrl,
    QWidget,
)

_THEMES = [("Follow the system", "system"), ("Light", "light"), ("Dark", "dark")]


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `result_settings()` gives the new ones after Save."""

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        copilots: list[tuple[str, str]],
        backend: str,
        shortcut_status: str = "",
        parent: QWidget | None = None,
        store: Any | None = None,
        local_api: Any | None = None,
    ) -> None:
        """`store` (the workspace store) adds the saved tool approvals, with Revoke; it is read in workers.
        `local_api` (a `LocalApiService`) adds the Local API panel: start/stop, token, example."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        form, outer = scrolling_form(self)
        self.theme = QComboBox()
        for label, value in _THEMES:
            self.theme.addItem(label, value)
        self.theme.setCurrentIndex(self.theme.findData(settings.theme))
        self.budget = QSpinBox(minimum=0, maximum=1_048_576, singleStep=512, suffix=" MB")
        self.budget.setSpecialValueText("automatic (60% of RAM)")  # a setter: the stubs lack it as a keyword
        self.budget.setValue(settings.memory_budget_mb or 0)
        self.default_copilot = QComboBox()
        for copilot_id, name in copilots:
            self.default_copilot.addItem(name, copilot_id)
        self.default_copilot.setCurrentIndex(max(self.default_copilot.findData(settings.default_copilot), 0))
        self.gpu_layers = QSpinBox(minimum=-2, maximum=999)
        self.gpu_layers.setSpecialValueText("automatic")
        self.gpu_layers.setValue(-2 if settings.gpu_layers is None else settings.gpu_layers)
        self.gpu_layers.setToolTip("-1 puts every layer on the GPU, 0 none; automatic: all when llama.cpp has a GPU")
        self.shortcut = QKeySequenceEdit(QKeySequence(settings.overlay_shortcut))
        self.shortcut.setMaximumSequenceLength(1)
        self.shortcut.setClearButtonEnabled(True)
        self.shortcut_status = QLabel(shortcut_status)
        self.shortcut_status.setWordWrap(True)
        self.shortcut_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.shortcut_status.setProperty("role", "muted")
        self.prefill = QCheckBox("Start the question with the selected text (or the clipboard)")
        self.prefill.setChecked(settings.overlay_prefill)
        self.close_to_tray = QCheckBox("Closing the window keeps Roundtable running in the tray")
        self.close_to_tray.setChecked(settings.close_to_tray)
        self.max_turns = QSpinBox(minimum=1, maximum=200, suffix=" replies")
        self.max_turns.setValue(settings.max_turns)
        self.max_turns.setToolTip("A crew run stops, saying so, once it has taken this many replies")
        self.token_budget = QSpinBox(minimum=0, maximum=10_000_000, singleStep=1000, suffix=" tokens")
        self.token_budget.setSpecialValueText("no budget")
        self.token_budget.setValue(settings.run_token_budget or 0)
        self.token_budget.setToolTip("A crew run stops, saying so, once its prompts and replies used this many tokens")
        self.stop_loops = QCheckBox("Stop a reply that keeps repeating itself")
        self.stop_loops.setChecked(settings.stop_loops)
        folder = QHBoxLayout()
        self.folder_label = QLineEdit(str(paths.data_dir))  # a path has no spaces to wrap at: it scrolls
        self.folder_label.setReadOnly(True)
        self.folder_label.setAccessibleName("Data folder")
        self.folder_label.setCursorPosition(0)
        open_button = QPushButton("Open folder")
        open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.data_dir))))
        folder.addWidget(self.folder_label, 1)
        folder.addWidget(open_button)
        form.addRow("Theme", self.theme)
        form.addRow("Memory for loaded models", self.budget)
        form.addRow("Default copilot", self.default_copilot)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("Longest crew run", self.max_turns)
        form.addRow("Token budget per run", self.token_budget)
        form.addRow("", self.stop_loops)
        form.addRow("llama.cpp backend", QLabel(backend))
        form.addRow("Overlay shortcut", self.shortcut)
        form.addRow("", self.shortcut_status)
        form.setRowVisible(self.shortcut_status, bool(shortcut_status))  # no empty row where there is no news
        form.addRow("", self.prefill)
        form.addRow("", self.close_to_tray)
        form.addRow("Data folder", folder)
        self.approvals = None
        if store is not None:
            from app.ui.tool_approval import ToolApprovalsList

            self.approvals = ToolApprovalsList(store)  # revoking takes effect at once, not on Save
            form.addRow("Tools allowed always", self.approvals)
        self.local_api = None
        if local_api is not None:
            from app.ui.local_api import LocalApiPanel

            self.local_api = LocalApiPanel(local_api, settings.api_port)  # Start/Stop act at once, not on Save
            form.addRow(self.local_api)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        fit_to_screen(self)

    def result_settings(self) -> Settings:
        layers = self.gpu_layers.value()
        return self.settings.model_copy(
            update={
                "theme": self.theme.currentData(),
                "memory_budget_mb": self.budget.value() or None,
                "default_copilot": self.default_copilot.currentData() or self.settings.default_copilot,
                "gpu_layers": None if layers == -2 else layers,
                "overlay_shortcut": self.shortcut.keySequence().toString(QKeySequence.SequenceFormat.PortableText),
                "overlay_prefill": self.prefill.isChecked(),
                "close_to_tray": self.close_to_tray.isChecked(),
                "max_turns": self.max_turns.value(),
                "run_token_budget": self.token_budget.value() or None,
                "stop_loops": self.stop_loops.isChecked(),
                "api_port": self.local_api.port.value() if self.local_api is not None else self.settings.api_port,
            }
        )
