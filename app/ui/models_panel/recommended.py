"""The Recommended list: a few well-known models judged for this machine, each with a fit badge and one button that
downloads it and gives it to the crew. The first-run welcome and the model manager's first tab both show it.

A download goes through the store's queue like every other (`pull_model`: the Downloads tab and `roundtable models
downloads` see it, and can pause or cancel it); its progress is a `DownloadRow` in the entry's row. Once installed,
the model goes to the entry's copilots (`recommended.give_to_crew`, on the database worker).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.core.hub.queue import DONE, DownloadEntry, DownloadQueue
from app.core.hub.recommended import Recommendation, Recommendations, crew_for, give_to_crew, installed_repos
from app.ui.design import set_role
from app.ui.models_panel.downloads import DownloadRow
from app.ui.models_panel.search import _mb, fit_badge
from app.ui.operations import Operation, query, run_in_background
from app.ui.qt import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, Qt, QVBoxLayout, QWidget, Signal
from app.ui.reply_view import plain_tooltip

OFFLINE = (
    "The Hugging Face Hub cannot be reached, so nothing can be downloaded now. The starter crew works offline: "
    "you can start right away, and come back here when you are online."
)
DOWNLOAD = "Download and add to crew"
ADD = "Add to crew"  # the model is installed already: the button only gives it to the copilots


def describe_machine(hardware: Any) -> str:
    """This machine in one line (plain text): CPU, RAM, GPUs, llama.cpp's backend."""
    gpus = "; ".join(f"{g.name}: {g.free_bytes / 1e9:.1f} of {g.total_bytes / 1e9:.1f} GB free" for g in hardware.gpus)
    return (
        f"This machine: {hardware.cpu_name}, {hardware.physical_cores} cores, "
        f"{hardware.ram_available_bytes / 1e9:.1f} of {hardware.ram_total_bytes / 1e9:.1f} GB RAM free; "
        f"GPU: {gpus or 'none'}; llama.cpp backend: {hardware.backend}."
    )


