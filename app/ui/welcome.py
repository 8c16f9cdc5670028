"""The first-run welcome: this machine, what works already, and the Recommended list with one-click downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.ui.design import set_role
from app.ui.models_panel.recommended import RecommendedSection
from app.ui.operations import query
from app.ui.qt import QFrame, QHBoxLayout, QLabel, QPushButton, Qt, QVBoxLayout, QWidget, Signal

INTRO = (
    "Your starter crew (Generalist, Analyst, Writer and Reviewer) runs offline on a small bundled model, so you "
    "can start right away: type below, or @mention a copilot. For better answers, download a model that fits this "
    "machine: it goes straight to the copilots it suits. The Model manager (Ctrl+M) finds more."
)


class WelcomeView(QFrame):
    """Shown on first run in place of the empty thread: this machine and the recommended models for it.

    Attributes:
        recommended: the Recommended list (the model manager's first tab shows one too).

    Signals:
        dismissed: the user closed the welcome; the store remembers it (meta `welcome_dismissed`).
        models_changed: a model was installed or given to copilots.
        message: a one-line note for the status bar.
    """

    dismissed = Signal()
    models_changed = Signal()
    message = Signal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None, list_file: Path | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("welcome")
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        heading = QLabel("Welcome to Roundtable")
        heading.setObjectName("heading")
        top.addWidget(heading, 1)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip("Hide this welcome for good; the Model manager (Ctrl+M) keeps the list.")
        top.addWidget(self.dismiss_button)
        layout.addLayout(top)
        intro = INTRO
        if ctx.settings.overlay_shortcut:
            intro += f" Press {ctx.settings.overlay_shortcut} anywhere on your desktop to ask a copilot in a small box."
        self.intro = QLabel(intro)
        self.intro.setTextFormat(Qt.TextFormat.PlainText)
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.machine = QLabel("Looking at this machine…")
        self.machine.setTextFormat(Qt.TextFormat.PlainText)  # GPU names come from the driver
        self.machine.setWordWrap(True)
        set_role(self.machine, "muted")
        layout.addWidget(self.machine)
        recommended = QLabel("Recommended for this machine")
        recommended.setObjectName("heading")
        layout.addWidget(recommended)
        self.recommended = RecommendedSection(ctx, list_file=list_file)
        layout.addWidget(self.recommended, 1)
        self.dismiss_button.clicked.connect(self.dismiss)
        self.recommended.machine.connect(self.machine.setText)
        self.recommended.models_changed.connect(self.models_changed)
        self.recommended.message.connect(self.message)

    def dismiss(self) -> None:
        """Hide the welcome, and remember that (on the database worker)."""
        store = self.ctx.store
        self.hide()
        query(lambda: store.set_meta("welcome_dismissed", True), None, self.message.emit)
        self.dismissed.emit()
