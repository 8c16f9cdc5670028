"""The quick-ask overlay as a widget, offscreen, on the real starter model."""

import pytest

from app.core.store.workspaces import DEFAULT_WORKSPACE, QUICK_ASK_WORKSPACE
from tests.conftest import LONG_PROMPT, PATIENCE_MS

pytestmark = pytest.mark.gui


def make_overlay(qtbot, ctx, prefill: bool = True):
    from app.ui.overlay import Overlay

    overlay = Overlay(ctx, lambda: DEFAULT_WORKSPACE, lambda: prefill)
    qtbot.addWidget(overlay)
    qtbot.waitUntil(lambda: overlay.copilot.count() == 4, timeout=PATIENCE_MS)
    return overlay


def finish(qtbot, overlay) -> None:
    qtbot.waitUntil(lambda: overlay.run_task is None, timeout=300_000)  # the starter model on a busy machine


def test_it_prefills_asks_the_chosen_copilot_streams_and_stores_the_exchange(qtbot, ctx) -> None:
    from app.ui.qt import QGuiApplication, Qt

    QGuiApplication.clipboard().setText("What is a bond? Answer in one sentence.")
    overlay = make_overlay(qtbot, ctx)
    overlay.present()
    assert overlay.isVisible()
    qtbot.waitUntil(
        lambda: overlay.prompt.toPlainText() == "What is a bond? Answer in one sentence.", timeout=PATIENCE_MS
    )
    overlay.copilot.setCurrentIndex(overlay.copilot.findData("analyst"))

    qtbot.keyClick(overlay.prompt, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: bool(overlay.answer) and overlay.run_task is not None, timeout=PATIENCE_MS
    )  # streaming, in place
    finish(qtbot, overlay)

    thread = ctx.store.get_thread(overlay.thread_id)
    assert thread.workspace_id == QUICK_ASK_WORKSPACE
    messages = ctx.store.messages(thread.id)
    assert [(m.author, m.status) for m in messages] == [("user", "complete"), ("analyst", "complete")]
    assert messages[1].text == overlay.answer and len(overlay.answer) > 10
    assert overlay.answer_view.toPlainText().endswith(overlay.answer.strip()[-20:])
    assert overlay.open_button.isEnabled()

    QGuiApplication.clipboard().clear()
    qtbot.keyClick(overlay.prompt, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == overlay.answer

    again = make_overlay(qtbot, ctx)
    assert again.copilot.currentData() == "analyst"  # the last copilot used is the default next time


def test_a_mention_overrides_the_picker_and_a_follow_up_continues_the_thread(qtbot, ctx) -> None:
    overlay = make_overlay(qtbot, ctx, prefill=False)
    overlay.present()
    assert overlay.prompt.toPlainText() == ""
    overlay.prompt.setPlainText("@writer Say hello in three words.")
    overlay.ask()
    finish(qtbot, overlay)
    first_thread = overlay.thread_id
    overlay.prompt.setPlainText("Now in two words.")
    overlay.ask()
    finish(qtbot, overlay)
    assert overlay.thread_id == first_thread
    authors = [m.author for m in ctx.store.messages(first_thread)]
    assert authors == ["user", "writer", "user", "generalist"]


def test_escape_hides_it_and_stops_the_answer_keeping_what_was_written(qtbot, ctx) -> None:
    from app.ui.qt import Qt

    overlay = make_overlay(qtbot, ctx, prefill=False)
    overlay.present()
    overlay.prompt.setPlainText(LONG_PROMPT)
    overlay.ask()
    qtbot.waitUntil(lambda: len(overlay.answer) > 40, timeout=PATIENCE_MS)
    qtbot.keyClick(overlay.prompt, Qt.Key.Key_Escape)
    assert not overlay.isVisible()
    finish(qtbot, overlay)
    reply = ctx.store.messages(overlay.thread_id)[-1]
    assert reply.status == "interrupted"
    assert reply.text and reply.text.startswith(overlay.answer[:40])


def test_open_in_roundtable_moves_the_exchange_into_the_windows_workspace(qtbot, ctx) -> None:
    from app.ui.app import Desktop

    desktop = Desktop(ctx)
    qtbot.addWidget(desktop.frame)  # the window is its child
    qtbot.addWidget(desktop.overlay)
    try:
        assert desktop.shortcut.problem  # offscreen: no desktop to listen on, and it says so
        overlay = desktop.overlay
        qtbot.waitUntil(lambda: overlay.copilot.count() == 4, timeout=PATIENCE_MS)
        overlay.present()
        overlay.prompt.setPlainText("Name one bond rating agency.")
        overlay.ask()
        finish(qtbot, overlay)
        thread_id = overlay.thread_id
        with qtbot.waitSignal(overlay.open_in_window, timeout=PATIENCE_MS):
            overlay.open_button.click()
        assert not overlay.isVisible()
        assert ctx.store.get_thread(thread_id).workspace_id == DEFAULT_WORKSPACE
        assert "thread.moved" in [e["type"] for e in ctx.store.events(thread_id)]
        window = desktop.window
        assert window.isVisible() and window.thread_id == thread_id
        qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 1, timeout=PATIENCE_MS)
    finally:
        desktop.close()


def test_shortcut_names_translate_to_pynput_and_bad_ones_are_explained() -> None:
    from app.ui.overlay.shortcut import WAYLAND_HELP, to_pynput, unavailable_reason

    assert to_pynput("Ctrl+Alt+Space") == "<ctrl>+<alt>+<space>"
    assert to_pynput("Ctrl+Shift+K") == "<ctrl>+<shift>+k"
    assert to_pynput("Meta+F12") == "<cmd>+<f12>"
    for bad, words in (("Space", "modifiers"), ("Hyper+K", "not a modifier"), ("Ctrl+Alt+Volume", "not a key")):
        with pytest.raises(ValueError, match=words):
            to_pynput(bad)
    assert unavailable_reason("wayland") == WAYLAND_HELP
    assert "roundtable overlay" in WAYLAND_HELP
    assert "offscreen" in unavailable_reason("offscreen")


def test_the_picker_and_the_mentions_show_each_copilot_with_its_avatar(qtbot, ctx) -> None:
    overlay = make_overlay(qtbot, ctx)
    names = [overlay.copilot.itemText(i) for i in range(overlay.copilot.count())]
    assert sorted(names) == ["Analyst", "Generalist", "Reviewer", "Writer"]
    assert all(not overlay.copilot.itemIcon(i).isNull() for i in range(overlay.copilot.count()))
    assert sorted(overlay.prompt.offered()) == ["@analyst", "@generalist", "@reviewer", "@writer"]
