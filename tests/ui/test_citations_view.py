"""Citations in the window, on real widgets offscreen: under each reply its own sources, named with its copilot
(live and reloaded, after a three-copilot run on the starter model); a source opens its passage as plain text with
the question's words highlighted."""

import pytest

from tests.conftest import PATIENCE_MS
from tests.core.knowledge.test_citations_per_copilot import HANDOFF_TASK, QUESTION, finals, handoff_run, prepare

pytestmark = pytest.mark.gui


def _replies(window) -> list:
    return [w for w in window.thread_view.messages.values() if w.author != "user"]


def _check_sources(window, ctx) -> list:
    """Each reply widget holds exactly its stored message's citations, and its sources name its copilot only."""
    stored = {e.message_id: e for e in finals(ctx.store.timeline(window.thread_id))}
    replies = _replies(window)
    names = {w.name for w in replies}
    for widget in replies:
        assert widget.citations == stored[widget.message_id].citations
        assert widget.sources.isHidden() == (not widget.citations)
        if widget.citations:
            text = widget.sources.text()
            assert text.count(f"({widget.name})") == len(widget.citations)
            assert not any(f"({other})" in text for other in names - {widget.name})
    return replies


def test_each_reply_shows_its_own_sources_and_opens_them(qtbot, window, ctx, tmp_path) -> None:
    from app.ui.passage import PassageDialog

    prepare(ctx, tmp_path / "docs")
    ctx.settings.max_hops = 0
    window.send(QUESTION)
    qtbot.waitUntil(lambda: window.run_task is None, timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: len(_replies(window)) == 3 and not _replies(window)[-1].sources.isHidden())
    analyst, writer, generalist = _check_sources(window, ctx)
    assert [w.author for w in (analyst, writer, generalist)] == ["analyst", "writer", "generalist"]
    assert analyst.citations and generalist.citations and not writer.citations

    analyst._open_source("cite:0")
    (dialog,) = analyst.findChildren(PassageDialog)
    assert dialog.where.text() == "fact-sheet.md — Zephyr bond"
    assert analyst.name in dialog.cited_by.text() and not dialog.cited_by.isHidden()
    assert dialog.text.toPlainText() == analyst.citations[0].passage
    assert {w.lower() for w in dialog.highlighted()} >= {"zephyr", "bond", "coupon"}
    dialog.close()

    thread_id = window.thread_id
    window.open_thread(None)
    window.open_thread(thread_id)  # reloaded from the store: the same sources under the same replies
    qtbot.waitUntil(lambda: len(_replies(window)) == 3 and not _replies(window)[-1].sources.isHidden())
    assert [bool(w.citations) for w in _check_sources(window, ctx)] == [True, False, True]


def test_after_a_handoff_the_thread_shows_each_copilots_sources_under_its_reply(qtbot, window, ctx, tmp_path) -> None:
    from app.ui.passage import PassageDialog

    thread_id, _events = handoff_run(ctx, tmp_path / "docs")
    window.open_thread(thread_id)
    qtbot.waitUntil(lambda: len(_replies(window)) == 2 and not _replies(window)[-1].sources.isHidden())
    ping, analyst = _check_sources(window, ctx)
    assert (ping.author, analyst.author) == ("ping", "analyst") and ping.citations and analyst.citations
    analyst._open_source("cite:0")
    (dialog,) = analyst.findChildren(PassageDialog)
    assert HANDOFF_TASK in dialog.found_for.text() and analyst.name in dialog.cited_by.text()
    assert {w.lower() for w in dialog.highlighted()} >= {"lisbon", "office"}
    dialog.close()


def test_a_passage_is_plain_text_and_its_marks_fall_on_the_words(qtbot) -> None:
    from app.ui.passage import PassageDialog
    from app.ui.qt import Qt

    passage = "📈 <b>Growth</b> <script>x()</script>: the coupon is 4.25% 🎉 and coupons compound."
    dialog = PassageDialog(None, "<i>q3</i>.pdf", "page 2", passage, "What coupon?", "<b>Analyst</b>")
    qtbot.addWidget(dialog)
    assert dialog.text.toPlainText() == passage  # nothing parsed: the markup is shown as the characters it is
    for label in (dialog.where, dialog.cited_by, dialog.found_for):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert dialog.where.text() == "<i>q3</i>.pdf — page 2" and dialog.cited_by.text() == "Cited by <b>Analyst</b>"
    assert dialog.highlighted() == ["coupon", "coupons"]  # past the emoji, which Qt counts twice
    plain = PassageDialog(None, "a.md", None, "no question", None, None)
    qtbot.addWidget(plain)
    assert plain.highlighted() == [] and plain.cited_by.isHidden() and plain.found_for.isHidden()
