"""The download queue as the window shows it: the store's queue, shared with `roundtable models downloads`.

Progress, speed and ETA per file for the downloads this window runs; the bytes done, read back from the store
every `REFRESH_MS`, for the ones another process runs. Pause, resume and cancel work on either: a pause or cancel
is written to the store, and whichever process downloads the entry stops at its next block. Every store call
runs on the database worker (`operations.query`), never on the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.hub.download import Progress
from app.core.hub.queue import DONE, FAILED, PAUSED, QUEUED, RUNNING, DownloadEntry, resume
from app.core.hub.queue import DownloadQueue as StoreQueue
from app.ui.operations import Operation, query
from app.ui.qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, Qt, QTimer, QVBoxLayout, QWidget, Signal
from app.ui.reply_view import plain_tooltip

if TYPE_CHECKING:
    from app.core.context import AppContext

__all__ = ["DONE", "FAILED", "PAUSED", "QUEUED", "RUNNING", "DownloadEntry", "DownloadRow", "DownloadsSection"]

REFRESH_MS = 1000  # how often the queue is read back, for downloads that other processes run or steer


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

    def _show_fraction(self, fraction: float) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.bar.setFormat(f"{fraction:.0%}")

    def show_progress(self, progress: Progress) -> None:
        """Live progress of a download this window runs."""
        self._show_fraction(progress.fraction)
        self.info.setText(f"{progress.speed_bps / 1e6:.1f} MB/s, ETA {_eta(progress.eta_s)}")

    def show_state(self, entry: DownloadEntry, live: bool = False) -> None:
        """The entry as the store has it; `live`: this window runs it, so `show_progress` tells the bytes."""
        self.pause.setText("Resume" if entry.state in (PAUSED, FAILED) else "Pause")
        if not live:
            self._show_fraction(entry.fraction)
        if entry.state == PAUSED:
            self.info.setText("paused")
        elif entry.state == FAILED:
            self.info.setText("failed")
            self.info.setToolTip(plain_tooltip(entry.error) if entry.error else "")  # it may quote the Hub
        elif entry.state == RUNNING and not live:
            self.info.setText(f"downloading in process {entry.owner_pid}")
        elif entry.state == QUEUED:
            self.info.setText("waiting")


class DownloadsSection(QWidget):
    """The store's download queue, with a row per unfinished download.

    Attributes:
        entries: the entries last read from the store (done ones left out), by id.
        rows: their rows, by id.
        tasks: the downloads this window runs, by id.

    Signals:
        installed: a download finished and its model is installed (model id), here or in another process.
        message: something to tell the user (one line).
    """

    installed = Signal(str)
    message = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.queue = StoreQueue.of(ctx)  # opens nothing: its calls go to the database worker
        self.layout_ = QVBoxLayout(self)
        self.empty = QLabel("No downloads.")
        self.layout_.addWidget(self.empty)
        self.entries: dict[int, DownloadEntry] = {}
        self.rows: dict[int, DownloadRow] = {}
        self.tasks: dict[int, Operation] = {}
        self._announced: set[int] = set()  # finished downloads already reported through `installed`
        self._generation = 0  # bumped by every local change: a read that started before it is stale
        self._reading = False
        self._first_read = True
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)
        self.refresh()

    def refresh(self) -> None:
        """Read the queue on the database worker and show it (skipped while a read is in flight)."""
        if self._reading:
            return
        self._reading = True
        generation = self._generation
        query(self.queue.entries, lambda entries: self._show(entries, generation), self._read_failed)

    def _read_failed(self, error: str) -> None:
        self._reading = False
        self.message.emit(error)

    def _show(self, entries: list[DownloadEntry], generation: int) -> None:
        self._reading = False
        if generation != self._generation:  # the queue changed here since the read began: read it again
            self.refresh()
            return
        current = set()
        for entry in entries:
            if entry.state == DONE:
                if entry.id in self.entries and entry.id not in self._announced and entry.model_id:
                    self._announce(entry.id, entry.model_id)  # finished by another process
                continue
            current.add(entry.id)
            self.entries[entry.id] = entry
            row = self.rows.get(entry.id) or self._add_row(entry)
            row.show_state(entry, live=entry.id in self.tasks)
            if self._first_read and entry.state == QUEUED and entry.id not in self.tasks:
                self._start(entry.id)  # queued before a restart (or an older window's downloads.json): go on
        for gone in set(self.rows) - current - set(self.tasks):
            self._drop(gone)
        self._first_read = False
        self.empty.setVisible(not self.rows)

    def add(self, repo: str, filename: str, size_bytes: int, sha256: str | None) -> None:
        """Queue a file and download it here."""
        self._generation += 1
        query(lambda: self.queue.add(repo, filename, size_bytes, sha256), self._added, self.message.emit)

    def _added(self, result: tuple[DownloadEntry, bool]) -> None:
        entry, new = result
        if not new:
            self.message.emit(f"{entry.filename} is already in the download queue (download {entry.id}).")
            return
        self.entries[entry.id] = entry
        self._add_row(entry).show_state(entry)
        self._start(entry.id)

    def _add_row(self, entry: DownloadEntry) -> DownloadRow:
        row = DownloadRow(entry)
        entry_id = entry.id
        self.rows[entry_id] = row
        row.pause_toggled.connect(lambda: self._toggle(entry_id))
        row.cancel_pressed.connect(lambda: self._cancel(entry_id))
        self.layout_.addWidget(row)
        self.empty.hide()
        return row

    def _start(self, entry_id: int) -> None:
        """Download the entry in this window (resuming from its partial file)."""
        self._generation += 1
        row = self.rows[entry_id]
        task = Operation(lambda emit, cancel: resume(self.ctx, entry_id, emit, cancel))
        task.with_progress(row.show_progress)  # queued: runs on the GUI thread
        task.success(lambda model_id: self._finished(entry_id, model_id))
        task.failure(lambda error: self._failed(entry_id, error))
        self.tasks[entry_id] = task
        entry = self.entries.get(entry_id)
        if entry is not None:
            entry.state, entry.error = RUNNING, None
            row.show_state(entry, live=True)
            row.info.setText("starting")
        task.run_in_background()

    def _finished(self, entry_id: int, model_id: str) -> None:
        self._generation += 1
        self.tasks.pop(entry_id, None)
        entry = self.entries.get(entry_id)
        self._drop(entry_id)
        self.empty.setVisible(not self.rows)
        name = f"{entry.repo}/{entry.filename}" if entry else f"download {entry_id}"
        self.message.emit(f"Installed {name} as '{model_id}'.")
        self._announce(entry_id, model_id)

    def _announce(self, entry_id: int, model_id: str) -> None:
        self._announced.add(entry_id)
        self.installed.emit(model_id)

    def _failed(self, entry_id: int, error: str) -> None:
        self.tasks.pop(entry_id, None)
        self.message.emit(error)  # paused, cancelled or failed: the store has the state, the next read shows it
        self._generation += 1
        self.refresh()

    def _toggle(self, entry_id: int) -> None:
        entry = self.entries.get(entry_id)
        task = self.tasks.get(entry_id)
        if task is not None:
            task.cancel.cancel()  # stops at the next block; the partial file stays for the resume
        elif entry is not None and entry.state in (QUEUED, RUNNING):  # another process runs it: tell it
            self._generation += 1
            query(lambda: self.queue.pause(entry_id), lambda _entry: self.refresh(), self.message.emit)
        elif entry is not None:
            self._start(entry_id)

    def _cancel(self, entry_id: int) -> None:
        # through the store, even for a download of this window: its runner sees the entry gone at its next
        # block and deletes the partial file under the cache lock (a cancelled token would keep it)
        self._generation += 1

        def cancelled(_entry: DownloadEntry) -> None:
            if entry_id not in self.tasks:
                self._drop(entry_id)
            self.empty.setVisible(not self.rows)

        query(lambda: self.queue.cancel(entry_id), cancelled, self.message.emit)

    def _drop(self, entry_id: int) -> None:
        self.entries.pop(entry_id, None)
        row = self.rows.pop(entry_id, None)
        if row is not None:
            row.deleteLater()
