"""The first-run welcome: this machine, the recommended models with fit badges, one-click download into the crew
(against the loopback fake Hub), Cancel, the offline message, Dismiss."""

import socket

import pytest

from app.core.hub.download import RepoCache
from app.core.hub.queue import DONE, DownloadQueue
from app.ui.models_panel.recommended import ADD, DOWNLOAD
from tests.conftest import PATIENCE_MS
from tests.fakehub import MISSING_REPO, TEST_REPO, recommended_list

Q4 = "SmolLM2-135M-Instruct-Q4_K_M.gguf"
SLOW = 1_000_000  # bytes/s: minutes for the file, so it cannot finish before a loaded machine gets to cancel it

pytestmark = pytest.mark.gui


def welcome_view(qtbot, ctx, list_file=None):
    from app.ui.welcome import WelcomeView

    view = WelcomeView(ctx, list_file=list_file)
    qtbot.addWidget(view)
    view.show()
    return view


@pytest.fixture
def welcome(qtbot, ctx, fake_hub, tmp_path):
    view = welcome_view(qtbot, ctx, recommended_list(tmp_path / "recommended.toml"))
    section = view.recommended
    qtbot.waitUntil(lambda: len(section.rows) == 2 and section.rows[TEST_REPO].crew.text() != "", timeout=PATIENCE_MS)
    return view


def test_the_welcome_shows_this_machine_and_each_model_with_its_fit(welcome) -> None:
    assert "This machine" in welcome.machine.text() and "llama.cpp backend: cpu" in welcome.machine.text()
    assert "starter crew" in welcome.intro.text()
    row = welcome.recommended.rows[TEST_REPO]
    assert row.badge.text() == "Fit: CPU" and "Q4_K_M" in row.details.text() and "from the Hub" in row.details.text()
    assert row.crew.text() == "Goes to Writer." and row.button.text() == DOWNLOAD and row.button.isEnabled()
    missing = welcome.recommended.rows[MISSING_REPO]  # the Hub lacks it: judged from the list, not downloadable
    assert not missing.button.isEnabled() and "No model repository" in missing.status.text()
    assert "about, from the list" in missing.details.text()


def test_one_click_downloads_with_progress_and_gives_the_model_to_the_crew(qtbot, welcome, ctx) -> None:
    row = welcome.recommended.rows[TEST_REPO]
    progress = []
    with qtbot.waitSignal(welcome.models_changed, timeout=PATIENCE_MS):
        row.button.click()
        assert row.progress is not None and not row.button.isEnabled()
        row.progress.bar.valueChanged.connect(progress.append)
    assert max(progress) == 1000  # the bar reached 100 %
    assert row.progress is None and row.model_id == "smollm2-135m-instruct-q4_k_m"
    assert row.status.text() == "Writer now answers with smollm2-135m-instruct-q4_k_m."
    assert ctx.copilot("writer").model == "smollm2-135m-instruct-q4_k_m"
    assert ctx.copilot("generalist").model is None  # only the entry's role
    [entry] = DownloadQueue.of(ctx).entries()  # through the store's queue, as every download
    assert (entry.repo, entry.filename, entry.state) == (TEST_REPO, Q4, DONE)
    qtbot.waitUntil(lambda: row.button.text() == ADD, timeout=PATIENCE_MS)  # installed: the button only gives it


def test_cancel_stops_the_download_and_drops_its_partial_file(qtbot, welcome, ctx, fake_hub) -> None:
    fake_hub.rate = SLOW
    row = welcome.recommended.rows[TEST_REPO]
    row.button.click()
    qtbot.waitUntil(lambda: row.progress is not None and row.progress.bar.value() > 0, timeout=PATIENCE_MS)
    row.progress.cancel.click()
    qtbot.waitUntil(lambda: row.progress is None, timeout=PATIENCE_MS)
    assert row.status.text() == "Download cancelled." and row.button.isEnabled() and row.button.text() == DOWNLOAD
    assert DownloadQueue.of(ctx).entries() == []
    assert not list(RepoCache(TEST_REPO).blobs.glob("*.incomplete"))
    assert ctx.copilot("writer").model is None


def test_offline_it_says_the_hub_is_unreachable_and_that_the_starter_crew_works(qtbot, ctx, monkeypatch) -> None:
    with socket.socket() as closed:  # a port nothing listens on: the Hub cannot be reached
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    view = welcome_view(qtbot, ctx)  # the list shipped in resources/
    section = view.recommended
    qtbot.waitUntil(lambda: section.result is not None, timeout=PATIENCE_MS)
    assert "cannot be reached" in section.status.text() and "starter crew works offline" in section.status.text()
    assert section.reason.isVisible() and "Cannot reach the Hugging Face Hub" in section.reason.text()
    assert section.retry.isVisible()
    assert len(section.rows) == len(section.result.items) >= 6
    for row in section.rows.values():  # fit badges from the list's own sizes; nothing to download
        assert row.badge.text().startswith("Fit: ") and not row.button.isEnabled()
        assert "about, from the list" in row.details.text()


def test_dismiss_hides_the_welcome_for_good(qtbot, ctx) -> None:
    view = welcome_view(qtbot, ctx)
    with qtbot.waitSignal(view.dismissed):
        view.dismiss_button.click()
    assert not view.isVisible()
    qtbot.waitUntil(lambda: ctx.store.get_meta("welcome_dismissed", False) is True, timeout=PATIENCE_MS)
