"""The download queue: progress, speed and ETA per file, pause/resume and cancel; survives a restart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.hub.download import Progress, RepoCache
from app.core.hub.installed import pull_model
from app.ui.qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, Qt, QVBoxLayout, QWidget, Signal
from app.ui.reply_view import plain_tooltip
from app.ui.workers import BackgroundTask

# stored on disk: never change or reuse values
QUEUED, DOWNLOADING, PAUSED, FAILED = "queued", "downloading", "paused", "failed"


@dataclass
class DownloadEntry:
    repo: str
    filename: str
    size_bytes: int
    sha256: str | None
    state: str = QUEUED
    error: str | None = None


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


class DownloadRow(QWidget):
    """One download.

    Signals:
        pause_toggled: pause or resume pressed.
        cancel_pressed: cancel pressed.
    """

    pause_toggled = Signal()
    cancel_pressed = Signal()

    def __init__(self, entry: DownloadEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(f"{entry.repo} / {entry.filename}")
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # names from a Hub mirror are data
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.info = QLabel("waiting")
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.info.setMinimumWidth(180)
        self.pause = QPushButton("Pause")
        self.cancel = QPushButton("Cancel")
        for widget, stretch in ((self.label, 2), (self.bar, 2), (self.info, 1), (self.pause, 0), (self.cancel, 0)):
            layout.addWidget(widget, stretch)
        self.pause.clicked.connect(self.pause_toggled)
        self.cancel.clicked.connect(self.cancel_pressed)

    def show_progress(self, progress: Progress) -> None:
        self.bar.setValue(int(progress.fraction * 1000))
        self.bar.setFormat(f"{progress.fraction:.0%}")
        self.info.setText(f"{progress.speed_bps / 1e6:.1f} MB/s, ETA {_eta(progress.eta_s)}")

    def show_state(self, entry: DownloadEntry) -> None:
        self.pause.setText("Resume" if entry.state in (PAUSED, FAILED) else "Pause")
        if entry.state == PAUSED:
            self.info.setText("paused")
        elif entry.state == FAILED:
            self.info.setText("failed")
            self.info.setToolTip(plain_tooltip(entry.error) if entry.error else "")  # it may quote the Hub


class DownloadQueue(QWidget):
    """Downloads in progress, kept in `downloads.json` so that they resume when the app starts again.

    Signals:
        installed: a download finished and its model is installed (model id).
        message: something to tell the user (one line).
    """

    installed = Signal(str)
    message = Signal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.path: Path = ctx.paths.data_dir / "downloads.json"
        self.layout_ = QVBoxLayout(self)
        self.empty = QLabel("No downloads.")
        self.layout_.addWidget(self.empty)
        self.entries: list[DownloadEntry] = []
        self.rows: dict[str, DownloadRow] = {}
        self.tasks: dict[str, BackgroundTask] = {}
        for entry in self._load():
            self._add_row(entry)
            if entry.state in (QUEUED, DOWNLOADING):
                self._start(entry)  # interrupted by a restart: continue where the file stopped

    def _key(self, entry: DownloadEntry) -> str:
        return f"{entry.repo}/{entry.filename}"

    def _load(self) -> list[DownloadEntry]:
        try:
            return [DownloadEntry(**item) for item in json.loads(self.path.read_text())]
        except (OSError, ValueError, TypeError):
            return []

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(e) for e in self.entries], indent=1))
        tmp.replace(self.path)

    def add(self, repo: str, filename: str, size_bytes: int, sha256: str | None) -> None:
        entry = DownloadEntry(repo, filename, size_bytes, sha256)
        if self._key(entry) in self.rows:
            self.message.emit(f"{filename} is already in the download queue.")
            return
        self._add_row(entry)
        self._start(entry)

    def _add_row(self, entry: DownloadEntry) -> None:
        self.entries.append(entry)
        row = DownloadRow(entry)
        key = self._key(entry)
        self.rows[key] = row
        row.pause_toggled.connect(lambda: self._toggle(key))
        row.cancel_pressed.connect(lambda: self._cancel(key))
        row.show_state(entry)
        self.layout_.addWidget(row)
        self.empty.hide()
        self._save()

    def _entry(self, key: str) -> DownloadEntry | None:
        return next((e for e in self.entries if self._key(e) == key), None)

    def _start(self, entry: DownloadEntry) -> None:
        key = self._key(entry)
        entry.state, entry.error = DOWNLOADING, None
        self._save()
        self.rows[key].show_state(entry)

        def work(emit, cancel):
            return pull_model(self.ctx, entry.repo, filename=entry.filename, progress=emit, cancel=cancel)[0]

        task = BackgroundTask(work)
        task.progress.connect(self.rows[key].show_progress)  # queued: runs on the GUI thread
        task.succeeded.connect(lambda model_id: self._finished(key, model_id))
        task.failed.connect(lambda error: self._failed(key, error))
        self.tasks[key] = task
        task.start()

    def _finished(self, key: str, model_id: str) -> None:
        self._remove(key)
        self.message.emit(f"Installed {key} as '{model_id}'.")
        self.installed.emit(model_id)

    def _failed(self, key: str, error: str) -> None:
        entry = self._entry(key)
        if entry is None:
            return
        paused = self.tasks.get(key) is not None and self.tasks[key].cancel.cancelled
        entry.state, entry.error = (PAUSED, None) if paused else (FAILED, error)
        self._save()
        self.rows[key].show_state(entry)
        if not paused:
            self.message.emit(error)

    def _toggle(self, key: str) -> None:
        entry = self._entry(key)
        if entry is None:
            return
        if entry.state == DOWNLOADING:
            self.tasks[key].cancel.cancel()  # the partial file stays: resume continues from it
        else:
            self._start(entry)

    def _cancel(self, key: str) -> None:
        entry = self._entry(key)
        if entry is None:
            return
        task = self.tasks.get(key)
        if task is not None:
            task.cancel.cancel()
        if entry.sha256:
            partial = RepoCache(entry.repo).blobs / f"{entry.sha256}.incomplete"
            partial.unlink(missing_ok=True)
        self._remove(key)

    def _remove(self, key: str) -> None:
        self.entries = [e for e in self.entries if self._key(e) != key]
        row = self.rows.pop(key, None)
        if row is not None:
            row.deleteLater()
        self.tasks.pop(key, None)
        self._save()
        self.empty.setVisible(not self.entries)
