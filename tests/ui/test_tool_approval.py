"""In the window, the first use of a tool in a workspace asks the user; the call shows as a card."""

import pytest

from tests.tools.test_mcp_tools import quant  # noqa: F401 (a fixture: a remote copilot granted the bond tools)

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("allowed", [True, False])
def test_the_window_asks_before_a_tool_is_first_used(qtbot, window, quant, monkeypatch, allowed) -> None:  # noqa: F811
    from app.ui.qt import QMessageBox
    from app.ui.thread_view import Card

    asked = []

    def answer(_parent, _title, text, *_args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes if allowed else QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.refresh_roster()
    qtbot.waitUntil(lambda: "quant" in window.copilots)
    window.send("@quant What coupon does a 1000 bond at 4% pay?")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=60_000)
    assert len(asked) == 1 and "bonds.coupon" in asked[0]
    cards = [c.text() for c in window.thread_view.findChildren(Card)]
    expected = "⚙ quant used bonds.coupon: done — 40.00" if allowed else "⚙ quant used bonds.coupon: refused"
    assert any(card.startswith(expected) for card in cards), cards
    assert window.ctx.store.tool_approved("default", "bonds.coupon") is allowed
