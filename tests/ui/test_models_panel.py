"""The model manager panel against the loopback fake Hub: search, quant table, download, bind."""

import pytest

from tests.fakehub import TEST_REPO

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot, ctx, fake_hub):
    from app.ui.models_panel import ModelsPanel

    widget = ModelsPanel(ctx)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_hardware_summary(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: "This machine" in panel.hardware.text())
    assert "llama.cpp backend: cpu" in panel.hardware.text()


def test_search_files_download_and_bind(qtbot, panel, ctx) -> None:
    search = panel.search
    search.query.setText("smollm")
    search.search_button.click()
    qtbot.waitUntil(lambda: search.results.rowCount() == 1, timeout=30000)
    assert search.results.item(0, 0).text() == TEST_REPO
    search.results.selectRow(0)
    qtbot.waitUntil(lambda: search.files_table.rowCount() == 6, timeout=30000)
    rows = {search.files_table.item(r, 1).text(): r for r in range(search.files_table.rowCount())}
    recommended = [
        r for r in range(search.files_table.rowCount()) if search.files_table.item(r, 0).text().startswith("★")
    ]
    assert recommended == [rows["Q4_K_M"]] and search.files_table.item(rows["Q4_K_M"], 3).text() == "CPU"
    assert search.files_table.item(rows["F16"], 0).text().endswith("(2 parts)")

    search.files_table.selectRow(rows["Q8_0"])
    progress = []
    installed = []
    panel.downloads.installed.connect(installed.append)
    search.download_button.click()
    key = f"{TEST_REPO}/SmolLM2-135M-Instruct-Q8_0.gguf"
    bar = panel.downloads.rows[key].bar
    bar.valueChanged.connect(progress.append)
    assert panel.tabs.currentWidget() is panel.downloads
    qtbot.waitUntil(lambda: bool(installed), timeout=60000)
    assert max(progress) == 1000  # the bar reached 100 %
    assert installed == ["smollm2-135m-instruct-q8_0"]
    assert not panel.downloads.entries  # done downloads leave the queue

    panel.installed.bind("writer", installed[0])
    assert ctx.copilot("writer").model == installed[0]
    qtbot.waitUntil(lambda: panel.installed.table.rowCount() == 2)


def test_pause_resume_and_a_restart_resumes_the_queue(qtbot, panel, ctx, fake_hub) -> None:
    from app.ui.models_panel.downloads import PAUSED, DownloadQueue

    fake_hub.rate = 10_000_000
    file = "SmolLM2-135M-Instruct-IQ4_XS.gguf"
    source = fake_hub.repos[TEST_REPO].files[file]
    panel.downloads.add(TEST_REPO, file, source.size, source.sha256)
    key = f"{TEST_REPO}/{file}"
    row = panel.downloads.rows[key]
    qtbot.waitUntil(lambda: row.bar.value() > 50, timeout=30000)
    row.pause.click()
    qtbot.waitUntil(lambda: panel.downloads.entries[0].state == PAUSED, timeout=30000)
    assert row.pause.text() == "Resume"

    # a new window (as after a restart) finds the paused download and can resume it
    fake_hub.rate = None
    again = DownloadQueue(ctx)
    qtbot.addWidget(again)
    assert [e.state for e in again.entries] == [PAUSED]
    installed = []
    again.installed.connect(installed.append)
    again.rows[key].pause.click()
    qtbot.waitUntil(lambda: bool(installed), timeout=60000)
    assert fake_hub.bytes_served[file] < source.size * 1.5  # resumed, not started over


def test_hub_errors_are_shown(qtbot, panel, fake_hub) -> None:
    fake_hub.refuse = True
    panel.search.query.setText("anything")
    panel.search.search_button.click()
    qtbot.waitUntil(lambda: "503" in panel.status.text(), timeout=30000)
