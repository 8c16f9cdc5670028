"""The download queue in the store: the CLI and the window share it, and either side pauses or resumes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.hub.queue import DONE, FAILED, PAUSED, QUEUED, RUNNING, DownloadQueue
from tests.conftest import PATIENCE_S, REPO, cli_command, run_cli, wait_for
from tests.fakehub import TEST_REPO

Q8 = "SmolLM2-135M-Instruct-Q8_0.gguf"
SLOW = 1_000_000  # bytes/s: minutes for the file, so it cannot finish before a loaded machine gets to pause it


def queue_json() -> list[dict]:
    result = run_cli("models", "downloads", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def partials(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "hf-cache").rglob("*.incomplete"))


def background_pull() -> subprocess.Popen:
    return subprocess.Popen(
        cli_command("models", "pull", TEST_REPO, "--file", Q8, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_a_pull_is_recorded_in_the_queue_the_cli_lists(fake_hub, test_repo) -> None:
    assert run_cli("models", "downloads").stdout.startswith("No downloads.")
    assert run_cli("models", "pull", TEST_REPO, "--file", Q8).returncode == 0
    [entry] = queue_json()
    assert entry["state"] == DONE and entry["repo"] == TEST_REPO and entry["filename"] == Q8
    assert entry["done_bytes"] == entry["size_bytes"] == test_repo.files[Q8].size
    assert entry["sha256"] == test_repo.files[Q8].sha256 and entry["model_id"] == "smollm2-135m-instruct-q8_0"
    listed = run_cli("models", "downloads").stdout
    assert "done" in listed and "100%" in listed and Q8 in listed


def test_a_pause_from_another_process_stops_a_pull_and_resume_continues_from_its_file(
    fake_hub, test_repo, tmp_path
) -> None:
    size = test_repo.files[Q8].size
    fake_hub.rate = SLOW
    pull = background_pull()
    # the running pull writes its progress into the store: another process sees it there

    def started() -> list[dict]:
        if pull.poll() is not None:  # it ended before anyone paused it: say how, rather than time out
            pytest.fail(f"the pull ended with {pull.returncode} before the pause: {pull.communicate()}")
        return [e for e in queue_json() if e["state"] == RUNNING and e["done_bytes"] > 0]

    running = wait_for(started, interval=0.2)[0]
    assert running["owner_pid"] == pull.pid

    paused = run_cli("models", "downloads", "pause", str(running["id"]))
    assert paused.returncode == 0, paused.stderr
    _out, err = pull.communicate(timeout=PATIENCE_S)
    assert pull.returncode == 130 and "paused from elsewhere" in err, err
    [entry] = queue_json()
    assert entry["state"] == PAUSED and 0 < entry["done_bytes"] < size
    [partial] = partials(tmp_path)
    kept = partial.stat().st_size
    assert kept > 0  # the verified part stays for the resume

    fake_hub.rate = None
    served = fake_hub.bytes_served[Q8]
    resumed = run_cli("models", "downloads", "resume", str(entry["id"]))
    assert resumed.returncode == 0, resumed.stderr
    assert "smollm2-135m-instruct-q8_0" in resumed.stdout
    assert fake_hub.bytes_served[Q8] - served == size - kept  # from the partial file on, not from the start
    assert [e["state"] for e in queue_json()] == [DONE]


def test_cancel_drops_the_entry_and_its_partial_file(fake_hub, ctx, tmp_path) -> None:
    from app.core.hub.download import DownloadCancelled
    from app.core.hub.installed import pull_model
    from app.core.providers.base import CancelToken

    cancel = CancelToken()
    fake_hub.rate = 20_000_000

    def progress(p) -> None:
        if p.done_bytes > 3 << 20:
            cancel.cancel()

    with pytest.raises(DownloadCancelled, match="paused at"):
        pull_model(ctx, TEST_REPO, filename=Q8, progress=progress, cancel=cancel)
    [entry] = DownloadQueue.of(ctx).entries()
    assert entry.state == PAUSED and partials(tmp_path)

    result = run_cli("models", "downloads", "cancel", str(entry.id))
    assert result.returncode == 0 and "Cancelled download" in result.stdout
    assert DownloadQueue.of(ctx).entries() == [] and not partials(tmp_path)
    again = run_cli("models", "downloads", "resume", str(entry.id))
    assert again.returncode == 2 and "No download" in again.stderr


def test_pause_and_resume_say_what_they_cannot_do(fake_hub, ctx) -> None:
    from app.core.hub.installed import pull_model

    pull_model(ctx, TEST_REPO, filename=Q8)
    [entry] = DownloadQueue.of(ctx).entries()
    paused = run_cli("models", "downloads", "pause", str(entry.id))
    assert paused.returncode == 2 and "is done" in paused.stderr
    resumed = run_cli("models", "downloads", "resume", str(entry.id))
    assert resumed.returncode == 2 and "installed as 'smollm2-135m-instruct-q8_0'" in resumed.stderr


def test_an_older_windows_downloads_json_is_moved_into_the_store_once(home: Path) -> None:
    sha = "a" * 64
    legacy = home / "data" / "downloads.json"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_text(
        json.dumps(
            [
                {"repo": "org/a", "filename": "a.gguf", "size_bytes": 10, "sha256": sha, "state": "downloading"},
                {"repo": "org/b", "filename": "b.gguf", "size_bytes": 20, "sha256": None, "state": "paused"},
                {
                    "repo": "org/c",
                    "filename": "c.gguf",
                    "size_bytes": 30,
                    "sha256": sha,
                    "state": "failed",
                    "error": "503 from the Hub",
                },
                {"repo": "org/d", "filename": "d.gguf", "size_bytes": 40, "sha256": "../../etc", "state": "paused"},
                {"repo": "org/e"},
            ]
        )
    )
    entries = queue_json()
    assert [(e["repo"], e["state"]) for e in entries] == [("org/a", QUEUED), ("org/b", PAUSED), ("org/c", FAILED)]
    assert entries[2]["error"] == "503 from the Hub" and entries[0]["sha256"] == sha
    assert not legacy.exists() and legacy.with_name("downloads.json.migrated").exists()
    legacy.write_text(legacy.with_name("downloads.json.migrated").read_text())  # an old window wrote it again
    assert len(queue_json()) == 3  # no duplicates


def test_a_download_that_another_roundtable_runs_is_refused(fake_hub, ctx) -> None:
    from app.core.hub.client import HubError
    from app.core.hub.installed import pull_model

    fake_hub.rate = SLOW
    pull = background_pull()
    try:
        wait_for(lambda: [e for e in queue_json() if e["state"] == RUNNING], timeout=PATIENCE_S, interval=0.2)
        with pytest.raises(HubError, match=f"already being downloaded by Roundtable process {pull.pid}"):
            pull_model(ctx, TEST_REPO, filename=Q8)
    finally:
        pull.kill()
        pull.wait(30)
    # its process is gone: the entry reads as paused, and this process may take it over
    assert [e.state for e in DownloadQueue.of(ctx).entries()] == [PAUSED]
    fake_hub.rate = None
    assert pull_model(ctx, TEST_REPO, filename=Q8)[0] == "smollm2-135m-instruct-q8_0"


HOLD_HF_LOCK = """
import os, sys
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import WeakFileLock
lock = os.path.join(os.environ["HF_HUB_CACHE"], ".locks", repo_folder_name(repo_id=sys.argv[1], repo_type="model"),
                    sys.argv[2] + ".lock")
