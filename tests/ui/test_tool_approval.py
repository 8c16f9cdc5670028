"""In the window, a tool call not allowed always asks first: a card in the thread with the tool and every argument
as plain text, and three answers; the call shows as a card. Settings lists the saved answers, with Revoke."""

import json
import sys
import threading

import pytest

from tests.conftest import PATIENCE_MS, REPO
from tests.core.tools.test_mcp_tools import quant  # noqa: F401 (a fixture: a remote copilot granted the bond tools)

pytestmark = pytest.mark.gui
BONDS = REPO / "tests" / "core" / "tools" / "bond_server.py"

# rich text and an image a QLabel in auto format would render (and fetch), escapes, and a long tail to cut off
HOSTILE = (
    "<b>Harmless</b><img src='file:///etc/passwd'><a href='https://evil.example'>click</a>\x1b[2J\u202eeulav "
    + "word " * 2000
    + "x" * 3000
    + " END-OF-ARGUMENT"
)


def ask(qtbot, window, text: str):
    """Send a message and return the approval card it puts in the thread."""
    from app.ui.tool_approval import ToolApprovalCard

    window.send(text)

    def open_card():
        shown = [c for c in window.thread_view.findChildren(ToolApprovalCard) if c.open]
        return shown[0] if shown else None

    qtbot.waitUntil(lambda: open_card() is not None, timeout=PATIENCE_MS)
    return open_card()


def cards(window) -> list[str]:
    from app.ui.message_card import Card

    return [c.text() for c in window.thread_view.findChildren(Card)]


def finish(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.run_task is None, timeout=PATIENCE_MS)


