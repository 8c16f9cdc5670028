"""The main window, offscreen: chat, crew runs, cancel, crash and retry, threads, settings."""

import os
import signal

import pytest

from app.core.settings import load_settings
from app.ui.link_card import LinkCard
from app.ui.message_card import Card, MessageWidget
from app.ui.qt import Qt, QWidget
from tests.conftest import PATIENCE_MS

pytestmark = pytest.mark.gui
RUN_MS = 300_000  # a crew run on the starter model, on a busy 2-core machine: waited for, never timed


def cap_reply(ctx, copilot_id: str, tokens: int = 48) -> None:
    """Short replies where their length does not matter: the test waits on the model for less."""
    copilot = ctx.copilot(copilot_id)
    capped = copilot.model_copy(update={"sampling": copilot.sampling.model_copy(update={"max_tokens": tokens})})
    ctx.store.save_copilot(capped.id, capped.name, capped.model_dump())


def send(qtbot, window, text: str) -> None:
    window.composer.edit.setPlainText(text)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.run_task is not None, timeout=PATIENCE_MS)


def replies(window) -> list[MessageWidget]:
    return [w for w in window.thread_view.messages.values() if w.author != "user"]


def cards(window) -> list[str]:
    """The words of every card between messages, links (route, handoff, consult) included, in order."""
    shown = window.thread_view.container.findChildren(QWidget)
    return [w.text() for w in shown if isinstance(w, Card | LinkCard)]


def test_first_run_shows_the_welcome_and_the_starter_crew(qtbot, window) -> None:
    assert window.welcome.isVisible() and not window.thread_view.isVisible()  # in the empty thread's place
    assert "Model manager" in window.welcome.intro.text()
    recommended = window.welcome.recommended  # offline here (HF_HUB_OFFLINE): the list, judged from its own sizes
    qtbot.waitUntil(lambda: recommended.result is not None, timeout=PATIENCE_MS)
    assert "starter crew works offline" in recommended.status.text() and len(recommended.rows) >= 6
    assert "This machine" in window.welcome.machine.text()
    names = [window.roster.list.item(i).text().split("\n")[0] for i in range(window.roster.list.count())]
    assert sorted(names) == ["Analyst", "Generalist", "Reviewer", "Writer"]


def test_send_a_message_and_see_the_reply_stream_in(qtbot, window, ctx) -> None:
    ctx.settings.max_hops = 0
    cap_reply(ctx, "generalist")
    seen_while_streaming = []
    window.thread_view.timer.timeout.connect(
        lambda: seen_while_streaming.extend(w.body.toPlainText() for w in replies(window) if w.status == "streaming")
    )
    send(qtbot, window, "@generalist What is a bond?")
    assert window.composer.button.text() == "Stop"
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    (reply,) = replies(window)
    assert reply.status == "complete" and len(reply.text.split()) > 3
    assert any(text and text != reply.body.toPlainText() for text in seen_while_streaming)  # it grew on screen
    assert window.composer.button.text() == "Send" and not window.welcome.isVisible()
    qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 1)
    stored = ctx.store.messages(window.thread_id)
    assert [m.author for m in stored] == ["user", "generalist"] and stored[1].text == reply.text


def test_a_crew_run_shows_the_plan_card_and_its_tasks(qtbot, window, ctx) -> None:
    send(qtbot, window, "@analyst Summarise what a bond is, then have the Writer turn it into a tweet")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    assert any(text.startswith("☰ plan: 1. analyst: ") and "2. writer: " in text for text in cards(window))
    assert [w.author for w in replies(window)][:2] == ["analyst", "writer"]

    def done_tasks() -> int:
        board = window.task_board
        groups = [board.topLevelItem(i) for i in range(board.topLevelItemCount())]
        return sum(g.childCount() for g in groups if g.text(0).startswith("Done"))

    qtbot.waitUntil(lambda: done_tasks() >= 2, timeout=PATIENCE_MS)
    # clicking the task jumps to the thread and the answer
    window.task_board.open_task.emit(window.thread_id, ctx.store.tasks()[0].result_message_id)


def test_a_roundtable_from_the_composer_stops_at_the_run_limit_visibly(qtbot, window, ctx) -> None:
    ctx.settings.max_turns = 2
    send(qtbot, window, "/roundtable What is a coupon? One sentence.")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    shown, roster = cards(window), ctx.store.roster("default")
    assert f"◎ roundtable: {', '.join(roster)} answer; generalist sums up" in shown
    assert [w.author for w in replies(window)] == roster[:2]
    assert any("limit of 2 replies" in text for text in shown), shown


