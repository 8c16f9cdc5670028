"""The window's view of how a thread's answers were made: the run timeline, and *Export report…*.

The report (`app.core.report`) is read on the database worker and written in a thread of its own; the timeline
shows it as a tree of plain text (every label comes from models, documents and tools: never markup).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.report import (
    Report,
    build_report,
    confidence_line,
    model_line,
    passages,
    provenance_rows,
    report_format,
    write_report,
)
from app.ui.operations import query
from app.ui.qt import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QPushButton,
    QThread,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)

REPORT_FILTERS = "HTML, opens offline (*.html);;PDF (*.pdf);;Markdown (*.md)"


def _names(window: Any) -> dict[str, str]:
    return {copilot_id: copilot.name for copilot_id, copilot in window.copilots.items()}


def _read_report(window: Any, then: Any) -> None:
    """The open thread's report, read on the database worker, handed to `then` on the GUI thread."""
    if window.thread_id is None:
        window.statusBar().showMessage("Open a thread first: the report is of the thread in view.", 8000)
        return
    store, thread_id, names = window.ctx.store, window.thread_id, _names(window)
    query(lambda: build_report(store, thread_id, names), then, window.error)


def open_timeline(window: Any) -> None:
    """*Run timeline…*: the open thread's runs, step by step, with each step's provenance."""

    def show(report: Report) -> None:
        window.timeline_dialog = RunTimeline(report, window)
        window.timeline_dialog.open()

    _read_report(window, show)


def export_report(window: Any, path: str | None = None) -> None:
    """*Export report…*: ask where (HTML, PDF or Markdown, by the name's ending), then write it off the GUI
    thread; the status bar says where it went, or why not."""
    if window.thread_id is None:
        window.statusBar().showMessage("Open a thread first: the report is of the thread in view.", 8000)
        return
    if path is None:
        suggested = str(Path.home() / f"roundtable-report-{window.thread_id[:8]}.html")
        path, _ = QFileDialog.getSaveFileName(window, "Export report", suggested, REPORT_FILTERS)
        if not path:
            return
    target = Path(path)
    if report_format(target) is None:
        target = target.with_suffix(".html")

    def write(report: Report) -> None:
        writer = ReportWriter(report, target, window)
        writer.written.connect(lambda: window.statusBar().showMessage(f"Wrote the report to {target}.", 15000))
        writer.failed.connect(window.error)
        writer.finished.connect(writer.deleteLater)
        window.report_writer = writer  # kept until it is done
        writer.start()

    _read_report(window, write)


class ReportWriter(QThread):
    """Writes one report in a thread of Qt's own: the PDF's text layout starts timers, which need the event
    dispatcher a QThread has and a plain thread lacks.

    Signals:
        written: the file is there, whole.
        failed: why it is not (the partial file is gone).
    """

    written = Signal()
    failed = Signal(str)

    def __init__(self, report: Report, target: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report, self.target = report, target

    def run(self) -> None:
        from app.ui.report_pdf import write_pdf

        try:
            write_report(self.report, self.target, report_format(self.target) or "html", write_pdf)
        except OSError as exc:
            self.failed.emit(f"Could not write {self.target}: {exc.strerror or exc}")
        else:
            self.written.emit()


class RunTimeline(QDialog):
    """A thread's runs as a tree: each question, the path the crew took (the router's choice, the plan,
    handoffs, consults, limits), and each reply with its model, confidence, sources and tool calls; a reply
    opens to its whole provenance."""

    def __init__(self, report: Report, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle(f"Run timeline — {report.title}")
        self.setAccessibleName("Run timeline")
        self.resize(820, 560)
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Step", "Details"])
        self.tree.setAccessibleName("Runs, steps and their provenance")
        self.tree.setColumnWidth(0, 280)
        self.tree.setWordWrap(True)
        layout.addWidget(self.tree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = QPushButton("Export report…")
        buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.export_button.clicked.connect(lambda: export_report(parent) if parent is not None else None)
        layout.addWidget(buttons)
        self._fill()

    def _fill(self) -> None:
        for n, run in enumerate(self.report.runs, 1):
            question = run.question.strip().splitlines()[0] if run.question.strip() else "(no question)"
            top = QTreeWidgetItem([f"{n}. {question[:80]}", f"asked by {run.asked_by}, {run.asked_at[:16]}"])
            self.tree.addTopLevelItem(top)
            path = " → ".join(["Question"] + [step.name for step in run.steps])
            QTreeWidgetItem(top, ["Path", path])
            for note in run.notes:
                QTreeWidgetItem(top, ["", note])
            for i, step in enumerate(run.steps, 1):
                found = passages(step)
                facts = [model_line(step), confidence_line(step.trace)]
                if found:
                    facts.append(f"{len(found)} passage{'s' if len(found) != 1 else ''}")
                if step.tools:
                    facts.append(f"{len(step.tools)} tool call{'s' if len(step.tools) != 1 else ''}")
                item = QTreeWidgetItem(top, [f"Step {i}: {step.name} ({step.status})", " · ".join(facts)])
                for label, value in provenance_rows(step):
                    QTreeWidgetItem(item, [label, value])
                for p in found:
                    score = f", score {p['score']}" if p.get("score") is not None else ""
                    QTreeWidgetItem(item, [f"Source [{p.get('number')}]", f"{p.get('title')}{score}"])
                for tool in step.tools:
                    QTreeWidgetItem(item, [f"Tool {tool.tool}", f"{tool.status}: {(tool.result or '')[:200]}"])
            top.setExpanded(True)
