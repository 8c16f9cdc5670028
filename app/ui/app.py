"""Starting the desktop app: the Qt application, the theme, the core, and the main window."""

from __future__ import annotations

import sys

from app import __version__


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window and run until it is closed; returns the exit status."""
    from app.core.context import AppContext
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication
    from app.ui.theme import apply_theme

    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName("Roundtable")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("roundtable")
    ctx = AppContext()
    apply_theme(app, ctx.settings.theme)
    window = MainWindow(ctx)
    window.show()
    try:
        return app.exec()
    finally:
        ctx.close()
