"""The memory bar: what the loaded models take against the memory budget (Settings → memory budget)."""

from __future__ import annotations

from typing import Any

from app.ui.operations import run_in_background
from app.ui.qt import QProgressBar, QTimer, QWidget

REFRESH_MS = 5000  # loaded models change as copilots answer; the hosts' memory is read this often while shown


def _gb(count: int) -> str:
    return f"{count / 1e9:.1f} GB"


class MemoryBar(QProgressBar):
    """Loaded models' estimated memory (what the pool counts against its budget) as a share of the budget; the
    memory their processes hold now in the tooltip.

    Attributes:
        used_bytes: the loaded models' estimates, summed, as last read.
        budget_bytes: the budget, as last read.
    """

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.used_bytes = 0
        self.budget_bytes = 0
        self._reading = False
        self.setRange(0, 1000)
        self.setValue(0)
        self.setFormat("Loaded models: reading…")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.refresh()
        self.timer.start(REFRESH_MS)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().hideEvent(event)
        self.timer.stop()

    def refresh(self) -> None:
        """Read the loaded hosts' memory in a thread of its own (psutil, never the store)."""
        if self._reading:
            return
        self._reading = True
        pool = self.ctx.pool

        def measure() -> tuple[int, int, int]:
            loaded = pool.loaded()
            return sum(i["estimate_bytes"] for i in loaded), sum(i["rss_bytes"] for i in loaded), pool.budget_bytes

        run_in_background(measure, lambda found: self.show_usage(*found), lambda _error: self._done())

    def _done(self) -> None:
        self._reading = False

    def show_usage(self, used_bytes: int, rss_bytes: int, budget_bytes: int) -> None:
        self._done()
        self.used_bytes, self.budget_bytes = used_bytes, budget_bytes
        share = used_bytes / budget_bytes if budget_bytes else 0.0
        self.setValue(min(int(share * 1000), 1000))
        over = "; over it: idle models are unloaded before the next one loads" if share > 1 else ""
        self.setFormat(f"Loaded models: {_gb(used_bytes)} of the {_gb(budget_bytes)} memory budget{over}")
        self.setToolTip(
            f"Estimated for the loaded models: {_gb(used_bytes)}; their processes hold {_gb(rss_bytes)} now. "
            "Change the budget in Settings."
        )
