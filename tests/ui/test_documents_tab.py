"""The Documents tab: add with progress, remove, search messages and documents; citations in replies."""

import pytest

from tests.conftest import PATIENCE_MS
from tests.core.knowledge import samples

pytestmark = pytest.mark.gui


def test_documents_are_added_searched_removed_and_cited(qtbot, window, ctx, tmp_path) -> None:
    from app.ui.message_card import MessageWidget
    from app.ui.passage import PassageDialog

    panel = window.documents
    folder = tmp_path / "docs"
    folder.mkdir()
    samples.markdown(folder / "zephyr.md")
    (folder / "blob.md").write_bytes(b"\0\1\2 binary")
    seen = []
    panel.progress.valueChanged.connect(seen.append)
    panel.add([folder])
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=PATIENCE_MS)
    # then its passages are embedded, in the background, with the same bar and Cancel
    qtbot.waitUntil(lambda: "passages embedded" in panel.status.text(), timeout=PATIENCE_MS)
    assert panel.list.item(0).text().startswith("zephyr.md") and panel.progress.isHidden()
    assert "1 added" in panel.status.text() and "blob.md" in panel.status.text()
    assert "2 passages embedded" in panel.status.text()
    assert ctx.store.vector_count("default", "all-minilm-l6-v2") == 2
    assert seen and 2 in seen  # the bar went to the end

    ctx.settings.max_hops = 0  # one reply, no handoffs
    copilot = ctx.copilot("analyst")
    sampling = {**copilot.sampling.model_dump(), "max_tokens": 64}  # the citation matters, not the reply's length
    ctx.store.save_copilot(copilot.id, copilot.name, {**copilot.model_dump(), "knowledge": True, "sampling": sampling})
    window.send("@analyst What coupon does the Zephyr bond pay?")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: any(w.sources.isVisible() for w in window.thread_view.findChildren(MessageWidget)))
    (reply,) = [w for w in window.thread_view.findChildren(MessageWidget) if w.sources.isVisible()]
    assert "[1] zephyr.md, Zephyr bond" in reply.sources.text()
    reply._open_source("cite:0")
    qtbot.waitUntil(lambda: any(samples.ZEPHYR in d.text.toPlainText() for d in reply.findChildren(PassageDialog)))

    panel.search.setText("zephyr coupon")
    panel.run_search()
    qtbot.waitUntil(lambda: panel.results.count() >= 2)
    texts = [panel.results.item(i).text() for i in range(panel.results.count())]
    assert any(t.startswith("📄 zephyr.md") and "[coupon]" in t for t in texts)
    assert any(t.startswith("💬") for t in texts)
    message = next(panel.results.item(i) for i in range(panel.results.count()) if texts[i].startswith("💬"))
    with qtbot.waitSignal(panel.open_message):
        panel.results.itemClicked.emit(message)

    panel.list.setCurrentRow(0)
    panel.remove_button.click()
    qtbot.waitUntil(lambda: panel.list.count() == 0)
    assert ctx.store.documents("default") == []
