"""`models ls`, `models rm` and `models add`."""

import json
import shutil
import struct
from pathlib import Path

from app.core.hub.installed import model_id_for, pull_model
from tests.conftest import run_cli
from tests.fakehub import TEST_REPO


def models_json() -> list[dict]:
    result = run_cli("models", "ls", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def bind(ctx, copilot_id: str, model_id: str | None) -> None:
    copilot = ctx.copilot(copilot_id).model_copy(update={"model": model_id})
    ctx.store.save_copilot(copilot.id, copilot.name, copilot.model_dump())


def test_ls_shows_size_place_and_users(ctx) -> None:
    (starter,) = models_json()
    assert starter["id"] == "smollm2-135m"
    assert sorted(starter["used_by"]) == ["analyst", "generalist", "reviewer", "writer"]
    assert starter["size_bytes"] > 90_000_000 and starter["present"] and starter["quant"] == "Q4_1"
    assert "generalist" in run_cli("models", "ls").stdout


def test_rm_refuses_a_model_in_use_unless_forced_and_deletes_its_download(fake_hub, ctx) -> None:
    model_id, _ = pull_model(ctx, TEST_REPO, quant="Q8_0")
    record = ctx.store.get_model(model_id)
    link = Path(record["path"])
    blob = link.resolve()
    bind(ctx, "generalist", model_id)

    refused = run_cli("models", "rm", model_id)
    assert refused.returncode == 2 and "used by generalist" in refused.stderr and "--force" in refused.stderr
    assert blob.exists()

    forced = run_cli("models", "rm", model_id, "--force")
    assert forced.returncode == 0 and "generalist now use the starter model" in forced.stdout
    assert not link.exists() and not blob.exists()
    assert [m["id"] for m in models_json()] == ["smollm2-135m"]
    assert run_cli("ask", "Hi").returncode == 0  # generalist answers on the starter again


def test_the_starter_model_cannot_be_removed(ctx) -> None:
    result = run_cli("models", "rm", "smollm2-135m", "--force")
    assert result.returncode == 2 and "ships with Roundtable" in result.stderr


def test_rm_unknown(ctx) -> None:
    result = run_cli("models", "rm", "nope")
    assert result.returncode == 2 and "models ls" in result.stderr


def test_add_registers_a_local_gguf_and_it_answers(tmp_path: Path, starter_model: Path) -> None:
    mine = tmp_path / "My-Finance-Model.Q4_1.gguf"
    shutil.copy(starter_model, mine)
    result = run_cli("models", "add", str(mine))
    assert result.returncode == 0, result.stderr
    assert "my-finance-model.q4_1" in result.stdout
    added = next(m for m in models_json() if m["source"] == "local")
    assert added["path"] == str(mine) and added["architecture"] == "llama"
    assert run_cli("ask", "--model", added["id"], "Hello").returncode == 0
    assert run_cli("models", "rm", added["id"]).returncode == 0
    assert mine.exists()  # the user's own file is never deleted


def test_add_refuses_a_truncated_file(tmp_path: Path, starter_model: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(starter_model.read_bytes()[:30_000_000])
    result = run_cli("models", "add", str(cut))
    assert result.returncode == 4 and "truncated" in result.stderr
    assert len(models_json()) == 1


def test_add_refuses_an_architecture_llama_cpp_does_not_know(tmp_path: Path, starter_model: Path) -> None:
    data = bytearray(starter_model.read_bytes())
    value = struct.pack("<Q", 5) + b"llama"
    at = data.index(struct.pack("<Q", 20) + b"general.architecture")
    at = data.index(value, at)
    data[at + 8 : at + 13] = b"qwert"  # a well-formed file for a model llama.cpp has never heard of
    odd = tmp_path / "odd.gguf"
    odd.write_bytes(bytes(data))
    result = run_cli("models", "add", str(odd))
    assert result.returncode == 4 and "cannot load" in result.stderr and "qwert" in result.stderr
    assert len(models_json()) == 1


def test_model_ids_are_short_and_unique() -> None:
    assert model_id_for("Qwen2.5-7B-Instruct-Q4_K_M-00001-of-00003.gguf", set()) == "qwen2.5-7b-instruct-q4_k_m"
    assert model_id_for("a.gguf", {"a"}) == "a-2"