def _plain(text: str = "", role: str | None = None, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # file names and errors from the Hub are data
    label.setWordWrap(wrap)
    if role:
        set_role(label, role)
    return label


def _listing(names: Sequence[str]) -> str:
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


class RecommendedRow(QFrame):
    """One recommended model: what it is, how it fits here, who gets it, and its button.

    Attributes:
        item: the entry as judged for this machine.
        model_id: the installed model of its repo, if any.
        progress: the download's row while it downloads (None otherwise).

    Signals:
        pressed: the button was pressed.
    """

    pressed = Signal()

    def __init__(self, item: Recommendation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = item
        self.model_id: str | None = None
        self.progress: DownloadRow | None = None
        self.setObjectName("recommended")
        self.layout_ = layout = QVBoxLayout(self)
        top = QHBoxLayout()
        name = _plain(item.model.name, wrap=False)
        font = name.font()
        font.setBold(True)
        name.setFont(font)
        top.addWidget(name)
        top.addWidget(_plain(item.model.params, "chip", wrap=False))
        top.addStretch(1)
        self.button = QPushButton(DOWNLOAD)
        set_role(self.button, "primary")
        top.addWidget(self.button)
        layout.addLayout(top)
        chips = QHBoxLayout()
        self.badge = _plain(f"Fit: {fit_badge(item.fit.fit, item.fit.gpu_layers)}", "chip", wrap=False)
        if item.fit.fit == "no":
            set_role(self.badge, "warning")
        chips.addWidget(self.badge)
        if item.suggested:
            chips.addWidget(_plain("★ suggested for this machine", "chip", wrap=False))
        chips.addStretch(1)
        layout.addLayout(chips)
        layout.addWidget(_plain(item.model.good_for))
        where = "from the Hub" if item.filename else "about, from the list"
        self.details = _plain(
            f"{item.quant}, {_mb(item.size_bytes)} ({where}); needs about {_mb(item.fit.est_memory_bytes)} at "
            f"{item.fit.context:,} tokens of context.",
            "muted",
        )
        layout.addWidget(self.details)
        self.crew = _plain("", "muted")
        layout.addWidget(self.crew)
        self.status = _plain(item.note, "muted")
        self.status.setVisible(bool(item.note))
        layout.addWidget(self.status)
        self.button.clicked.connect(self.pressed)
        self.show_ready()

    def show_crew(self, names: Sequence[str], model_id: str | None) -> None:
        """Who gets the model, and whether its repo is installed already."""
        self.model_id = model_id
        self.crew.setText(f"Goes to {_listing(names)}." if names else "No local copilot to give it to.")
        self.show_ready()

    def show_ready(self) -> None:
        self.button.setText(ADD if self.model_id else DOWNLOAD)
        self.button.setAccessibleName(f"{self.button.text()}: {self.item.model.name}")  # one of several alike
        self.button.setEnabled(bool(self.model_id or self.item.filename) and self.progress is None)
        unlisted = not self.button.isEnabled() and self.progress is None
        # no note: the Hub was not reached at all (the section says so above the list)
        reason = self.item.note or "Downloads need the Hugging Face Hub, which cannot be reached now."
        self.button.setToolTip(plain_tooltip(reason) if unlisted else "")

    def show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def start_download(self, entry: DownloadEntry) -> DownloadRow:
        self.progress = DownloadRow(entry)
        self.progress.pause.hide()  # pausing and resuming live in the Downloads tab
        self.layout_.addWidget(self.progress)
        self.show_status("")
        self.show_ready()
        return self.progress

    def end_download(self, text: str) -> None:
        if self.progress is not None:
            self.progress.deleteLater()
            self.progress = None
        self.show_status(text)
        self.show_ready()


class RecommendedSection(QWidget):
    """The curated models for this machine, best first; read when first shown (the hardware, then the Hub).

    Attributes:
        rows: the rows by repo id.
        result: the last `Recommendations`, None until read.
        tasks: the downloads running from here, by repo id.

    Signals:
        machine: this machine in one line (plain text), once its hardware is read.
        models_changed: a model was installed or given to copilots.
        message: a one-line note or error for the user.
    """

    machine = Signal(str)
    models_changed = Signal()
    message = Signal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None, list_file: Path | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.list_file = list_file  # None: the list shipped in resources/
        self.rows: dict[str, RecommendedRow] = {}
        self.result: Recommendations | None = None
        self.tasks: dict[str, Operation] = {}
        self._cancelling: set[str] = set()
        self._asked = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.status = _plain("Looking at this machine and the Hub…", "muted")
        layout.addWidget(self.status)
        self.reason = _plain("", "muted")
        self.reason.hide()
        layout.addWidget(self.reason)
        self.retry = QPushButton("Try again")
        self.retry.setAutoDefault(False)  # in the model manager's dialog it would be styled as the default
        self.retry.hide()
        layout.addWidget(self.retry, 0, Qt.AlignmentFlag.AlignLeft)
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        self.list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.list)
        layout.addWidget(scroll, 1)
        self.retry.clicked.connect(self.refresh)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._asked:  # the Hub is asked only once someone looks
            self.refresh()

    def refresh(self) -> None:
        """Judge the list for this machine again, in a thread of its own (it asks the Hub)."""
        from app.core.hardware import probe
        from app.core.hub.recommended import load_recommended, recommend

        if self.tasks:
            return  # a download's row would be rebuilt under it
        self._asked = True
        self.retry.setEnabled(False)
        list_file, context = self.list_file, self.ctx.settings.context_size
        self.status.setText("Looking at this machine and the Hub…")
        run_in_background(lambda: recommend(load_recommended(list_file), probe(), context), self._show, self._failed)

    def _failed(self, error: str) -> None:
        self.retry.setEnabled(True)
        self.retry.show()
        self.status.setText(error)
        set_role(self.status, "error")
        self.message.emit(error)

    def _show(self, result: Recommendations) -> None:
        self.result = result
        self.machine.emit(describe_machine(result.hardware))
        offline = result.hub_problem is not None
        self.status.setText(OFFLINE if offline else "Sizes from the Hugging Face Hub; ★ marks the best fit here.")
        set_role(self.status, "warning" if offline else "muted")
        self.reason.setText(result.hub_problem or "")
        self.reason.setVisible(offline)
        self.retry.setVisible(offline)
        self.retry.setEnabled(True)
        for row in self.rows.values():
            row.deleteLater()
        self.rows = {}
        for item in result.items:
            row = RecommendedRow(item)
            repo = item.model.repo
            row.pressed.connect(lambda repo=repo: self.download(repo))
            self.list_layout.insertWidget(self.list_layout.count() - 1, row)
            self.rows[repo] = row
        self.show_crew()

    def show_crew(self) -> None:
        """Who each model goes to, and which are installed already (read on the database worker)."""
        ctx = self.ctx
        query(lambda: (ctx.copilots(), installed_repos(ctx)), self._crew_read, self.message.emit)

    def _crew_read(self, found: tuple[list[Any], dict[str, str]]) -> None:
        copilots, installed = found
        for repo, row in self.rows.items():
            crew = crew_for(copilots, row.item.model.roles, self.ctx.settings.default_copilot)
            row.show_crew([c.name for c in crew], installed.get(repo))

    def download(self, repo: str) -> None:
        """Download the entry's chosen file (or take the installed one), then give it to the crew."""
        from app.core.hub.installed import pull_model

        row = self.rows[repo]
        item = row.item
        if row.model_id:
            self._give(row, row.model_id)
            return
        if item.filename is None or repo in self.tasks:
            return
        ctx, filename = self.ctx, item.filename
        progress = row.start_download(DownloadEntry(repo, filename, item.size_bytes, None))
        progress.info.setText("starting")
        task = Operation(lambda emit, cancel: pull_model(ctx, repo, filename=filename, progress=emit, cancel=cancel))
        task.with_progress(progress.show_progress)  # queued: runs on the GUI thread
        task.success(lambda result: self._give(row, result[0]))
        task.failure(lambda error: self._stopped(repo, error))
        progress.cancel_pressed.connect(lambda: self._cancel(repo))
        self.tasks[repo] = task
        task.run_in_background()

    def _cancel(self, repo: str) -> None:
        task = self.tasks.get(repo)
        if task is not None:
            self._cancelling.add(repo)
            task.cancel.cancel()  # stops at its next block; the entry and its partial file are dropped after

    def _stopped(self, repo: str, error: str) -> None:
        self.tasks.pop(repo, None)
        row = self.rows[repo]
        if repo not in self._cancelling:
            row.end_download(error)
            self.message.emit(error)
            return
        self._cancelling.discard(repo)
        queue, filename = DownloadQueue.of(self.ctx), row.item.filename or ""

        def drop() -> None:  # the download has stopped: its queue entry and partial file go now
            entry = queue.find(repo, filename)
            if entry is not None and entry.state != DONE:
                queue.cancel(entry.id)

        query(drop, lambda _r: row.end_download("Download cancelled."), self.message.emit)

    def _give(self, row: RecommendedRow, model_id: str) -> None:
        self.tasks.pop(row.item.model.repo, None)
        self._cancelling.discard(row.item.model.repo)
        ctx, roles = self.ctx, row.item.model.roles

        def given(names: list[str]) -> None:
            row.model_id = model_id
            text = (
                f"{_listing(names)} now answer{'s' if len(names) == 1 else ''} with {model_id}."
                if names
                else (f"Installed as {model_id}: give it to a copilot under On this machine.")
            )
            row.end_download(text)
            self.message.emit(text)
            self.models_changed.emit()
            self.show_crew()

        def failed(error: str) -> None:
            row.model_id = model_id  # installed all the same: the button gives it again
            row.end_download(error)
            self.message.emit(error)

        query(lambda: give_to_crew(ctx, model_id, roles), given, failed)
