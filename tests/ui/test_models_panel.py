"""The model manager panel against the loopback fake Hub: search, quant table, download, bind."""

import json
import os
import subprocess

import pytest

from app.core.hub.queue import DONE, PAUSED, RUNNING, DownloadQueue
from tests.conftest import PATIENCE_MS, PATIENCE_S, REPO, cli_command, run_cli
from tests.fakehub import TEST_REPO

IQ4 = "SmolLM2-135M-Instruct-IQ4_XS.gguf"
SLOW = 1_000_000  # bytes/s: minutes for the file, so it cannot finish before a loaded machine gets to pause it

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


def test_it_opens_on_recommended_with_a_memory_bar_against_the_budget(qtbot, ctx) -> None:
    from app.ui.models_panel import ModelsPanel

    ctx.pool.set_budget(3 * 10**9)
    panel = ModelsPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.tabs.currentWidget() is panel.recommended and panel.tabs.tabText(0) == "Recommended"
    qtbot.waitUntil(lambda: panel.recommended.result is not None, timeout=PATIENCE_MS)  # the welcome's list
    assert len(panel.recommended.rows) >= 6
    qtbot.waitUntil(lambda: panel.memory.budget_bytes == 3 * 10**9, timeout=PATIENCE_MS)
    assert panel.memory.value() == 0 and panel.memory.format() == "Loaded models: 0.0 GB of the 3.0 GB memory budget"
    panel.memory.show_usage(2 * 10**9, 10**9, 3 * 10**9)
    assert panel.memory.value() == 666 and "2.0 GB of the 3.0 GB" in panel.memory.format()


def test_search_files_download_and_bind(qtbot, panel, ctx) -> None:
    search = panel.search
    panel.tabs.setCurrentWidget(search)
    search.query.setText("smollm")
    search.search_button.click()
    qtbot.waitUntil(lambda: search.results.rowCount() == 1, timeout=PATIENCE_MS)
    assert search.results.item(0, 0).text() == TEST_REPO
    search.results.selectRow(0)
    qtbot.waitUntil(lambda: search.files_table.rowCount() == 6, timeout=PATIENCE_MS)
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
    assert panel.tabs.currentWidget() is panel.downloads
    qtbot.waitUntil(lambda: bool(panel.downloads.rows), timeout=PATIENCE_MS)  # queued in the store, off the GUI thread
    [row] = panel.downloads.rows.values()
    row.bar.valueChanged.connect(progress.append)
    qtbot.waitUntil(lambda: bool(installed), timeout=PATIENCE_MS)
    assert max(progress) == 1000  # the bar reached 100 %
    assert installed == ["smollm2-135m-instruct-q8_0"]
    assert not panel.downloads.entries and not panel.downloads.rows  # done downloads leave the window's list
    [entry] = DownloadQueue.of(ctx).entries()  # and stay in the store's queue, as `models downloads` shows
    assert entry.state == DONE and entry.model_id == installed[0]

    with qtbot.waitSignal(panel.installed.changed, timeout=PATIENCE_MS):  # saved on the database worker
        panel.installed.bind("writer", installed[0])
    assert ctx.copilot("writer").model == installed[0]
    qtbot.waitUntil(lambda: panel.installed.table.rowCount() == 2)


def test_pause_resume_and_a_restart_resumes_the_queue(qtbot, panel, ctx, fake_hub) -> None:
    fake_hub.rate = 10_000_000
    source = fake_hub.repos[TEST_REPO].files[IQ4]
    panel.downloads.add(TEST_REPO, IQ4, source.size, source.sha256)
    qtbot.waitUntil(lambda: bool(panel.downloads.rows), timeout=PATIENCE_MS)
    [(entry_id, row)] = panel.downloads.rows.items()
    qtbot.waitUntil(lambda: row.bar.value() > 50, timeout=PATIENCE_MS)
    row.pause.click()
    qtbot.waitUntil(lambda: panel.downloads.entries[entry_id].state == PAUSED, timeout=PATIENCE_MS)
    assert row.pause.text() == "Resume" and not panel.downloads.tasks

    # a new window (as after a restart) finds the paused download in the store and can resume it
    from app.ui.models_panel.downloads import DownloadsSection

    fake_hub.rate = None
    again = DownloadsSection(ctx)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: entry_id in again.rows, timeout=PATIENCE_MS)
    assert again.entries[entry_id].state == PAUSED and again.rows[entry_id].pause.text() == "Resume"
    installed = []
    again.installed.connect(installed.append)
    again.rows[entry_id].pause.click()
    qtbot.waitUntil(lambda: bool(installed), timeout=PATIENCE_MS)
    assert fake_hub.bytes_served[IQ4] < source.size * 1.5  # resumed, not started over


