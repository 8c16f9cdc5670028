"""A report as PDF, printed by Qt's own text engine: no browser, no other program."""

from __future__ import annotations

from pathlib import Path

from app.core.report import Report
from app.core.report_render import to_html
from app.ui.qt import QGuiApplication, QPageSize, QPdfWriter, QTextDocument


def write_pdf(report: Report, path: Path) -> None:
    """Print the report (its HTML, the path drawn as a table) to an A4 PDF at `path`.

    Needs a Qt application: the command line starts an offscreen one (`offscreen_app`)."""
    document = QTextDocument()
    document.setHtml(to_html(report, svg=False))  # Qt's rich text draws no SVG; everything in it is escaped
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setTitle(f"Report: {report.title}")
    writer.setCreator("Roundtable")
    document.print_(writer)


def offscreen_app() -> QGuiApplication:
    """The running Qt application, or a new offscreen one (the command line has no window to show)."""
    app = QGuiApplication.instance()
    if app is None:
        app = QGuiApplication(["roundtable", "-platform", "offscreen"])
    assert isinstance(app, QGuiApplication)
    return app
