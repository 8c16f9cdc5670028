"""The recommended models list: loading and validation, its judgement for a machine (offline from the list's own
sizes, online from the fake Hub's listing), and giving a model to the crew."""

from pathlib import Path

import pytest

from app.core.errors import UsageError
from app.core.hardware import GPU, Hardware
from app.core.hub.fit import FIT_CPU, FIT_GPU, FIT_NO
from app.core.hub.recommended import (
    MAX_LIST_BYTES,
    crew_for,
    give_to_crew,
    load_recommended,
    recommend,
)
from tests.fakehub import MISSING_REPO, TEST_REPO, Repo, Source, recommended_list, tiny_gguf

GB = 1_000_000_000
CREW = {p.stem for p in (Path(__file__).resolve().parents[3] / "resources" / "crew").glob("*.toml")}


def machine(ram_free: float, gpu_free: float = 0) -> Hardware:
    gpus = [GPU("Test GPU", int(gpu_free * 1.1), int(gpu_free))] if gpu_free else []
    return Hardware("cpu", 8, 16, int(ram_free * 2), int(ram_free), "cuda" if gpus else "cpu", gpus)


def test_the_shipped_list_is_short_valid_and_names_the_starter_crew() -> None:
    models = load_recommended()
    assert 6 <= len(models) <= 8
    assert len({m.repo for m in models}) == len(models)
    assert all(set(m.roles) <= CREW for m in models)  # every role is a starter copilot's id
    assert {"0.5B", "7.6B"} <= {m.params for m in models}  # a few sizes, small to large
    assert all(m.sizes_mb[q] > 0 for m in models for q in m.quants)


