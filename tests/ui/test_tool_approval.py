"""In the window, a tool call not allowed always asks first: a real dialog with the tool and every argument as
plain text, and three answers; the call shows as a card. Settings lists the saved answers, with Revoke."""

import json
import threading

import pytest

from tests.conftest import PATIENCE_MS
from tests.core.tools.test_mcp_tools import quant  # noqa: F401 (a fixture: a remote copilot granted the bond tools)

pytestmark = pytest.mark.gui

# rich text and an image a QLabel in auto format would render (and fetch), escapes, and a long tail to cut off
HOSTILE = (
    "<b>Harmless</b><img src='file:///etc/passwd'><a href='https://evil.example'>click</a>\x1b[2J\u202eeulav "
    + "word " * 2000
    + "x" * 3000
    + " END-OF-ARGUMENT"
)


def ask(qtbot, window, text: str):
    """Send a message and return the approval dialog it raises."""
    from app.ui.tool_approval import ToolApprovalDialog

    window.send(text)

    def open_dialog():
        shown = [d for d in window.findChildren(ToolApprovalDialog) if d.isVisible()]
        return shown[0] if shown else None

    qtbot.waitUntil(lambda: open_dialog() is not None, timeout=PATIENCE_MS)
    return open_dialog()


def cards(window) -> list[str]:
    from app.ui.thread_view import Card

    return [c.text() for c in window.thread_view.findChildren(Card)]


def finish(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.run_task is None, timeout=PATIENCE_MS)


def test_the_dialog_shows_the_whole_argument_as_plain_text(qtbot, window, quant) -> None:  # noqa: F811
    from app.ui.qt import QLabel, QPlainTextEdit, Qt

    quant.plan = ("bonds__memo", {"text": HOSTILE})
    window.refresh_roster()
    qtbot.waitUntil(lambda: "quant" in window.copilots, timeout=PATIENCE_MS)
    dialog = ask(qtbot, window, "@quant File a memo.")
    assert dialog.summary.textFormat() == Qt.TextFormat.PlainText
    assert dialog.summary.text() == "quant wants to use the tool bonds.memo with these arguments:"
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in dialog.findChildren(QLabel))
    view = dialog.arguments
    assert isinstance(view, QPlainTextEdit) and view.isReadOnly()
    assert view.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth  # wraps: nothing runs off the edge
    assert json.loads(view.toPlainText()) == {"text": HOSTILE}  # whole and exact
    assert "\\u001b[2J" in view.toPlainText() and "\\u202e" in view.toPlainText()  # escapes shown, not acted on
    assert dialog.deny.isDefault()
    qtbot.mouseClick(dialog.once, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    assert any(
        card.startswith(f"⚙ quant used bonds.memo: done — filed {len(HOSTILE)} characters") for card in cards(window)
    )


@pytest.mark.parametrize("answer", ["once", "always", "deny"])
def test_only_always_is_remembered(qtbot, window, ctx, quant, answer) -> None:  # noqa: F811
    from app.ui.qt import Qt

    window.refresh_roster()
    qtbot.waitUntil(lambda: "quant" in window.copilots, timeout=PATIENCE_MS)
    dialog = ask(qtbot, window, "@quant What coupon does a 1000 bond at 4% pay?")
    assert dialog.summary.text() == "quant wants to use the tool bonds.coupon with these arguments:"
    assert json.loads(dialog.arguments.toPlainText()) == {"face": 1000, "rate_percent": 4}
    qtbot.mouseClick(getattr(dialog, answer), Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    expected = "⚙ quant used bonds.coupon: refused" if answer == "deny" else "⚙ quant used bonds.coupon: done — 40.00"
    assert any(card.startswith(expected) for card in cards(window)), cards(window)
    assert ctx.store.tool_approved("default", "quant", "bonds.coupon") is (answer == "always")

    if answer == "always":  # saved: the next call runs without a question
        window.send("@quant And again?")
        finish(qtbot, window)
        assert sum(card.startswith("⚙ quant used bonds.coupon: done") for card in cards(window)) == 2
    else:  # not saved: asked again; closing the dialog is a denial
        again = ask(qtbot, window, "@quant And again?")
        again.reject()
        finish(qtbot, window)
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
