"""Search and file listings from the fake Hub through the real huggingface_hub client."""

import json
import socket

import pytest

from app.core.hardware import probe
from app.core.hub.catalog import list_files, search
from app.core.hub.client import HubError
from app.core.hub.quants import quant_from_name
from tests.conftest import run_cli
from tests.fakehub import STARTER_FILE, TEST_REPO


def test_search_lists_gguf_repos_with_their_stats(fake_hub) -> None:
    (result,) = search("smollm2")
    assert result.repo == TEST_REPO and result.downloads == 12345 and result.likes == 42
    assert result.instruct and result.last_modified.startswith("2026-10-01")
    assert search("safetensors") == []  # not a GGUF repo


def test_files_lists_every_quant_shards_as_one_and_lora_adapters(fake_hub, test_repo) -> None:
    listing = list_files(TEST_REPO, probe(), 4096)
    by_name = {f.filename: f for f in listing.files}
    assert {f.quant for f in listing.files if f.kind == "model"} == {"Q4_1", "Q8_0", "Q4_K_M", "IQ4_XS", "F16"}
    split = by_name["SmolLM2-135M-Instruct-F16-00001-of-00002.gguf"]
    assert len(split.parts) == 2 and split.size_bytes == test_repo.files[STARTER_FILE].size
    assert by_name["SmolLM2-135M-finance-LoRA-F16.gguf"].kind == "lora"
    assert "README.md" not in by_name
    starter = by_name[STARTER_FILE]
    assert starter.sha256 == test_repo.files[STARTER_FILE].sha256
    assert starter.fit == "cpu" and starter.gpu_layers == 0
    assert 300e6 < starter.est_memory_bytes < 450e6
    assert [f.quant for f in listing.files if f.recommended] == ["Q4_K_M"]
    assert listing.architecture["n_layer"] == 30


def test_the_header_is_read_without_downloading_the_weights(fake_hub) -> None:
    list_files(TEST_REPO, probe(), 4096)
    assert 0 < sum(fake_hub.bytes_served.values()) < 10_000_000


def test_a_larger_context_needs_more_memory(fake_hub) -> None:
    small = {f.filename: f.est_memory_bytes for f in list_files(TEST_REPO, probe(), 1024).files}
    large = {f.filename: f.est_memory_bytes for f in list_files(TEST_REPO, probe(), 8192).files}
    assert large[STARTER_FILE] > small[STARTER_FILE] + 150_000_000


def test_files_cli_json_carries_the_promised_fields(fake_hub) -> None:
    result = run_cli("models", "files", TEST_REPO, "--json", "--ctx", "2048")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    keys = {"filename", "quant", "size_bytes", "sha256", "fit", "gpu_layers", "est_memory_bytes", "recommended"}
    assert all(keys <= set(row) for row in rows)
    text = run_cli("models", "files", TEST_REPO).stdout
    assert "* " in text and "recommended for this machine" in text and "(2 parts)" in text


@pytest.mark.parametrize("name", ["Model-Q4_K_M.gguf", "model.q4_k_m.gguf", "x-IQ3_XXS-imat.gguf", "y-BF16.gguf"])
def test_quant_names_are_read_from_file_names(name: str) -> None:
    assert quant_from_name(name) in {"Q4_K_M", "IQ3_XXS", "BF16"}


def test_unknown_repo(fake_hub) -> None:
    with pytest.raises(HubError, match="No model repository 'nobody/nothing'"):
        list_files("nobody/nothing", probe())
    result = run_cli("models", "files", "nobody/nothing")
    assert result.returncode == 6 and "No model repository" in result.stderr


def test_repo_without_gguf(fake_hub) -> None:
    with pytest.raises(HubError, match="has no GGUF files"):
        list_files("roundtable-test/safetensors-only", probe())


def test_gated_repo_without_a_token_says_how_to_log_in(fake_hub, monkeypatch) -> None:
    result = run_cli("models", "files", "roundtable-test/gated-model-GGUF")
    assert result.returncode == 6 and "gated" in result.stderr and "hf auth login" in result.stderr
    monkeypatch.setenv("HF_TOKEN", "hf_testtoken")
    assert any(f.recommended for f in list_files("roundtable-test/gated-model-GGUF", probe()).files)


def test_unreachable_hub(monkeypatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    result = run_cli("models", "search", "llama")
    assert result.returncode == 6 and "Cannot reach the Hugging Face Hub" in result.stderr
    assert run_cli("ask", "Hello").returncode == 0  # installed models keep working


def test_offline_mode(fake_hub, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run_cli("models", "search", "smol")
    assert result.returncode == 6 and "HF_HUB_OFFLINE" in result.stderr
    assert fake_hub.requests == []


def test_hub_down_for_maintenance(fake_hub) -> None:
    fake_hub.refuse = True
    result = run_cli("models", "files", TEST_REPO)
    assert result.returncode == 6 and "503" in result.stderr
