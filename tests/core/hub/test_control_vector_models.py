"""Control vectors in the model manager: `models add`, `models ls`, `models rm`, and a copilot steered by one."""

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.lora import write_control_vector


def installed() -> dict[str, dict]:
    result = run_cli("models", "ls", "--json")
    assert result.returncode == 0, result.stderr
    return {m["id"]: m for m in json.loads(result.stdout)}


def test_add_registers_a_control_vector_for_its_base_and_a_copilot_is_steered_by_it(tmp_path: Path) -> None:
    path = write_control_vector(tmp_path / "Calm.gguf", seed=1)
    added = run_cli("models", "add", str(path))
    assert added.returncode == 0, added.stderr
    assert "--control-vector calm" in added.stdout and "llama model" in added.stdout
    vector = installed()["calm"]
    assert vector["adapter"] == "control_vector" and vector["architecture"] == "llama"
    assert vector["used_by"] == []
    assert "control vector for llama" in run_cli("models", "ls").stdout

    steer = ["--control-vector", "calm", "--control-vector-strength", "0.8", "--max-tokens", "8"]
    edited = run_cli("copilots", "edit", "writer", *steer)
    assert edited.returncode == 0, edited.stderr
    assert installed()["calm"]["used_by"] == ["writer"]
    assert "writer (control vector Calm.gguf ×0.8)" in run_cli("models", "ls").stdout
    answered = run_cli("ask", "--copilot", "writer", "--json", "Hi")
    assert answered.returncode == 0, answered.stderr

    refused = run_cli("models", "rm", "calm")
    assert refused.returncode == 2 and "used by writer" in refused.stderr
    forced = run_cli("models", "rm", "calm", "--force")
    assert forced.returncode == 0 and "writer now use no control vector" in forced.stdout
    shown = json.loads(run_cli("copilots", "show", "writer", "--json").stdout)
    assert shown.get("control_vector") is None


def test_a_copilot_is_refused_a_vector_of_another_width_naming_both_files(tmp_path: Path) -> None:
    path = write_control_vector(tmp_path / "qwen-calm.gguf", seed=1, n_embd=896, model_hint="qwen2")
    assert run_cli("models", "add", str(path)).returncode == 0
    assert installed()["qwen-calm"]["architecture"] == "qwen2"
    refused = run_cli("copilots", "edit", "writer", "--control-vector", "qwen-calm")
    assert refused.returncode == 2
    assert "The control vector qwen-calm.gguf does not fit SmolLM2-135M-Instruct" in refused.stderr
    assert "896 wide, but" in refused.stderr and "576-wide" in refused.stderr


def test_a_control_vector_is_not_a_model_and_a_truncated_one_is_not_added(tmp_path: Path) -> None:
    path = write_control_vector(tmp_path / "calm.gguf", seed=1)
    result = run_cli("ask", "--model", str(path), "Hi")
    assert result.returncode == 4 and "calm.gguf is a control vector, not a model" in result.stderr
    path.write_bytes(path.read_bytes()[:-1024])
    result = run_cli("models", "add", str(path))
    assert result.returncode == 4 and "truncated" in result.stderr
    assert list(installed()) == ["smollm2-135m"]
