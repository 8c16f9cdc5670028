"""The task board: every handoff in the workspace, grouped by status; click to jump to the answer."""

from __future__ import annotations

from app.ui.qt import Qt, QTreeWidget, QTreeWidgetItem, QWidget, Signal
from app.ui.reply_view import plain_tooltip

_ORDER = ("working", "pending", "done", "failed")


class TaskBoard(QTreeWidget):
    """Tasks by status.

    Signals:
        open_task: jump to a task's thread and answer (thread id, message id or "").
    """

    open_task = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Task", "From → to"])
        self.itemActivated.connect(self._activated)
        self.itemClicked.connect(self._activated)

    def set_tasks(self, tasks: list) -> None:
        self.clear()
        groups = {status: QTreeWidgetItem([status.title(), ""]) for status in _ORDER}
        for task in tasks:
            item = QTreeWidgetItem([task.task, f"{task.from_copilot} → {task.to_copilot}"])
            item.setData(0, Qt.ItemDataRole.UserRole, (task.thread_id, task.result_message_id or ""))
            item.setToolTip(0, plain_tooltip(task.context or task.task))  # written by a copilot: plain text
            groups.setdefault(task.status, QTreeWidgetItem([task.status.title(), ""])).addChild(item)
        for status, group in groups.items():
            group.setText(0, f"{status.title()} ({group.childCount()})")
            self.addTopLevelItem(group)
            group.setExpanded(status in ("working", "pending", "done"))
        self.resizeColumnToContents(1)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        target = item.data(0, Qt.ItemDataRole.UserRole)
        if target:
            self.open_task.emit(*target)
