"""Real Qt widgets, offscreen, on a real AppContext (starter model, temporary ROUNDTABLE_HOME)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from tests.conftest import PATIENCE_MS


@pytest.fixture
def window(qtbot, ctx):
    from app.ui.main_window import MainWindow
    from app.ui.qt import QApplication
    from app.ui.theme import apply_theme

    apply_theme(QApplication.instance(), "light")
    main = MainWindow(ctx)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(lambda: main.roster.list.count() == 4, timeout=PATIENCE_MS)
    yield main
    if main.run_task is not None:
        main.run_task.cancel.cancel()
        qtbot.waitUntil(lambda: main.run_task is None, timeout=PATIENCE_MS)
    main.documents.stop_watching()  # before the store closes: the watcher reads it every few seconds