def test_a_consult_shows_the_question_and_the_answer_going_back(qtbot, window, ctx) -> None:
    ctx.settings.max_hops = 1  # the consult; the writer's own handoff decision after it is refused
    cap_reply(ctx, "writer", 24)
    cap_reply(ctx, "reviewer", 24)
    send(qtbot, window, "@writer Write a tweet about bond coupons, checking with the reviewer first.")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    shown = cards(window)
    assert any(text.startswith("⇄ writer consults reviewer: ") for text in shown), shown
    (consult,) = [c for c in window.thread_view.container.findChildren(LinkCard) if c.text().startswith("⇄")]
    assert consult.heading.text() == "Writer → Reviewer" and consult.state == "complete"  # the reviewer answered
    assert "⇄ reviewer's answer went back to writer, who goes on" in shown
    assert [w.author for w in replies(window)][:2] == ["reviewer", "writer"]


def test_stop_cancels_and_keeps_the_partial_reply(qtbot, window, ctx) -> None:
    ctx.settings.max_hops = 0
    send(qtbot, window, "@writer Write a long story about a lighthouse keeper, twenty paragraphs at least.")
    qtbot.waitUntil(lambda: any(len(w.text) > 20 for w in replies(window)), timeout=RUN_MS)
    qtbot.mouseClick(window.composer.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.run_task is None, timeout=PATIENCE_MS)
    (reply,) = replies(window)
    assert reply.status == "interrupted"
    stored = ctx.store.get_message(reply.message_id)
    assert stored.status == "interrupted" and stored.text == reply.text


def test_a_crashed_model_shows_a_banner_with_retry_and_the_window_keeps_working(qtbot, window, ctx) -> None:
    ctx.settings.max_hops = 0
    send(qtbot, window, "@writer Write a long story about a lighthouse keeper, twenty paragraphs at least.")
    qtbot.waitUntil(lambda: any(len(w.text) > 20 for w in replies(window)), timeout=RUN_MS)
    host = next(h for h in ctx.pool.hosts.values() if h.alive)
    os.kill(host.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.run_task is None, timeout=PATIENCE_MS)
    (crashed,) = replies(window)
    assert crashed.banner.isVisibleTo(window) and "SIGKILL" in crashed.banner_label.text()
    assert crashed.retry_button.isVisibleTo(window)
    qtbot.mouseClick(crashed.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.run_task is not None, timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    assert [w.status for w in replies(window)][-1] == "complete"


def test_reply_details_show_the_trace(qtbot, window, ctx) -> None:
    from app.ui.qt import QMessageBox

    ctx.settings.max_hops = 0
    cap_reply(ctx, "analyst")
    send(qtbot, window, "@analyst What is a coupon?")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    (reply,) = replies(window)
    reply.details_button.click()
    qtbot.waitUntil(lambda: bool(window.findChildren(QMessageBox)))
    text = window.findChildren(QMessageBox)[-1].text()
    assert "model file" in text and "Q4_1" in text and "decode tokens per s" in text and "mentioned" in text


def test_rename_and_delete_with_undo(qtbot, window, ctx) -> None:
    first = ctx.store.create_thread("First")
    ctx.store.create_thread("Second")
    window.refresh_threads()
    qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 2)
    window.sidebar.rename_requested.emit(first.id, "Renamed")
    qtbot.waitUntil(lambda: ctx.store.get_thread(first.id).title == "Renamed")
    window.sidebar.delete_requested.emit(first.id)
    assert len(window.sidebar.thread_titles()) == 1 and window.undo_button.isVisible()
    window.undo_button.click()
    qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 2)
    window.sidebar.delete_requested.emit(first.id)
    window._commit_delete()  # as when the undo time runs out
    qtbot.waitUntil(
        lambda: (
            [t.id for t in ctx.store.list_threads()] != [] and first.id not in [t.id for t in ctx.store.list_threads()]
        )
    )


def test_search_filters_threads(qtbot, window, ctx) -> None:
    ctx.store.create_thread("Bonds and yields")
    ctx.store.create_thread("Holiday plans")
    window.sidebar.search.setText("bond")
    qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 1)
    assert window.sidebar.thread_titles() == ["Bonds and yields"]


