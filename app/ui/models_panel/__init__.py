"""The model manager: this machine's hardware and memory budget, recommended models, Hub search, downloads,
installed and loaded models."""

from __future__ import annotations

from typing import Any

from app.ui.design import fit_to_screen
from app.ui.models_panel.downloads import DownloadsSection
from app.ui.models_panel.installed import InstalledSection, LoadedSection
from app.ui.models_panel.memory import MemoryBar
from app.ui.models_panel.recommended import RecommendedSection, describe_machine
from app.ui.models_panel.search import SearchSection
from app.ui.operations import run_in_background
from app.ui.qt import QDialog, QGroupBox, QLabel, QSize, Qt, QTabWidget, QVBoxLayout, QWidget, Signal


class ModelsPanel(QDialog):
    """A window over the model manager; it can stay open beside the main window.

    Signals:
        models_changed: installed models or copilot bindings changed.
        message: a one-line note for the status bar.
    """

    models_changed = Signal()
    message = Signal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model manager")
        fit_to_screen(self, QSize(960, 720))
        layout = QVBoxLayout(self)
        self.hardware = QLabel("Looking at this machine…")
        self.hardware.setTextFormat(Qt.TextFormat.PlainText)  # GPU names come from the driver
        self.hardware.setWordWrap(True)
        layout.addWidget(self.hardware)
        self.memory = MemoryBar(ctx)
        layout.addWidget(self.memory)
        self.tabs = QTabWidget()
        self.recommended = RecommendedSection(ctx)
        self.search = SearchSection(ctx)
        self.downloads = DownloadsSection(ctx)
        self.installed = InstalledSection(ctx)
        self.loaded = LoadedSection(ctx)
        on_disk = QWidget()
        disk_layout = QVBoxLayout(on_disk)
        disk_layout.addWidget(self.installed, 1)
        loaded_box = QGroupBox("Loaded now")
        QVBoxLayout(loaded_box).addWidget(self.loaded)
        disk_layout.addWidget(loaded_box)
        self.tabs.addTab(self.recommended, "Recommended")
        self.tabs.addTab(self.search, "Find models")
        self.tabs.addTab(self.downloads, "Downloads")
        self.tabs.addTab(on_disk, "On this machine")
        layout.addWidget(self.tabs, 1)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it quotes Hub and download errors
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        for section in (self.recommended, self.search, self.downloads, self.installed):
            section.message.connect(self._note)
        self.search.download_requested.connect(self._download)
        self.recommended.models_changed.connect(lambda: self._installed(""))
        self.downloads.installed.connect(self._installed)
        self.installed.changed.connect(self.models_changed)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.installed.refresh()
        run_in_background(self._hardware_text, self.hardware.setText, self.hardware.setText)

    @staticmethod
    def _hardware_text() -> str:
        from app.core.hardware import probe

        return describe_machine(probe())

    def _installed(self, _model_id: str) -> None:
        self.installed.refresh()
        self.models_changed.emit()

    def _tab_changed(self, _index: int) -> None:
        self.installed.refresh()
        self.loaded.refresh()
        self.memory.refresh()

    def _note(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    def _download(self, repo: str, filename: str, size: int, sha256: Any) -> None:
        self.downloads.add(repo, filename, size, sha256)
        self.tabs.setCurrentWidget(self.downloads)