VALID = (
    '[[models]]\nname = "A"\nrepo = "org/A-GGUF"\nparameters_b = 1\ngood_for = "x"\nquants = ["Q4_K_M"]\n'
    'sizes_mb = { Q4_K_M = 800 }\nroles = ["generalist"]\narchitecture = { n_layer = 16, n_embd = 2048, '
    "n_head = 32, n_head_kv = 8, head_dim = 64, n_vocab = 128256, context_length = 131072 }\n"
)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (VALID.replace('good_for = "x"\n', ""), "'models.0.good_for' Field required"),
        (VALID.replace('["Q4_K_M"]', '["Q4_K_Z"]'), "'models.0.quants' 'Q4_K_Z' is not a quant name"),
        (VALID.replace("{ Q4_K_M = 800 }", "{ Q8_0 = 800 }"), "sizes_mb must give the size of each quant"),
        (VALID.replace('"org/A-GGUF"', '"../etc"'), "'models.0.repo' String should match pattern"),
        (VALID.replace('["generalist"]', '["Bad Role!"]'), "'Bad Role!' is not a copilot id"),
        (VALID.replace("n_layer = 16", "n_layer = 0"), "'models.0.architecture.n_layer'"),
        (VALID + "extra = 1\n", "'models.0.extra' Extra inputs are not permitted"),
        (VALID + VALID, "'models' lists a repo twice"),
        ("models = []\n", "'models' List should have at least 1 item"),
        ("[[models]\n", "Cannot read the recommended models list"),
        ("#" * (MAX_LIST_BYTES + 1), f"it is over {MAX_LIST_BYTES // 1024} KiB"),
    ],
)
def test_a_bad_list_is_refused_naming_the_file_and_the_field(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "recommended.toml"
    path.write_text(VALID)
    assert load_recommended(path)[0].params == "1B"  # each case breaks one thing in a list that loads
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_recommended(path)
    assert says in str(caught.value) and str(path) in str(caught.value)


def test_offline_the_lists_sizes_are_judged_and_nothing_is_offered_for_download() -> None:
    models = load_recommended()
    found = recommend(models, machine(ram_free=4 * GB), 4096)  # HF_HUB_OFFLINE=1 (tests/conftest.py)
    assert found.hub_problem is not None and "HF_HUB_OFFLINE" in found.hub_problem
    assert all(item.filename is None for item in found.items)
    by_repo = {item.model.repo: item for item in found.items}
    qwen7 = by_repo["bartowski/Qwen2.5-7B-Instruct-GGUF"]
    assert qwen7.fit.fit == FIT_NO and qwen7.size_bytes == qwen7.model.sizes_mb[qwen7.quant] * 1_000_000
    fits = [item.fit.fit for item in found.items]
    assert fits == sorted(fits, key=[FIT_CPU, FIT_NO].index)  # what runs here comes before what does not
    suggested = found.items[0]
    assert suggested.suggested and suggested.fit.fit == FIT_CPU
    # the biggest model that runs on this CPU, up to the size a CPU answers with at a usable speed
    assert suggested.model.parameters_b == max(i.model.parameters_b for i in found.items if i.fit.fit == FIT_CPU)


def test_with_a_big_gpu_the_biggest_model_is_suggested_in_its_best_quant() -> None:
    found = recommend(load_recommended(), machine(ram_free=32 * GB, gpu_free=24 * GB), 4096)
    assert all(item.fit.fit == FIT_GPU for item in found.items)
    assert found.items[0].suggested and found.items[0].model.params == "7.6B"
    tiny = next(item for item in found.items if item.model.params == "0.5B")
    assert tiny.quant == "Q8_0"  # the first preferred quant, since all of them run on the GPU


def test_online_the_hubs_listing_gives_files_and_sizes(fake_hub, tmp_path: Path) -> None:
    models = load_recommended(recommended_list(tmp_path / "list.toml"))
    found = recommend(models, machine(ram_free=8 * GB), 4096)
    assert found.hub_problem is None
    by_repo = {item.model.repo: item for item in found.items}
    smol = by_repo[TEST_REPO]
    source = fake_hub.repos[TEST_REPO].files["SmolLM2-135M-Instruct-Q4_K_M.gguf"]
    assert (smol.filename, smol.size_bytes, smol.note) == ("SmolLM2-135M-Instruct-Q4_K_M.gguf", source.size, "")
    assert smol.fit.fit == FIT_CPU and smol.suggested
    missing = by_repo[MISSING_REPO]  # the Hub does not have it: judged from the list, not downloadable
    assert missing.filename is None and "No model repository" in missing.note
    assert missing.size_bytes == 105_000_000
    assert not any("resolve" in request for request in fake_hub.requests)  # listings only: no file is read


def test_a_hostile_listing_is_not_believed(fake_hub, tmp_path: Path) -> None:
    weights = tiny_gguf({"general.architecture": "llama"})
    fake_hub.repos[TEST_REPO] = Repo(
        files={
            "../escape-Q4_K_M.gguf": Source(data=weights),  # a path out of the snapshot
            "huge-Q8_0.gguf": Source(data=weights, claimed_size=1 << 50),  # 1 PiB
        }
    )
    models = load_recommended(recommended_list(tmp_path / "list.toml"))
    item = next(i for i in recommend(models, machine(8 * GB), 4096).items if i.model.repo == TEST_REPO)
    assert item.filename is None and "has no Q4_K_M, Q8_0 GGUF file" in item.note


def test_the_model_goes_to_the_local_copilots_of_its_roles_else_the_default(ctx) -> None:
    assert give_to_crew(ctx, "some-model", ["analyst", "reviewer"]) == ["Analyst", "Reviewer"]
    assert ctx.copilot("analyst").model == ctx.copilot("reviewer").model == "some-model"
    assert ctx.copilot("writer").model is None
    crew = ctx.copilots()
    assert [c.id for c in crew_for(crew, ["nobody"], "generalist")] == ["generalist"]
    remote = [c.model_copy(update={"provider": "openai"}) if c.id == "writer" else c for c in crew]
    assert [c.id for c in crew_for(remote, ["writer", "analyst"], "generalist")] == ["analyst"]
    assert crew_for(remote, ["writer"], "writer") == []  # nobody local to give it to
