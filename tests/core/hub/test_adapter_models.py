"""LoRA adapters in the model manager: `models add`, `models pull`, `models ls`, and binding one to a copilot."""

import json
import re
from pathlib import Path

from app.core.hub.installed import installed_models, pull_model
from tests.conftest import run_cli
from tests.fakehub import TEST_REPO
from tests.lora import write_lora


def installed() -> dict[str, dict]:
    result = run_cli("models", "ls", "--json")
    assert result.returncode == 0, result.stderr
    return {m["id"]: m for m in json.loads(result.stdout)}


def test_add_registers_an_adapter_with_its_base_and_a_copilot_applies_it(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "Finance-LoRA.gguf", seed=1)
    added = run_cli("models", "add", str(path))
    assert added.returncode == 0, added.stderr
    assert "--lora finance-lora" in added.stdout and "llama model" in added.stdout
    adapter = installed()["finance-lora"]
    assert adapter["adapter"] == "lora" and adapter["architecture"] == "llama" and adapter["used_by"] == []
    assert installed()["smollm2-135m"]["adapter"] is None
    assert "LORA for llama" in run_cli("models", "ls").stdout

    assert run_cli("copilots", "edit", "writer", "--lora", "finance-lora").returncode == 0
    assert installed()["finance-lora"]["used_by"] == ["writer"]
    answered = run_cli("ask", "--copilot", "writer", "--json", "Hi")
    assert answered.returncode == 0, answered.stderr

    refused = run_cli("models", "rm", "finance-lora")
    assert refused.returncode == 2 and "used by writer" in refused.stderr
    forced = run_cli("models", "rm", "finance-lora", "--force")
    assert forced.returncode == 0 and "writer now use no adapter" in forced.stdout
    shown = json.loads(run_cli("copilots", "show", "writer", "--json").stdout)
    assert "lora" not in shown or shown["lora"] is None


def test_a_copilot_is_refused_an_adapter_for_another_architecture_naming_both(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "qwen-helper.gguf", seed=1, architecture="qwen2")
    assert run_cli("models", "add", str(path)).returncode == 0
    assert installed()["qwen-helper"]["architecture"] == "qwen2"
    refused = run_cli("copilots", "edit", "writer", "--lora", "qwen-helper")
    assert refused.returncode == 2
    assert "qwen-helper.gguf" in refused.stderr and "SmolLM2-135M-Instruct" in refused.stderr
    assert "'qwen2'" in refused.stderr and "'llama'" in refused.stderr


def test_an_adapter_is_not_a_model(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "finance.gguf", seed=1)
    result = run_cli("ask", "--model", str(path), "Hi")
    assert result.returncode == 4 and "is a LORA adapter, not a model" in result.stderr


def test_add_refuses_a_truncated_adapter(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "cut.gguf", seed=1)
    path.write_bytes(path.read_bytes()[:-4096])
    result = run_cli("models", "add", str(path))
    assert result.returncode == 4 and "Adapter file" in result.stderr and "truncated" in result.stderr
    assert list(installed()) == ["smollm2-135m"]


def test_pull_installs_a_lora_gguf_as_an_adapter(fake_hub, ctx) -> None:
    model_id, chosen = pull_model(ctx, TEST_REPO, filename="SmolLM2-135M-finance-LoRA-F16.gguf")
    (adapter,) = [m for m in installed_models(ctx) if m.id == model_id]
    assert adapter.adapter == "lora" and adapter.architecture == "llama" and adapter.repo == TEST_REPO


def test_ls_groups_the_copilots_sharing_a_base_with_their_adapters_and_its_memory(tmp_path: Path) -> None:
    from tests.lora import write_control_vector

    for path in (write_lora(tmp_path / "finance.gguf", seed=1), write_control_vector(tmp_path / "calm.gguf", seed=1)):
        assert run_cli("models", "add", str(path)).returncode == 0
    assert run_cli("copilots", "edit", "analyst", "--lora", "finance", "--lora-scale", "0.5").returncode == 0
    assert run_cli("copilots", "edit", "writer", "--lora", "finance", "--control-vector", "calm").returncode == 0
    starter = installed()["smollm2-135m"]
    by_copilot = {s["copilot"]: s for s in starter["specialists"]}
    assert sorted(by_copilot) == ["analyst", "generalist", "reviewer", "writer"]
    analyst = by_copilot["analyst"]
    assert analyst["lora"] == str((tmp_path / "finance.gguf").resolve()) and analyst["lora_scale"] == 0.5
    assert by_copilot["generalist"]["lora"] is None and by_copilot["generalist"]["control_vector"] is None
    assert installed()["finance"]["specialists"] == []  # an adapter has users, not specialists

    listed = run_cli("models", "ls").stdout
    line = next(line for line in listed.splitlines() if line.startswith("base smollm2-135m: "))
    assert "analyst (adapter finance.gguf ×0.5)" in line and ", generalist," in line
    assert "writer (adapter finance.gguf ×1, control vector calm.gguf ×1)" in line
    # one process holds the base once: less than the three processes one per adapter set would
    scale = {"MB": 1e6, "GB": 1e9}
    together, apart = (float(n) * scale[unit] for n, unit in re.findall(r"([\d.]+) ([MG]B)", line))
    assert "one process, about" in line and together < apart / 2
