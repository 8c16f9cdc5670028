"""A copilot's context_size above what its model (trained context) or this machine's memory allows is refused,
naming the limit, before a model host is started."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from app.core.crew.copilots import Copilot
from app.core.hub.fit import Architecture, context_problem, max_context
from app.core.hub.gguf import inspect_model_file
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest
from tests.conftest import run_cli

STARTER_CONTEXT = 8192  # SmolLM2-135M's llama.context_length


@pytest.fixture(scope="module")
def long_context_model(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter with its header claiming a 2-billion-token context: only memory limits it now."""
    path = tmp_path_factory.mktemp("long") / "SmolLM2-long-context-Q4_1.gguf"
    shutil.copy(starter_model, path)
    with path.open("r+b") as stream:
        head = stream.read(4 << 20)
        key = b"llama.context_length"
        at = head.index(struct.pack("<Q", len(key)) + key) + 8 + len(key)
        assert struct.unpack_from("<I", head, at)[0] == 4  # uint32
        stream.seek(at + 4)
        stream.write(struct.pack("<I", 2_000_000_000))
    return path


def _copilots() -> list[str]:
    return [c["id"] for c in json.loads(run_cli("copilots", "ls", "--json").stdout)]


def test_above_the_models_trained_context_is_refused_by_copilots_add(starter_model: Path) -> None:
    before = _copilots()
    result = run_cli("copilots", "add", "longread", "--name", "Long", "--context-size", "16384")
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "8,192" in line and "context_size" in line
    assert _copilots() == before  # nothing saved
    assert run_cli("copilots", "add", "longread", "--name", "Long", "--context-size", "8192").returncode == 0


def test_above_what_memory_allows_is_refused_with_the_largest_that_fits(long_context_model: Path) -> None:
    asked = 1_000_000_000  # a KV cache of terabytes
    result = run_cli(
        "copilots", "add", "huge", "--name", "Huge", "--model", str(long_context_model), "--context-size", str(asked)
    )
    assert result.returncode == 2, result.stderr
    assert "memory" in result.stderr and "set context_size to" in result.stderr
    largest = int(result.stderr.split("set context_size to ")[1].split(" ")[0].replace(",", ""))
    assert 256 <= largest < asked
    assert "huge" not in _copilots()
    ok = run_cli("copilots", "add", "huge", "--name", "Huge", "--model", str(long_context_model),
                 "--context-size", str(largest))  # fmt: skip
    assert ok.returncode == 0, ok.stderr


def test_the_limit_is_the_largest_context_that_fits(long_context_model: Path) -> None:
    from app.core.hardware import probe

    hardware = probe()
    arch = Architecture.from_metadata(inspect_model_file(long_context_model).metadata)
    weights = long_context_model.stat().st_size
    largest = max_context(arch, weights, hardware, 10**9)
    assert context_problem(arch, weights, hardware, largest) is None
    assert "memory" in context_problem(arch, weights, hardware, largest + 1)


def test_a_stored_copilot_over_the_limit_fails_before_a_host_starts(ctx, starter_model: Path) -> None:
    """A copilot row from an older version (or edited by hand) skips the add-time check: the run catches it."""
    copilot = Copilot(id="stale", name="Stale", context_size=32768)
    ctx.store.save_copilot(copilot.id, copilot.name, copilot.model_dump())
    provider = ctx.provider_for(copilot)
    request = ChatRequest(messages=[ChatMessage(role="user", content="Hello")])
    events = list(provider.stream(request, CancelToken()))
    assert [e.kind for e in events if e.type == "error"] == ["context"]
    assert "8,192" in events[-1].message
    assert provider.host.pid is None and not provider.host.alive  # no model host was started

    result = run_cli("ask", "--copilot", "stale", "Hello")
    assert result.returncode == 2 and "context_size 32,768 is too large" in result.stderr
