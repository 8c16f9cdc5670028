"""Tool consent in the window: the question asked before a copilot runs a tool (who, which tool, every
argument, as plain text), and the list of saved "always allow" answers with Revoke, for Settings."""

from __future__ import annotations

from typing import Any

from app.core.crew.tools import Consent, format_arguments, reveal
from app.ui.operations import query
from app.ui.qt import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFont,
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


class ToolApprovalDialog(QDialog):
    """Asks allow once / always allow here / deny for a worker's ToolApproval, and hands the answer back.

    Nothing in it is rich text: the names are plain-text labels with hidden characters escaped, and the
    arguments sit whole in a read-only plain-text view that wraps anywhere and scrolls, so no part of an
    argument can be cut off, hidden or styled into something else.

    Attributes:
        question: the worker's ToolApproval; answered when the dialog closes (closed any other way: deny).
        summary: who wants which tool.
        arguments: the arguments as pretty JSON.
        once, always, deny: the three answers' buttons (deny is the default).
    """

    def __init__(self, question: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Allow a tool?")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.question = question
        self._consent = Consent.DENY
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
        self.arguments.setMinimumSize(480, 160)
        note = QLabel(
            "Allow once: this call only. Always allow here: this copilot may use this tool in this workspace"
            " without asking, until you revoke it in Settings."
        )
        note.setTextFormat(Qt.TextFormat.PlainText)
        note.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.once = buttons.addButton("Allow once", QDialogButtonBox.ButtonRole.AcceptRole)
        self.always = buttons.addButton("Always allow here", QDialogButtonBox.ButtonRole.AcceptRole)
        self.deny = buttons.addButton("Deny", QDialogButtonBox.ButtonRole.RejectRole)
        self.deny.setDefault(True)  # Enter without a look does not allow anything
        buttons.clicked.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.arguments, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.finished.connect(self._answer)
        # a dialog destroyed unanswered (its window closed) must not leave the worker waiting
        answered = question.answered
        self.destroyed.connect(lambda *_: answered.set())
        self.deny.setFocus()

    def _chosen(self, button: Any) -> None:
        self._consent = (
            Consent.ONCE if button is self.once else Consent.ALWAYS if button is self.always else Consent.DENY
        )
        self.done(QDialog.DialogCode.Rejected if self._consent is Consent.DENY else QDialog.DialogCode.Accepted)

    def _answer(self) -> None:
        self.question.consent = self._consent
        self.question.answered.set()


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
