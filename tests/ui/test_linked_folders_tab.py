"""The Documents tab's linked folders, on real widgets offscreen and real files: link, scan with progress, the
watcher following new and deleted files while the window runs, a scan on start, unlink through its dialog."""

import pytest

from app.core.knowledge.folders import link_folder
from tests.conftest import PATIENCE_MS

pytestmark = pytest.mark.gui


def _names(panel) -> list[str]:
    return sorted(panel.list.item(i).text().split("  ·  ")[0] for i in range(panel.list.count()))


def test_a_linked_folder_is_scanned_watched_and_unlinked(qtbot, window, ctx, tmp_path) -> None:
    from app.ui.qt import QMessageBox

    panel = window.documents
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "bond.md").write_text("# Zephyr bond\n\nThe Zephyr 2031 bond pays a coupon of 4.25%.\n")
    seen = []
    panel.progress.valueChanged.connect(seen.append)
    panel.link(folder)
    qtbot.waitUntil(lambda: panel.folders.count() == 1 and _names(panel) == ["bond.md"], timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: "passages embedded" in panel.status.text(), timeout=PATIENCE_MS)
    assert "Linked folders: 1 added" in panel.status.text() and seen
    assert str(folder) in panel.folders.item(0).text() and "1 documents" in panel.folders.item(0).text()
    assert ctx.store.vector_count("default", "all-minilm-l6-v2") == 1

    # while the window runs, the watcher follows the folder
    (folder / "walrus.txt").write_text("Walrus funds rebalance every March.\n")
    qtbot.waitUntil(lambda: _names(panel) == ["bond.md", "walrus.txt"], timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: ctx.store.vector_count("default", "all-minilm-l6-v2") == 2, timeout=PATIENCE_MS)
    (folder / "bond.md").unlink()
    qtbot.waitUntil(lambda: _names(panel) == ["walrus.txt"], timeout=PATIENCE_MS)
    assert "1 removed" in panel.status.text()
    assert ctx.store.search_chunks("Zephyr", "default", 5) == []

    panel.folders.setCurrentRow(0)
    panel.unlink_button.click()
    (box,) = [b for b in panel.findChildren(QMessageBox) if b.isVisible()]
    (remove,) = [b for b in box.buttons() if b.text().startswith("Unlink and remove")]
    remove.click()
    qtbot.waitUntil(lambda: panel.folders.count() == 0 and panel.list.count() == 0, timeout=PATIENCE_MS)
    assert panel.folders.isHidden() and "documents removed" in panel.status.text()
    assert ctx.store.linked_folders() == [] and ctx.store.documents("default") == []


def test_the_window_scans_linked_folders_on_start(qtbot, ctx, tmp_path) -> None:
    from app.ui.main_window import MainWindow

    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "office.md").write_text("The Lisbon office opens at 8:30 on weekdays.\n")
    link_folder(ctx.store, "default", folder)  # linked earlier (by the CLI, say), never scanned
    main = MainWindow(ctx)
    qtbot.addWidget(main)
    try:
        qtbot.waitUntil(lambda: _names(main.documents) == ["office.md"], timeout=PATIENCE_MS)
        qtbot.waitUntil(lambda: main.documents.task is None, timeout=PATIENCE_MS)
    finally:
        main.documents.stop_watching()
    assert ctx.store.linked_folders("default")[0].last_scan_at is not None
