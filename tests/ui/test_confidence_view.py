"""A reply's confidence view in the window, on real widgets offscreen: the low-probability tokens highlighted on
the plain text, each token's alternatives in a plain-text tooltip; a reply without token data says why."""

import math

import pytest

from app.core.confidence import ReplyConfidence, pack, unpack
from tests.conftest import PATIENCE_MS

pytestmark = pytest.mark.gui

MARKUP = "<b>x</b><a href='file:///etc/passwd'>y</a>"
TEXT = "Bonds 🏦 pay coupons."
ROWS = [
    ("Bonds", math.log(0.9), [("Bonds", math.log(0.9))]),
    (" 🏦", math.log(0.8), [(" 🏦", math.log(0.8))]),  # beyond the BMP: two UTF-16 units in Qt's positions
    (" pay", math.log(0.3), [(" cost", math.log(0.6)), (" pay", math.log(0.3)), (MARKUP, math.log(0.05))]),
    (" coupons", math.log(0.4), [(" coupons", math.log(0.4))]),
    (".", math.log(0.99), [(".", math.log(0.99))]),
]


def test_low_tokens_are_highlighted_on_plain_text_and_their_tooltip_is_text(qtbot) -> None:
    from PySide6 import QtGui

    from app.ui.confidence_view import ConfidenceView, tooltip_text
    from app.ui.reply_view import plain_tooltip

    view = ConfidenceView()
    qtbot.addWidget(view)
    tokens = unpack(pack(ROWS))
    view.show_tokens(TEXT, tokens)
    assert view.toPlainText() == TEXT
    assert view.highlighted() == [" pay", " coupons"]
    start = view.toPlainText().index(" pay") + 1  # Qt counts the emoji twice: Python once
    assert view.token_at(start).text == " pay" and view.token_at(0).text == "Bonds"
    assert view.token_at(len(TEXT) + 5) is None

    shown = tooltip_text(tokens[2])
    assert shown.splitlines() == [
        '" pay"  p = 0.30',
        "Alternatives:",
        '  " cost"  0.60',
        '  " pay"  0.30',
        f'  "{MARKUP}"  0.05',
    ]
    document = QtGui.QTextDocument()
    document.setHtml(plain_tooltip(shown))
    assert MARKUP in document.toPlainText()  # shown as the text it is, no link, no bold


def stored_thread(ctx) -> tuple[str, str, str]:
    thread = ctx.store.create_thread("bonds")
    ctx.store.add_message(thread.id, "user", "user", "What do bonds pay?")
    with_data = ctx.store.start_message(thread.id, "writer")
    ctx.store.append_text(with_data, TEXT)
    ctx.store.finish_message(with_data, "complete", {"trace": {}}, pack(ROWS))
    reason = "no confidence data: http://remote.example/v1 sent no token probabilities"
    without = ctx.store.add_message(
        thread.id, "writer", "assistant", "Hello.", data={"trace": {"confidence": {"tokens": 0, "missing": reason}}}
    )
    return thread.id, with_data, without


def test_a_reply_card_switches_to_its_confidence_view_and_back(qtbot, window, ctx) -> None:
    thread_id, with_data, without = stored_thread(ctx)
    window.open_thread(thread_id)
    qtbot.waitUntil(lambda: len(window.thread_view.messages) == 3, timeout=PATIENCE_MS)
    card = window.thread_view.messages[with_data]
    assert window.thread_view.messages[next(iter(window.thread_view.messages))].confidence_button is None  # yours

    card.confidence_button.click()
    qtbot.waitUntil(lambda: card.confidence_view is not None and card.confidence_view.isVisible(), timeout=PATIENCE_MS)
    assert card.body.isHidden() and card.confidence_view.highlighted() == [" pay", " coupons"]
    assert card.confidence_note.text() == "2 of 5 tokens under p 0.5 are marked."
    card.confidence_button.click()
    assert card.confidence_view.isHidden() and not card.body.isHidden() and card.confidence_note.isHidden()

    other = window.thread_view.messages[without]
    other.confidence_button.click()
    qtbot.waitUntil(other.confidence_note.isVisible, timeout=PATIENCE_MS)
    assert other.confidence_note.text().startswith("no confidence data: http://remote.example/v1 sent no token")
    assert not other.body.isHidden() and other.confidence_view is None


def test_a_streaming_reply_has_no_confidence_yet(qtbot) -> None:
    from app.ui.message_card import MessageWidget

    card = MessageWidget("m1", "writer", "Writer", "#5b7cfa", status="streaming")
    qtbot.addWidget(card)
    assert not card.confidence_button.isEnabled()
    card.set_status("complete")
    assert card.confidence_button.isEnabled()
    card.show_confidence(ReplyConfidence(missing="x"))  # not switched on: nothing changes
    assert card.confidence_note.isHidden()
