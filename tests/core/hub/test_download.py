"""`models pull`: resumable, verified downloads into the HF cache, against the fake Hub."""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from app.core.hub.download import CHUNK, RepoCache
from app.core.hub.installed import pull_model
from app.core.providers.base import CancelToken
from tests.conftest import PATIENCE_S, REPO, cli_command, run_cli, wait_for
from tests.fakehub import COMMIT, STARTER_FILE, TEST_REPO

Q8 = "SmolLM2-135M-Instruct-Q8_0.gguf"


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "hf-cache").rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def test_pull_verifies_registers_and_the_model_answers(fake_hub, test_repo, ctx, tmp_path) -> None:
    seen = []
    model_id, chosen = pull_model(ctx, TEST_REPO, quant="Q8_0", progress=seen.append)
    assert model_id == "smollm2-135m-instruct-q8_0" and chosen.filename == Q8
    assert seen[-1].done_bytes == seen[-1].total_bytes == test_repo.files[Q8].size
    assert fake_hub.bytes_served[Q8] == test_repo.files[Q8].size  # fetched once, no more

    snapshot = RepoCache(TEST_REPO).snapshot(COMMIT, Q8)
    assert snapshot.is_symlink() and snapshot.resolve().name == test_repo.files[Q8].sha256
    record = ctx.store.get_model(model_id)
    assert record["source"] == "hub" and record["path"] == str(snapshot)
    assert record["metadata"]["quant"] == "Q8_0" and record["metadata"]["repo"] == TEST_REPO

    result = run_cli("ask", "--model", model_id, "Say hello.")
    assert result.returncode == 0 and result.stdout.strip()


def test_without_quant_the_recommended_file_is_pulled(fake_hub, ctx) -> None:
    _, chosen = pull_model(ctx, TEST_REPO)
    assert chosen.quant == "Q4_K_M" and chosen.recommended


def test_a_split_model_pulls_every_part(fake_hub, ctx) -> None:
    model_id, chosen = pull_model(ctx, TEST_REPO, quant="F16")
    parts = ctx.store.get_model(model_id)["metadata"]["parts"]
    assert len(parts) == 2 and all(Path(p).exists() for p in parts)
    assert Path(parts[0]).parent == Path(parts[1]).parent  # side by side, as llama.cpp wants them


def test_files_already_in_the_hf_cache_are_reused(fake_hub, ctx) -> None:
    from huggingface_hub import hf_hub_download

    # another HF tool downloaded the file first, with huggingface_hub itself
    hf_hub_download(TEST_REPO, STARTER_FILE, endpoint=fake_hub.url, cache_dir=os.environ["HF_HUB_CACHE"])
    served = fake_hub.bytes_served[STARTER_FILE]
    pull_model(ctx, TEST_REPO, filename=STARTER_FILE)
    assert fake_hub.bytes_served[STARTER_FILE] == served


def test_a_dropped_connection_resumes_within_the_same_pull(fake_hub, test_repo, ctx) -> None:
    size = test_repo.files[Q8].size
    fake_hub.drop_after, fake_hub.drop_times = size // 2, 1
    pull_model(ctx, TEST_REPO, quant="Q8_0")
    assert size <= fake_hub.bytes_served[Q8] <= size + CHUNK


def _partial_file_size(tmp_path: Path) -> int:
    return next(p for p in cache_files(tmp_path) if p.name.endswith(".incomplete")).stat().st_size


def test_a_connection_that_keeps_dropping_fails_clearly_then_resumes(fake_hub, test_repo, tmp_path) -> None:
    size = test_repo.files[Q8].size
    fake_hub.stall_at = size // 2  # every connection breaks there: retries make no progress
    result = run_cli("models", "pull", TEST_REPO, "--quant", "Q8_0")
    assert result.returncode == 6 and re.search(r"\(49% done|\(50% done", result.stderr)
    assert "run the command again to resume" in result.stderr
    fake_hub.stall_at = None
    kept = _partial_file_size(tmp_path)
    served = fake_hub.bytes_served[Q8]
    assert run_cli("models", "pull", TEST_REPO, "--quant", "Q8_0").returncode == 0
    assert fake_hub.bytes_served[Q8] - served <= size - kept + CHUNK


def test_checksum_mismatch_deletes_the_file_and_says_so(fake_hub, ctx, tmp_path) -> None:
    fake_hub.corrupt = True
    result = run_cli("models", "pull", TEST_REPO, "--quant", "Q8_0")
    assert result.returncode == 6 and "Checksum mismatch" in result.stderr and "deleted" in result.stderr
    assert not [p for p in cache_files(tmp_path) if p.stat().st_size > 0]
    assert json.loads(run_cli("models", "ls", "--json").stdout)[-1]["source"] == "starter"


def test_not_enough_disk_space_is_checked_first(fake_hub, tmp_path) -> None:
    result = run_cli("models", "pull", "roundtable-test/huge-GGUF", "--file", "Huge-Q4_K_M.gguf")
    assert result.returncode == 6 and "Not enough disk space" in result.stderr and "HF_HUB_CACHE" in result.stderr
    assert fake_hub.bytes_served["Huge-Q4_K_M.gguf"] < 4 << 20  # the header was read; no download began
    assert not list((tmp_path / "hf-cache").rglob("*.incomplete"))


def _pull_in_background(*extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        cli_command("models", "pull", TEST_REPO, "--quant", "Q8_0", "--json", *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _partial(tmp_path: Path) -> Path | None:
    return next((p for p in cache_files(tmp_path) if p.name.endswith(".incomplete")), None)


def test_kill_9_mid_download_then_the_next_pull_continues(fake_hub, test_repo, tmp_path) -> None:
    size = test_repo.files[Q8].size
    fake_hub.rate = 20_000_000  # ~5 s for the file: time to kill it half way
    process = _pull_in_background()
    wait_for(lambda: (p := _partial(tmp_path)) and p.stat().st_size > size // 2, timeout=60, interval=0.02)
    process.kill()
    process.wait(10)
    kept = _partial(tmp_path).stat().st_size
    fake_hub.rate = None
    result = run_cli("models", "pull", TEST_REPO, "--quant", "Q8_0")
    assert result.returncode == 0, result.stderr
    refetched = fake_hub.bytes_served[Q8] - size
    assert refetched <= CHUNK, f"{refetched} bytes fetched again after keeping {kept}"


def test_ctrl_c_cancels_cleanly_and_keeps_the_partial_file(fake_hub, test_repo, tmp_path) -> None:
    fake_hub.rate = 20_000_000
    process = _pull_in_background()
    wait_for(lambda: (p := _partial(tmp_path)) and p.stat().st_size > 5 * CHUNK, timeout=60, interval=0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=PATIENCE_S)
    assert process.returncode == 130 and "paused at" in err and "roundtable models downloads resume 1" in err
    assert _partial(tmp_path).stat().st_size > 0
    assert json.loads(run_cli("models", "ls", "--json").stdout)[-1]["source"] == "starter"


def test_cancel_token_stops_a_pull(fake_hub, ctx) -> None:
    from app.core.hub.download import DownloadCancelled

    cancel = CancelToken()
    fake_hub.rate = 20_000_000

    def progress(p) -> None:
        if p.done_bytes > 3 * CHUNK:
            cancel.cancel()

    with pytest.raises(DownloadCancelled):
        pull_model(ctx, TEST_REPO, quant="Q8_0", progress=progress, cancel=cancel)
    assert fake_hub.bytes_served[Q8] < fake_hub.repos[TEST_REPO].files[Q8].size  # stopped, not finished first
