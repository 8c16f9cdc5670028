"""The copilot form's tools: the built-in tools and each registered tool server, checked where the copilot may
use them. Checking grants, unchecking revokes; a grant of one tool of a server stays as it is."""

from __future__ import annotations

from typing import Any

from app.core.crew.tools import reveal
from app.ui.qt import QListWidget, QListWidgetItem, Qt


def tool_choices(store: Any) -> list[tuple[str, str]]:
    """What a copilot can be granted, as (grant, label): each built-in tool, then each registered server (all its
    tools). Reads the store: call it in a worker."""
    from app.core.tools import builtin

    choices = [(f"{builtin.SERVER}.{t.name}", f"{builtin.SERVER}.{t.name} (built in)") for t in builtin.TOOLS.values()]
    for name, stored in sorted(store.tool_servers().items()):
        where = stored.get("url", "remote") if isinstance(stored, dict) else " ".join(stored)[:60]
        choices.append((name, f"{name}: every tool of this server ({where})"))
    return choices


class ToolGrants(QListWidget):
    """A checkable list of grants. Names come from tool servers and manifests: plain items, hidden characters
    shown escaped."""

    def __init__(self, granted: list[str], choices: list[tuple[str, str]]) -> None:
        super().__init__()
        listed = {grant for grant, _ in choices}
        # a grant the copilot has that is not offered (one tool of a server, or a server since removed) stays
        rows = [*choices, *((g, f"{g} (granted)") for g in granted if g not in listed)]
        for grant, label in rows:
            item = QListWidgetItem(reveal(label))
            item.setData(Qt.ItemDataRole.UserRole, grant)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if grant in granted else Qt.CheckState.Unchecked)
            self.addItem(item)
        self.setMaximumHeight(min(140, 24 * max(len(rows), 1) + 8))
        self.setToolTip("The tools this copilot may use; each call still asks you first unless allowed always")

    def granted(self) -> list[str]:
        items = [self.item(i) for i in range(self.count())]
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in items
            if item is not None and item.checkState() == Qt.CheckState.Checked
        ]
