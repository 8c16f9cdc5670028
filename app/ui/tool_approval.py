"""Tool consent in the window: the question asked before a copilot runs a tool (who, which tool, every
argument, as plain text) as a card in the conversation, and the list of saved "always allow" answers with
Revoke, for Settings."""

from __future__ import annotations

from typing import Any

from app.core.crew.tools import Consent, format_arguments, reveal
from app.ui.operations import query
from app.ui.qt import (
    QAbstractItemView,
    QFont,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTextOption,
    QVBoxLayout,
    QWidget,
    Signal,
)


class ToolApprovalCard(QFrame):
    """The question asked before a copilot runs a tool, as a card in the conversation (the thread or the
    overlay): who wants which tool, every argument, and Allow once / Always for this tool in this workspace /
    Deny. The answer goes back to the waiting worker; the card stays, saying what was answered.

    Nothing in it is rich text: the names are plain-text labels with hidden characters escaped, and the
    arguments sit whole in a read-only plain-text view that wraps anywhere and scrolls, so no part of an
    argument can be cut off, hidden or styled into something else.

    Attributes:
        question: the worker's ToolApproval; answered by a button, or denied when the card goes away unanswered
            or the run ends first (`expire`).
        summary: who wants which tool.
        arguments: the arguments as pretty JSON.
        once, always, deny: the three answers' buttons (deny has the focus: Space without a look allows nothing).
        outcome: what was answered, once it was.

    Signals:
        answered: the user answered (the Consent).
    """

    answered = Signal(object)

    def __init__(self, question: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("approvalCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#approvalCard { border: 1px solid palette(highlight); border-radius: 6px }")
        self.question = question
        self.summary = QLabel(
            f"{reveal(question.copilot)} wants to use the tool {reveal(question.tool)} with these arguments:"
        )
        self.summary.setTextFormat(Qt.TextFormat.PlainText)  # names come from manifests and tool servers
        self.summary.setWordWrap(True)
        self.arguments = QPlainTextEdit(format_arguments(question.arguments))
        self.arguments.setReadOnly(True)
        self.arguments.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        # a long value with no spaces wraps too, instead of running past the right edge out of sight
        self.arguments.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.arguments.setFont(QFont("monospace"))
        lines = self.arguments.document().lineCount()
        self.arguments.setFixedHeight(min(220, 28 + 18 * max(lines, 1)))  # a short call stays short; long ones scroll
        self.once = QPushButton("Allow once")
        self.once.setToolTip("This call only")
        self.always = QPushButton("Always for this tool here")
        self.always.setToolTip(
            "This copilot may use this tool in this workspace without asking, until you revoke it in Settings"
        )
        self.deny = QPushButton("Deny")
        self.outcome = QLabel()
        self.outcome.setTextFormat(Qt.TextFormat.PlainText)
        self.outcome.setProperty("role", "muted")
        self.outcome.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.outcome, 1)
        buttons.addStretch()
        for button, consent in ((self.once, Consent.ONCE), (self.always, Consent.ALWAYS), (self.deny, Consent.DENY)):
            button.clicked.connect(lambda _checked=False, chosen=consent: self.answer(chosen))
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.summary)
        layout.addWidget(self.arguments)
        layout.addLayout(buttons)
        # a card destroyed unanswered (its thread cleared, its window closed) must not leave the worker waiting
        waiting = question.answered
        self.destroyed.connect(lambda *_: waiting.set())

    @property
    def open(self) -> bool:
        return not self.question.answered.is_set()

    def focus(self) -> None:
        self.deny.setFocus()

    def answer(self, consent: Consent) -> None:
        if not self.open:
            return
        self.question.consent = consent
        self.question.answered.set()
        self._close(_OUTCOMES[consent])
        self.answered.emit(consent)

    def expire(self) -> None:
        """The run ended before an answer: nothing was allowed."""
        if self.open:
            self.question.answered.set()  # consent stays DENY
            self._close("Not answered: the run ended, nothing was allowed.")

    def _close(self, outcome: str) -> None:
        for button in (self.once, self.always, self.deny):
            button.hide()
        self.outcome.setText(outcome)
        self.outcome.show()


_OUTCOMES = {
    Consent.ONCE: "Allowed once.",
    Consent.ALWAYS: "Allowed always for this tool in this workspace (Settings revokes it).",
    Consent.DENY: "Denied.",
}


class ToolApprovalsList(QWidget):
    """The saved "always allow" answers (workspace, copilot, tool, since), each revocable; the store is read
    and written in workers, never on the GUI thread.

    Attributes:
        table: one row per saved answer.
        revoke: forgets the selected answer; that tool asks again.
        status: loading, empty, or what went wrong.

    Signals:
        loaded: the table has been filled from the store (after opening and after each revoke).
    """

    loaded = Signal()

    def __init__(self, store: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.rows: list[dict] = []
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Workspace", "Copilot", "Tool", "Allowed since"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.revoke = QPushButton("Revoke")
        self.revoke.setEnabled(False)
        self.revoke.clicked.connect(self._revoke)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.revoke)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(row)
        self.reload()

    def reload(self) -> None:
        self.status.setText("Loading…")
        self.revoke.setEnabled(False)
        query(self.store.tool_approvals, self._show, self._failed)

    def _show(self, rows: list[dict]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for index, approval in enumerate(rows):
            since = approval["approved_at"][:16].replace("T", " ")
            for column, text in enumerate([approval["workspace"], approval["copilot_id"], approval["tool"], since]):
                self.table.setItem(index, column, QTableWidgetItem(reveal(text)))  # items are plain text
        self.status.setText("" if rows else "None: copilots ask before every tool call.")
        self.loaded.emit()

    def _selection_changed(self) -> None:
        self.revoke.setEnabled(bool(self.table.selectionModel().selectedRows()))

    def _revoke(self) -> None:
        selected = self.table.selectionModel().selectedRows()
        if not selected:
            return
        approval = self.rows[selected[0].row()]
        self.revoke.setEnabled(False)
        self.status.setText(f"Revoking {reveal(approval['tool'])}…")
        workspace, tool, copilot = approval["workspace_id"], approval["tool"], approval["copilot_id"]
        store = self.store
        query(lambda: store.revoke_tool_approvals(workspace, tool, copilot), self._revoked, self._failed)

    def _revoked(self, _count: int) -> None:
        self.reload()

    def _failed(self, message: str) -> None:
        self.status.setText(message)