def test_the_card_shows_the_whole_argument_as_plain_text(qtbot, window, quant) -> None:  # noqa: F811
    from app.ui.qt import QLabel, QPlainTextEdit, Qt

    quant.plan = ("bonds__memo", {"text": HOSTILE})
    window.refresh_roster()
    qtbot.waitUntil(lambda: "quant" in window.copilots, timeout=PATIENCE_MS)
    card = ask(qtbot, window, "@quant File a memo.")
    assert card.summary.textFormat() == Qt.TextFormat.PlainText
    assert card.summary.text() == "quant wants to use the tool bonds.memo with these arguments:"
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in card.findChildren(QLabel))
    view = card.arguments
    assert isinstance(view, QPlainTextEdit) and view.isReadOnly()
    assert view.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth  # wraps: nothing runs off the edge
    assert json.loads(view.toPlainText()) == {"text": HOSTILE}  # whole and exact
    assert "\\u001b[2J" in view.toPlainText() and "\\u202e" in view.toPlainText()  # escapes shown, not acted on
    assert card.deny.hasFocus() or not window.isActiveWindow()  # the focus, where the window has it
    qtbot.mouseClick(card.once, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    assert not card.open and card.outcome.text() == "Allowed once."  # the card stays, saying what was answered
    assert any(
        card.startswith(f"⚙ quant used bonds.memo: done — filed {len(HOSTILE)} characters") for card in cards(window)
    )


@pytest.mark.parametrize("answer", ["once", "always", "deny"])
def test_only_always_is_remembered(qtbot, window, ctx, quant, answer) -> None:  # noqa: F811
    from app.ui.qt import Qt

    window.refresh_roster()
    qtbot.waitUntil(lambda: "quant" in window.copilots, timeout=PATIENCE_MS)
    card = ask(qtbot, window, "@quant What coupon does a 1000 bond at 4% pay?")
    assert card.summary.text() == "quant wants to use the tool bonds.coupon with these arguments:"
    assert json.loads(card.arguments.toPlainText()) == {"face": 1000, "rate_percent": 4}
    qtbot.mouseClick(getattr(card, answer), Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    expected = "⚙ quant used bonds.coupon: refused" if answer == "deny" else "⚙ quant used bonds.coupon: done — 40.00"
    assert any(card.startswith(expected) for card in cards(window)), cards(window)
    assert ctx.store.tool_approved("default", "quant", "bonds.coupon") is (answer == "always")

    if answer == "always":  # saved: the next call runs without a question
        window.send("@quant And again?")
        finish(qtbot, window)
        assert sum(card.startswith("⚙ quant used bonds.coupon: done") for card in cards(window)) == 2
    else:  # not saved: asked again; stopping the run unanswered is a denial, and the card says so
        again = ask(qtbot, window, "@quant And again?")
        window.runner.stop()
        finish(qtbot, window)
        assert not again.open and again.outcome.text().startswith("Not answered")
        assert ctx.store.tool_approvals() == []


def test_settings_lists_saved_approvals_and_revokes_them_off_the_gui_thread(qtbot, ctx, monkeypatch) -> None:
    from app.ui.qt import Qt
    from app.ui.settings_dialog import SettingsDialog

    ctx.store.approve_tool("default", "quant", "bonds.coupon")
    ctx.store.approve_tool("default", "writer", "bonds.memo")
    store_threads = []
    for name in ("tool_approvals", "revoke_tool_approvals"):
        real = getattr(ctx.store, name)

        def recorded(*args, _real=real, **kwargs):
            store_threads.append(threading.current_thread() is threading.main_thread())
            return _real(*args, **kwargs)

        monkeypatch.setattr(ctx.store, name, recorded)

    dialog = SettingsDialog(ctx.settings, ctx.paths, [("generalist", "Generalist")], "cpu", store=ctx.store)
    qtbot.addWidget(dialog)
    listing = dialog.approvals
    qtbot.waitUntil(lambda: listing.table.rowCount() == 2, timeout=PATIENCE_MS)
    rows = [[listing.table.item(r, c).text() for c in range(3)] for r in range(2)]
    assert rows == [["Default", "quant", "bonds.coupon"], ["Default", "writer", "bonds.memo"]]
    assert not listing.revoke.isEnabled()  # nothing chosen yet
    listing.table.selectRow(0)
    with qtbot.waitSignal(listing.loaded, timeout=PATIENCE_MS):
        qtbot.mouseClick(listing.revoke, Qt.MouseButton.LeftButton)
    assert listing.table.rowCount() == 1
    assert [listing.table.item(0, c).text() for c in range(3)] == ["Default", "writer", "bonds.memo"]
    assert len(store_threads) == 3 and not any(store_threads)  # load, revoke, reload: each in a worker
    assert [(a["copilot_id"], a["tool"]) for a in ctx.store.tool_approvals()] == [("writer", "bonds.memo")]


def test_a_local_copilot_calls_an_mcp_tool_through_the_card(qtbot, window, ctx) -> None:
    """The starter model, asked for a tool by name, waits on the card; allowed, the tool runs and its result is
    in the thread."""
    from app.ui.qt import Qt
    from app.ui.tool_approval import ToolApprovalCard

    ctx.store.add_tool_server("bonds", [sys.executable, str(BONDS)])
    analyst = ctx.copilot("analyst")
    ctx.store.save_copilot("analyst", analyst.name, {**analyst.model_dump(), "tools": ["bonds.coupon"]})
    card = ask(qtbot, window, "@analyst Use the coupon tool: face 1000, rate_percent 4.")
    assert card.summary.text() == "analyst wants to use the tool bonds.coupon with these arguments:"
    assert set(json.loads(card.arguments.toPlainText())) == {"face", "rate_percent"}
    qtbot.mouseClick(card.once, Qt.MouseButton.LeftButton)

    def allow_any_further_call() -> bool:  # a small model may decide to call again, with other arguments
        asking = [c for c in window.thread_view.findChildren(ToolApprovalCard) if c.open]
        for further in asking:
            further.once.click()
        return window.run_task is None

    qtbot.waitUntil(allow_any_further_call, timeout=PATIENCE_MS)
    assert any(text.startswith("⚙ analyst used bonds.coupon: done") for text in cards(window)), cards(window)


def test_the_overlay_asks_with_the_same_card(qtbot, ctx) -> None:
    from app.ui.qt import Qt
    from app.ui.tool_approval import ToolApprovalCard
    from tests.ui.test_overlay import finish as overlay_finished
    from tests.ui.test_overlay import make_overlay

    analyst = ctx.copilot("analyst")
    ctx.store.save_copilot("analyst", analyst.name, {**analyst.model_dump(), "tools": ["roundtable.calculator"]})
    overlay = make_overlay(qtbot, ctx, prefill=False)
    overlay.present()
    overlay.copilot.setCurrentIndex(overlay.copilot.findData("analyst"))
    overlay.prompt.setPlainText("Use the calculator: 17.5% of 2400")
    qtbot.keyClick(overlay.prompt, Qt.Key.Key_Return)

    def open_card():
        shown = [c for c in overlay.findChildren(ToolApprovalCard) if c.open]
        return shown[0] if shown else None

    qtbot.waitUntil(lambda: open_card() is not None, timeout=PATIENCE_MS)
    card = open_card()
    assert card.summary.text() == "analyst wants to use the tool roundtable.calculator with these arguments:"
    assert overlay.status.text().startswith("Waiting for your answer")
    qtbot.mouseClick(card.deny, Qt.MouseButton.LeftButton)
    overlay_finished(qtbot, overlay)
    assert card.outcome.text() == "Denied."
    events = ctx.store.events(overlay.thread_id)
    assert [e["data"]["status"] for e in events if e["type"] == "tool"] == ["called", "refused"]


def test_the_copilot_form_grants_and_revokes_tools(qtbot, window, ctx) -> None:
    from app.ui.qt import Qt

    ctx.store.add_tool_server("bonds", [sys.executable, str(BONDS)])

    def open_form():
        window.roster.dialog = None
        window.roster.edit("writer")
        qtbot.waitUntil(
            lambda: window.roster.dialog is not None and window.roster.dialog.isVisible(), timeout=PATIENCE_MS
        )
        tools = window.roster.dialog.tools
        return window.roster.dialog, {
            tools.item(i).data(Qt.ItemDataRole.UserRole): tools.item(i) for i in range(tools.count())
        }

    dialog, items = open_form()
    assert list(items) == ["roundtable.calculator", "roundtable.documents", "bonds"]  # nothing granted yet
    assert all(item.checkState() == Qt.CheckState.Unchecked for item in items.values())
    items["roundtable.calculator"].setCheckState(Qt.CheckState.Checked)
    items["bonds"].setCheckState(Qt.CheckState.Checked)
    dialog.accept()
    qtbot.waitUntil(lambda: ctx.copilot("writer").tools == ["roundtable.calculator", "bonds"], timeout=PATIENCE_MS)

    qtbot.waitUntil(lambda: window.copilots["writer"].tools == ["roundtable.calculator", "bonds"], timeout=PATIENCE_MS)
    dialog, items = open_form()
    assert [i.checkState() for i in items.values()] == [
        Qt.CheckState.Checked,
        Qt.CheckState.Unchecked,
        Qt.CheckState.Checked,
    ]
    items["roundtable.calculator"].setCheckState(Qt.CheckState.Unchecked)  # revoked
    dialog.accept()
    qtbot.waitUntil(lambda: ctx.copilot("writer").tools == ["bonds"], timeout=PATIENCE_MS)
