from pathlib import Path

import pytest

from app.core.hardware import GPU, Hardware
from app.core.hub.fit import Architecture, compute_bytes, estimate, kv_cache_bytes, recommend
from app.core.hub.gguf import inspect_model_file

GB = 1_000_000_000


@pytest.fixture(scope="module")
def smollm(starter_model: Path) -> Architecture:
    return Architecture.from_metadata(inspect_model_file(starter_model).metadata)


def machine(ram_free: float, gpu_free: float = 0, backend: str = "cuda") -> Hardware:
    gpus = [GPU("Test GPU", int(gpu_free * 2), int(gpu_free))] if gpu_free else []
    return Hardware("cpu", 8, 16, int(ram_free * 2), int(ram_free), backend if gpus else "cpu", gpus)


def test_numbers_come_from_the_header(smollm: Architecture) -> None:
    assert (smollm.n_layer, smollm.n_head, smollm.n_head_kv, smollm.head_dim_k) == (30, 9, 3, 64)
    assert smollm.n_vocab == 49152 and smollm.context_length == 8192


def test_kv_cache_and_compute_match_what_llama_cpp_allocates(smollm: Architecture) -> None:
    # llama.cpp reports, for this model at 4096 tokens: KV 90.00 MiB, CPU compute buffer 99.38 MiB
    assert kv_cache_bytes(smollm, 4096) == 90 * 1024 * 1024
    assert abs(compute_bytes(smollm, 4096) / 2**20 - 99.38) < 2


def test_context_size_changes_the_estimate(smollm: Architecture) -> None:
    small = estimate(smollm, 98_000_000, 2048, machine(16 * GB))
    large = estimate(smollm, 98_000_000, 8192, machine(16 * GB))
    assert large.est_memory_bytes - small.est_memory_bytes >= kv_cache_bytes(smollm, 6144)


def test_context_is_capped_at_what_the_model_was_trained_for(smollm: Architecture) -> None:
    assert estimate(smollm, 98_000_000, 100_000, machine(16 * GB)).context == 8192


def test_verdicts(smollm: Architecture) -> None:
    weights = 98_000_000
    assert estimate(smollm, weights, 4096, machine(16 * GB, gpu_free=8 * GB)).fit == "gpu"
    partial = estimate(smollm, 20 * GB, 4096, machine(64 * GB, gpu_free=8 * GB))
    assert partial.fit == "partial" and 0 < partial.gpu_layers < smollm.n_layer
    assert estimate(smollm, weights, 4096, machine(16 * GB)).fit == "cpu"
    assert estimate(smollm, 40 * GB, 4096, machine(16 * GB)).fit == "no"
    assert estimate(smollm, 40 * GB, 4096, machine(16 * GB, gpu_free=8 * GB)).fit == "no"


def test_cpu_only_build_ignores_the_gpu(smollm: Architecture) -> None:
    hardware = machine(16 * GB, gpu_free=8 * GB, backend="cpu")
    hardware.backend = "cpu"
    assert estimate(smollm, 98_000_000, 4096, hardware).fit == "cpu"


def test_recommendation_prefers_the_sweet_spot_on_cpu_and_quality_on_gpu(smollm: Architecture) -> None:
    sizes = {"Q2_K": 1.0, "Q4_K_M": 1.5, "Q8_0": 2.5, "F16": 4.5}

    def pick(hardware: Hardware) -> str | None:
        candidates = [(q, int(s * GB), estimate(smollm, int(s * GB), 4096, hardware)) for q, s in sizes.items()]
        chosen = recommend(candidates)
        return None if chosen is None else candidates[chosen][0]

    assert pick(machine(16 * GB)) == "Q4_K_M"
    assert pick(machine(16 * GB, gpu_free=24 * GB)) == "Q8_0"
    assert pick(machine(1.5 * GB)) == "Q2_K"  # only the smallest fits
    assert pick(machine(0.5 * GB)) is None


def test_specialists_count_their_base_once_plus_each_adapter(smollm: Architecture) -> None:
    base, adapters = 138_000_000, [5_000_000, 7_000_000, 3_000_000, 6_000_000]
    alone = estimate(smollm, base, 4096, machine(16 * GB))
    shared = estimate(smollm, base, 4096, machine(16 * GB), adapter_bytes=adapters)
    assert shared.est_memory_bytes == alone.est_memory_bytes + sum(adapters)
    separate = sum(estimate(smollm, base, 4096, machine(16 * GB), [a]).est_memory_bytes for a in adapters)
    assert shared.est_memory_bytes < separate / 3  # four specialists on one host: one base, not four
