"""The conversation's furniture, on real widgets offscreen: Copy over code blocks, the streaming caret, and the
router's choice and handoffs drawn as links whose task state follows the turns they started."""

import pytest
from PySide6.QtCore import QPoint

from app.core.crew.copilots import Copilot
from app.core.crew.events import CrewText, HandoffEvent, MessageEvent, RouteDecision
from app.ui.markdown_view import BLOCK_CAP, code_blocks
from app.ui.qt import QApplication, Qt, QTextDocument
from app.ui.reply_view import CARET, ReplyView
from app.ui.thread_view import ThreadView

pytestmark = pytest.mark.gui

LONG_CODE = "\n".join(f"value_{n} = {n} * 2  # a line of a long listing" for n in range(BLOCK_CAP // 20))
REPLY = (
    "Here is the script:\n\n```python\nprint('hello')\nprint('world')\n```\n\n"
    f"And a long one:\n\n```\n{LONG_CODE}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)


def stream(view: ReplyView, text: str, size: int = 7) -> None:
    for at in range(0, len(text), size):
        view.append(text[at : at + size])
        view.render()


def click_copy(qtbot, view: ReplyView, number: int) -> None:
    """Click the `number`th Copy link (from 0) where it is drawn, as a person would."""
    qtbot.waitUntil(lambda: all(piece.isVisible() for piece in view.pieces))  # new pieces show on the next loop
    seen = 0
    for piece in view.pieces:
        cursor = piece.document().find("Copy", 0, QTextDocument.FindFlag.FindCaseSensitively)
        while not cursor.isNull():
            if cursor.charFormat().isAnchor():
                if seen == number:
                    cursor.setPosition(cursor.selectionStart() + 1)
                    point = piece.cursorRect(cursor).center()
                    qtbot.mouseClick(piece.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point.x(), point.y()))
                    return
                seen += 1
            cursor = piece.document().find("Copy", cursor, QTextDocument.FindFlag.FindCaseSensitively)
    raise AssertionError(f"no Copy link number {number}")


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "stored"])
def test_copy_puts_the_whole_code_block_on_the_clipboard(qtbot, streamed) -> None:
    view = ReplyView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    if streamed:
        stream(view, REPLY)
        view.render(final=True)
    else:
        view.show_markdown(REPLY)
    assert code_blocks(view.text) == ["print('hello')\nprint('world')", LONG_CODE]
    # the long listing is cut into several rendered blocks: one Copy for it still, over its first part
    assert sum(p.toPlainText().count("Copy") for p in view.pieces) == 2
    with qtbot.waitSignal(view.copied, timeout=5000) as copied:
        click_copy(qtbot, view, 1)
    assert copied.args == [LONG_CODE] and QApplication.clipboard().text() == LONG_CODE
    click_copy(qtbot, view, 0)
    assert QApplication.clipboard().text() == "print('hello')\nprint('world')"


def test_a_reply_cannot_make_a_copy_link_of_its_own(qtbot) -> None:
    view = ReplyView()
    qtbot.addWidget(view)
    view.show_markdown("[Copy](copy:0)\n\n```\nsecret\n```")
    anchors = [f.anchorHref() for p in view.pieces for f in _anchor_formats(p.document())]
    assert anchors == ["copy:0"]  # ours, over the code; the reply's own link became text


def _anchor_formats(document):
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().isAnchor():
                yield fragment.charFormat()
            it += 1
        block = block.next()


def test_the_caret_follows_the_words_while_streaming_and_goes_when_done(qtbot) -> None:
    view = ReplyView()
    qtbot.addWidget(view)
    stream(view, "First paragraph.\n\nSecond para")
    assert view.pieces[-1].toPlainText().endswith("Second para" + CARET)
    view.append("graph.")
    view.render(final=True)
    assert CARET not in view.toPlainText() and view.toPlainText().endswith("Second paragraph.")


def test_route_and_handoffs_are_links_whose_task_state_follows_the_turns(qtbot) -> None:
    colours = {"Analyst": "#1f77b4", "Writer": "#d62728"}
    crew = {name.lower(): Copilot(id=name.lower(), name=name, color=colour) for name, colour in colours.items()}
    view = ThreadView(crew)
    qtbot.addWidget(view)

    def message(mid: str, author: str, status: str) -> MessageEvent:
        return MessageEvent(author=author, message_id=mid, status=status)

    view.handle(RouteDecision(author="router", copilot="analyst", reason="numbers first", by="router"))
    (route,) = links(view)
    assert (route.heading.text(), route.what.text(), route.state) == ("Router → Analyst", "numbers first", "waiting")
    view.handle(message("m1", "analyst", "streaming"))
    assert route.state == "working" and route.chip.text() == "working…"
    view.handle(CrewText(author="analyst", message_id="m1", delta="Bonds pay coupons."))
    view.handle(HandoffEvent(author="analyst", from_="analyst", to="writer", task="make it a tweet", status="accepted"))
    view.handle(
        HandoffEvent(
            author="analyst", from_="analyst", to="nobody", task="file it", status="rejected", reason="no such copilot"
        )
    )
    view.handle(message("m1", "analyst", "complete"))
    route, handoff, refused = links(view)
    assert route.state == "complete" and route.chip.text() == "✓ done"
    assert handoff.heading.text() == "Analyst → Writer" and handoff.what.text() == "make it a tweet"
    assert handoff.state == "waiting"
    assert handoff.text() == "⇢ handoff analyst → writer: make it a tweet" == handoff.accessibleName()
    assert refused.state == "rejected" and "not followed: no such copilot" in refused.what.text()
    view.handle(message("m2", "writer", "streaming"))
    assert handoff.state == "working"
    view.handle(message("m2", "writer", "interrupted"))
    assert handoff.state == "interrupted" and handoff.chip.text() == "✗ cut off"


def links(view: ThreadView):
    from app.ui.link_card import LinkCard

    return view.container.findChildren(LinkCard)


def test_a_reply_card_says_when_it_was_written_and_which_model_and_quant_wrote_it(qtbot) -> None:
    from datetime import datetime, timedelta

    from app.ui.design import model_chip

    model = "bartowski/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf"
    crew = {"analyst": Copilot(id="analyst", name="Analyst", model=model)}
    view = ThreadView(crew)
    qtbot.addWidget(view)
    now = datetime.now().astimezone()
    today, last_week = now.replace(hour=9, minute=5), now - timedelta(days=7)
    events = [
        MessageEvent(author="analyst", message_id=mid, status=status)
        for mid in ("m1", "m2")
        for status in ("streaming", "complete")
    ]
    view.load(events, {"m1": last_week.isoformat(), "m2": today.isoformat()})
    old, new = view.messages["m1"], view.messages["m2"]
    assert new.time_label.text() == "09:05"
    assert old.time_label.text() == last_week.strftime("%d %b %Y, %H:%M")
    assert new.chip.text() == model_chip(crew["analyst"]) == "Qwen2.5-7B-Instruct · Q4_K_M"
    view.load(events, {"m1": "not a time"})  # an imported row: no time rather than a wrong one
    assert view.messages["m1"].time_label.text() == ""
    assert view.messages["m2"].time_label.text() == ""  # none recorded: none shown (not "now")
