"""In the window: a damaged copilot row never stops it opening; an imported remote copilot is marked, and a run
asks the user to confirm its endpoint in a dialog (real widgets, offscreen) before anything is sent."""

import pytest

from tests.conftest import PATIENCE_MS
from tests.core.store.archive_builder import content, remote_copilot, write_archive
from tests.loopback import LoopbackServer, Response, sse

pytestmark = pytest.mark.gui


def test_the_window_opens_with_a_damaged_copilot_row_and_says_so(qtbot, ctx) -> None:
    from app.ui.main_window import MainWindow

    with ctx.store.conn.transaction() as db:
        db.execute(
            "INSERT INTO copilots (id, name, manifest, created_at, updated_at) VALUES ('broken', 'B', '{\"id\": 5}',"
            " 'x', 'x')"
        )
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.roster.list.count() == 4 and window.roster.warning.isVisible(), timeout=PATIENCE_MS)
    assert "`roundtable copilots rm broken` removes it" in window.roster.warning.text()
    assert "broken" not in window.copilots


@pytest.fixture
def imported(ctx, tmp_path):
    """A workspace imported from an archive whose only copilot is remote, served on loopback."""
    from app.core.store.archive import import_workspace

    server = LoopbackServer()
    server.routes[("POST", "/v1/chat/completions")] = lambda _request: Response(
        chunks=[sse(None, {"choices": [{"index": 0, "delta": {"content": "Hi."}, "finish_reason": "stop"}]})]
    )
    archive = write_archive(tmp_path / "finance.roundtable", content([remote_copilot("quant", server.url)]))
    report = import_workspace(ctx.store, archive)
    yield server, report.workspace
    server.close()


@pytest.mark.parametrize("confirm", [True, False])
def test_a_run_asks_before_an_imported_endpoint_is_used(qtbot, window, ctx, imported, confirm) -> None:
    from app.ui.endpoint_dialog import EndpointDialog
    from app.ui.qt import Qt

    server, workspace = imported
    window._workspace_changed(workspace)
    qtbot.waitUntil(lambda: window.roster.list.count() == 1, timeout=PATIENCE_MS)
    assert window.roster.list.item(0).text().startswith("⚠ Quant (imported, needs review)")
    assert server.url in window.roster.list.item(0).toolTip()

    window.send("What coupon does the Zephyr bond pay?")
    qtbot.waitUntil(
        lambda: window.findChild(EndpointDialog) is not None and window.findChild(EndpointDialog).isVisible(),
        timeout=PATIENCE_MS,
    )
    dialog = window.findChild(EndpointDialog)
    assert dialog.text.textFormat() == Qt.TextFormat.PlainText and server.url in dialog.text.text()
    assert server.requests == []  # nothing is sent while the question is open
    button = dialog.confirm_button if confirm else dialog.cancel_button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.run_task is None, timeout=PATIENCE_MS)
    review = ctx.copilot_list().review
    if confirm:
        assert len(server.requests) == 1 and "quant" not in review
        qtbot.waitUntil(lambda: "needs review" not in window.roster.list.item(0).text(), timeout=PATIENCE_MS)
    else:
        assert server.requests == [] and "quant" in review
        assert "Not sent: you did not confirm copilot 'quant'" in window.statusBar().currentMessage()
        assert [t.title for t in ctx.store.list_threads(workspace)] == ["Bonds"]  # the archive's; none new


@pytest.mark.parametrize(
    ("how", "confirm"), [("picked", True), ("picked", False), ("mentioned", False)], ids=["yes", "no", "mention-no"]
)
def test_the_overlay_asks_before_an_imported_endpoint_is_used(qtbot, ctx, imported, how, confirm) -> None:
    from app.core.store.workspaces import DEFAULT_WORKSPACE, QUICK_ASK_WORKSPACE
    from app.ui.endpoint_dialog import EndpointDialog
    from app.ui.overlay import Overlay
    from app.ui.qt import Qt

    server, _workspace = imported
    overlay = Overlay(ctx, lambda: DEFAULT_WORKSPACE, lambda: False)
    qtbot.addWidget(overlay)
    qtbot.waitUntil(lambda: overlay.copilot.findData("quant") >= 0, timeout=PATIENCE_MS)
    overlay.present()
    overlay.copilot.setCurrentIndex(overlay.copilot.findData("quant" if how == "picked" else "generalist"))
    overlay.prompt.setPlainText(("@quant " if how == "mentioned" else "") + "What coupon does the Zephyr bond pay?")
    overlay.ask()

    def dialog() -> EndpointDialog | None:
        shown = [d for d in overlay.findChildren(EndpointDialog) if d.isVisible()]
        return shown[0] if shown else None

    qtbot.waitUntil(lambda: dialog() is not None, timeout=PATIENCE_MS)
    asking = dialog()
    assert asking.text.textFormat() == Qt.TextFormat.PlainText and server.url in asking.text.text()
    assert server.requests == []  # nothing is sent while the question is open
    qtbot.mouseClick(asking.confirm_button if confirm else asking.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: overlay.run_task is None, timeout=PATIENCE_MS)
    if confirm:
        assert len(server.requests) == 1 and "quant" not in ctx.copilot_list().review
        assert overlay.answer == "Hi." and overlay.answer_view.toPlainText() == "Hi."
    else:
        assert server.requests == [] and "quant" in ctx.copilot_list().review
        assert overlay.status.text().startswith("Not sent: you did not confirm copilot 'quant'")
        assert ctx.store.list_threads(QUICK_ASK_WORKSPACE) == []  # nothing stored


@pytest.mark.parametrize("how", ["closed", "destroyed"])
def test_a_question_closed_or_destroyed_unanswered_is_a_no(qtbot, ctx, imported, how) -> None:
    from app.ui.endpoint_dialog import EndpointDialog, answer_worker_question, confirm_in_gui
    from app.ui.operations import Operation
    from app.ui.qt import QWidget

    server, _workspace = imported
    quant = ctx.copilot("quant")
    parent = QWidget()  # not given to qtbot: one case deletes it
    parent.show()
    task = Operation(lambda emit, cancel: confirm_in_gui(ctx, [quant], emit, cancel))
    task.progress.connect(lambda event: answer_worker_question(parent, event))  # queued: runs on the GUI thread
    failures: list[str] = []
    task.failed.connect(failures.append)
    try:
        # the worker gives up only when answered: without an answer on close or destroy, this wait times out
        with qtbot.waitSignal(task.finished, timeout=PATIENCE_MS):
            task.run_in_background()
            qtbot.waitUntil(lambda: parent.findChild(EndpointDialog) is not None, timeout=PATIENCE_MS)
            if how == "closed":
                parent.findChild(EndpointDialog).close()
            else:
                parent.deleteLater()  # the window goes, taking the open dialog with it
    finally:
        task.cancel.cancel()
        if how == "closed":
            parent.deleteLater()
    assert len(failures) == 1 and failures[0].startswith("Not sent: you did not confirm copilot 'quant'")
    assert server.requests == [] and "quant" in ctx.copilot_list().review