def test_settings_persist_and_the_theme_changes(qtbot, window, ctx) -> None:
    from app.ui.qt import QApplication
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(ctx.settings, ctx.paths, [("analyst", "Analyst"), ("generalist", "Generalist")], "cpu")
    qtbot.addWidget(dialog)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.budget.setValue(4096)
    dialog.default_copilot.setCurrentIndex(dialog.default_copilot.findData("analyst"))
    dialog.max_turns.setValue(5)
    dialog.token_budget.setValue(30000)
    dialog.stop_loops.setChecked(False)
    with qtbot.waitSignal(window.settings_applied, timeout=PATIENCE_MS):  # saved on the database worker
        window.apply_settings(dialog.result_settings())
    saved = load_settings(ctx.paths.settings_file)
    assert (saved.theme, saved.memory_budget_mb, saved.default_copilot) == ("dark", 4096, "analyst")
    assert (saved.max_turns, saved.run_token_budget, saved.stop_loops) == (5, 30000, False)
    assert QApplication.instance().property("roundtable_dark") is True
    assert ctx.pool.budget_bytes == 4096 * 1024 * 1024


def test_dropping_a_text_file_puts_it_in_the_message(qtbot, window, tmp_path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("Coupon: 4%\n")
    window.composer.edit.insert_file(notes)
    assert "```notes.md\nCoupon: 4%\n```" in window.composer.edit.toPlainText()
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\x00\x01\x02")
    problems = []
    window.composer.edit.problem.connect(problems.append)
    window.composer.edit.insert_file(binary)
    assert problems and "image.png" in problems[0]


def test_mention_completion_offers_copilot_names(qtbot, window) -> None:
    edit = window.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "@wr")
    model = edit.completer.completionModel()
    assert edit.completer.completionPrefix() == "@wr"
    assert [model.index(i, 0).data() for i in range(model.rowCount())] == ["@writer"]
    offered = model.index(0, 0)  # with the copilot's avatar and name
    assert not offered.data(Qt.ItemDataRole.DecorationRole).isNull()
    assert offered.data(Qt.ItemDataRole.ToolTipRole) == "Writer"


def test_add_a_copilot_in_the_form(qtbot, window, ctx) -> None:
    window.roster.edit(None)
    qtbot.waitUntil(lambda: window.roster.dialog is not None and window.roster.dialog.isVisible(), timeout=PATIENCE_MS)
    dialog = window.roster.dialog
    dialog.id_edit.setText("Tax Expert!")
    dialog.name_edit.setText("Tax Expert")
    dialog.description_edit.setText("Knows tax law.")
    dialog.handoff_edit.setText("writer")
    dialog.temperature.setValue(0.1)
    dialog.accept()
    # the form stays open with the reason, the user fixes the id
    assert dialog.isVisible() and "'id'" in dialog.error.text()
    dialog.id_edit.setText("tax-expert")
    dialog.accept()
    qtbot.waitUntil(lambda: window.roster.list.count() == 5, timeout=PATIENCE_MS)
    assert "tax-expert" in window.copilots
    saved = ctx.copilot("tax-expert")
    assert (saved.name, saved.handoff_to, saved.sampling.temperature) == ("Tax Expert", ["writer"], 0.1)
    assert "tax-expert" in ctx.store.roster("default")


def test_overlay_settings_persist_and_reach_the_running_app(qtbot, window, ctx) -> None:
    from app.ui.qt import QKeySequence
    from app.ui.settings_dialog import SettingsDialog

    status = "Wayland does not let applications listen for global shortcuts."
    dialog = SettingsDialog(ctx.settings, ctx.paths, [("generalist", "Generalist")], "cpu", status)
    qtbot.addWidget(dialog)
    assert dialog.shortcut.keySequence().toString() == "Ctrl+Alt+Space"
    assert dialog.shortcut_status.text() == status
    dialog.shortcut.setKeySequence(QKeySequence("Ctrl+Shift+K"))
    dialog.prefill.setChecked(False)
    dialog.close_to_tray.setChecked(False)
    with qtbot.waitSignal(window.settings_applied) as applied:
        window.apply_settings(dialog.result_settings())
    assert applied.args[0].overlay_shortcut == "Ctrl+Shift+K"
    saved = load_settings(ctx.paths.settings_file)
    assert (saved.overlay_shortcut, saved.overlay_prefill, saved.close_to_tray) == ("Ctrl+Shift+K", False, False)