os.makedirs(os.path.dirname(lock), exist_ok=True)
with WeakFileLock(lock):
    print("held", flush=True)
    sys.stdin.read()
"""

HF_DOWNLOAD = """
import os, sys
from huggingface_hub import constants, hf_hub_download
from huggingface_hub.utils import logging
constants.FILELOCK_LOG_EVERY_SECONDS = 0.2  # say "still waiting" soon, so the test sees it wait
logging.set_verbosity_info()
print(hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=os.environ["HF_HUB_CACHE"]), flush=True)
"""


def _python(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_huggingface_hubs_own_lock_keeps_our_download_out(fake_hub, test_repo, ctx, tmp_path) -> None:
    from app.core.hub.client import HubError
    from app.core.hub.installed import pull_model

    sha = test_repo.files[Q8].sha256
    holder = _python(HOLD_HF_LOCK, TEST_REPO, sha)  # another HF tool, locking the blob by its own rules
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(HubError, match="being downloaded by another program") as refused:
            pull_model(ctx, TEST_REPO, filename=Q8)
        assert f".locks/models--{TEST_REPO.replace('/', '--')}/{sha}.lock" in str(refused.value)
        assert not fake_hub.bytes_served.get(Q8) and not partials(tmp_path)
        [entry] = DownloadQueue.of(ctx).entries()
        assert entry.state == FAILED and "another program" in (entry.error or "")
    finally:
        holder.communicate("", timeout=PATIENCE_S)
    assert pull_model(ctx, TEST_REPO, filename=Q8)[0] == "smollm2-135m-instruct-q8_0"  # once it lets go


def test_our_lock_keeps_hf_download_of_the_same_file_waiting(fake_hub, test_repo, tmp_path) -> None:
    from app.core.hub.download import RepoCache, exclusive

    sha = test_repo.files[Q8].sha256
    with exclusive(RepoCache(TEST_REPO), sha):
        hf = _python(HF_DOWNLOAD, TEST_REPO, Q8)
        # huggingface_hub says it waits for the lock file we hold: the same file, by its own path rules
        waiting = wait_for(lambda: _line_with(hf, "Still waiting to acquire lock"), timeout=PATIENCE_S, interval=0)
        assert f"{sha}.lock" in waiting
        assert not fake_hub.bytes_served.get(Q8)
    out, err = hf.communicate(timeout=PATIENCE_S)
    assert hf.returncode == 0, err
    assert Path(out.strip()).resolve().name == sha and fake_hub.bytes_served[Q8] == test_repo.files[Q8].size


def _line_with(process: subprocess.Popen, text: str) -> str | None:
    """The next stderr line of `process` if it holds `text` (blocks until a line comes)."""
    line = process.stderr.readline()
    if not line and process.poll() is not None:
        pytest.fail(f"the process ended without saying '{text}': {process.stdout.read()}")
    return line if text in line else None