def test_the_cli_pauses_what_the_window_downloads_and_resumes_it(qtbot, panel, ctx, fake_hub) -> None:
    fake_hub.rate = SLOW
    source = fake_hub.repos[TEST_REPO].files[IQ4]
    installed = []
    panel.downloads.installed.connect(installed.append)
    panel.downloads.add(TEST_REPO, IQ4, source.size, source.sha256)
    qtbot.waitUntil(lambda: bool(panel.downloads.rows), timeout=PATIENCE_MS)
    [(entry_id, row)] = panel.downloads.rows.items()
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=PATIENCE_MS)

    listed = json.loads(run_cli("models", "downloads", "--json").stdout)  # the same queue the window shows
    assert [(e["id"], e["state"], e["owner_pid"]) for e in listed] == [(entry_id, RUNNING, os.getpid())]
    assert run_cli("models", "downloads", "pause", str(entry_id)).returncode == 0
    qtbot.waitUntil(lambda: not panel.downloads.tasks, timeout=PATIENCE_MS)  # the window's download stopped
    qtbot.waitUntil(lambda: panel.downloads.entries[entry_id].state == PAUSED, timeout=PATIENCE_MS)
    assert row.pause.text() == "Resume" and "paused from elsewhere" in panel.status.text()

    fake_hub.rate = None
    resumed = run_cli("models", "downloads", "resume", str(entry_id))  # finishes in the CLI's process
    assert resumed.returncode == 0, resumed.stderr
    qtbot.waitUntil(lambda: bool(installed), timeout=PATIENCE_MS)  # the window sees it done, and says so
    assert installed == ["smollm2-135m-instruct-iq4_xs"] and not panel.downloads.rows


def test_the_window_pauses_a_pull_the_cli_runs(qtbot, panel, ctx, fake_hub) -> None:
    fake_hub.rate = SLOW
    pull = subprocess.Popen(
        cli_command("models", "pull", TEST_REPO, "--file", IQ4),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        qtbot.waitUntil(lambda: any(e.done_bytes for e in panel.downloads.entries.values()), timeout=60000)
        [(entry_id, row)] = panel.downloads.rows.items()
        assert row.info.text() == f"downloading in process {pull.pid}" and row.bar.value() > 0
        row.pause.click()  # written to the store; the CLI's downloader reads it at its next block
        _out, err = pull.communicate(timeout=PATIENCE_S)
    finally:
        pull.kill()
    assert pull.returncode == 130 and "paused from elsewhere" in err
    qtbot.waitUntil(lambda: panel.downloads.entries[entry_id].state == PAUSED, timeout=PATIENCE_MS)


def test_hub_errors_are_shown(qtbot, panel, fake_hub) -> None:
    fake_hub.refuse = True
    panel.search.query.setText("anything")
    panel.search.search_button.click()
    qtbot.waitUntil(lambda: "503" in panel.status.text(), timeout=PATIENCE_MS)


def test_an_adapter_is_listed_with_its_base_and_use_applies_it_as_a_lora(qtbot, panel, ctx, tmp_path) -> None:
    from app.core.hub.installed import add_local
    from tests.lora import write_lora

    adapter_id = add_local(ctx, write_lora(tmp_path / "finance-lora.gguf", seed=1))
    panel.installed.refresh()
    qtbot.waitUntil(lambda: panel.installed.table.rowCount() == 2, timeout=PATIENCE_MS)
    cells = {panel.installed.table.item(r, 0).text(): r for r in range(2)}
    assert panel.installed.table.item(cells[adapter_id], 1).text() == "LORA adapter for llama"
    with qtbot.waitSignal(panel.installed.changed, timeout=PATIENCE_MS):
        panel.installed.bind("writer", adapter_id)
    writer = ctx.copilot("writer")
    assert writer.lora == adapter_id and writer.model is None  # applied on its model, not in place of it
