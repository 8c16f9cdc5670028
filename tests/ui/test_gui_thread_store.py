"""The GUI thread never touches the database: every SQL statement the driven window causes runs in a worker."""

from __future__ import annotations

import threading
import traceback

import pytest

from app.ui.qt import Qt
from tests.conftest import PATIENCE_MS
from tests.fakehub import TEST_REPO

pytestmark = pytest.mark.gui
RUN_MS = 300_000  # a crew run on the starter model, on a busy 2-core machine: waited for, never timed
REPLY_TOKENS = 24  # the replies' length does not matter here


def _cap_replies(ctx) -> None:
    """Short replies: the test is about threads, not about what the model says (set up before the guard)."""
    for copilot in ctx.copilots():
        sampling = copilot.sampling.model_copy(update={"max_tokens": REPLY_TOKENS})
        capped = copilot.model_copy(update={"sampling": sampling})
        ctx.store.save_copilot(capped.id, capped.name, capped.model_dump())
    ctx.settings.max_hops = 0


def test_the_window_never_touches_the_store_on_the_gui_thread(qtbot, ctx, fake_hub, tmp_path) -> None:
    from app.ui.main_window import MainWindow
    from app.ui.overlay import Overlay

    _cap_replies(ctx)
    file = "SmolLM2-135M-Instruct-Q8_0.gguf"
    source = fake_hub.repos[TEST_REPO].files[file]
    # the trace callback sits on the real sqlite3 connection, under the store and everything built on it: no store
    # method, sqlite-utils call or raw query escapes it
    seen: list[str] = []
    connection = ctx.store.conn.db.conn
    gui_thread = threading.main_thread()

    def trace(sql: str) -> None:
        if threading.current_thread() is gui_thread:
            seen.append(f"{sql}\n{''.join(traceback.format_stack(limit=14)[:-1])}")

    connection.set_trace_callback(trace)
    try:
        # the window starts: welcome, workspaces, threads, roster, tasks, documents
        window = MainWindow(ctx)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.roster.list.count() == 4, timeout=PATIENCE_MS)

        # a crew run streams into a new thread
        window.composer.edit.setPlainText("@generalist What is a bond?")
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: window.run_task is not None, timeout=PATIENCE_MS)
        qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
        assert [w.status for w in window.thread_view.messages.values()][-1] == "complete"
        thread_id = window.thread_id
        assert thread_id is not None

        # a thread loads from the sidebar
        qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 1, timeout=PATIENCE_MS)
        window.sidebar.start_new()
        assert not window.thread_view.messages
        window.sidebar.threads.setCurrentItem(window.sidebar.thread_items()[0])
        qtbot.waitUntil(lambda: len(window.thread_view.messages) == 2, timeout=PATIENCE_MS)

        # the reply switches to its confidence view (its tokens read on the database worker) and back
        reply = list(window.thread_view.messages.values())[-1]
        reply.confidence_button.click()
        qtbot.waitUntil(lambda: reply.confidence_view is not None and reply.confidence_view.isVisible(), timeout=30000)
        reply.confidence_button.click()

        # the roster refreshes after a copilot is edited in the form
        window.roster.edit("writer")
        qtbot.waitUntil(
            lambda: window.roster.dialog is not None and window.roster.dialog.isVisible(), timeout=PATIENCE_MS
        )
        window.roster.dialog.description_edit.setText("Edited on a worker.")
        window.roster.dialog.accept()
        qtbot.waitUntil(
            lambda: any("Edited on a worker." in window.roster.list.item(i).text() for i in range(4)), timeout=30000
        )

        # settings are saved, the welcome dismissed, the tray notice's flag read
        with qtbot.waitSignal(window.settings_applied, timeout=PATIENCE_MS):
            window.apply_settings(ctx.settings.model_copy(update={"memory_budget_mb": 2048}))

        # the overlay asks (its own crew runner) and moves the exchange into the window
        overlay = Overlay(ctx, lambda: window.workspace_id, lambda: False)
        qtbot.addWidget(overlay)
        overlay.present()
        qtbot.waitUntil(lambda: overlay.copilot.count() == 4, timeout=PATIENCE_MS)
        overlay.prompt.setPlainText("What is a coupon?")
        overlay.ask()
        qtbot.waitUntil(lambda: overlay.run_task is not None, timeout=PATIENCE_MS)
        qtbot.waitUntil(lambda: overlay.run_task is None, timeout=RUN_MS)
        with qtbot.waitSignal(overlay.open_in_window, timeout=PATIENCE_MS):
            overlay.open_in_roundtable()

        # a download progresses into an installed model, which a copilot is then given
        window.open_models()
        panel = window.models_panel
        with qtbot.waitSignal(panel.models_changed, timeout=RUN_MS):
            panel.search.download_requested.emit(TEST_REPO, file, source.size, source.sha256)
        with qtbot.waitSignal(panel.installed.changed, timeout=PATIENCE_MS):
            panel.installed.bind("writer", "smollm2-135m-instruct-q8_0")

        # a folder is linked and scanned, and the watcher's next scan reaches the Documents tab
        linked = tmp_path / "linked"
        linked.mkdir()
        (linked / "one.md").write_text("The Lisbon office opens at 8:30.\n")
        window.documents.link(linked)
        qtbot.waitUntil(lambda: window.documents.list.count() == 1, timeout=PATIENCE_MS)
        (linked / "two.md").write_text("Walrus funds rebalance in March.\n")
        qtbot.waitUntil(lambda: window.documents.list.count() == 2, timeout=PATIENCE_MS)
        qtbot.waitUntil(lambda: window.documents.task is None, timeout=PATIENCE_MS)
        window.close()
    finally:
        connection.set_trace_callback(None)

    assert not seen, "the GUI thread ran SQL:\n\n" + "\n\n".join(seen)
    assert ctx.copilot("writer").model == "smollm2-135m-instruct-q8_0"
    assert len(ctx.store.list_threads()) == 2  # the window's thread and the overlay's, moved in
