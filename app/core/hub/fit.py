"""Will this model fit, and where? Weights + KV cache at the chosen context + compute buffers + overhead.

The numbers come from the GGUF header (layers, heads, KV heads, head sizes, vocabulary). Unlike estimates
that ignore the context size (ollama #1952) or leave no headroom (ollama #8471), this one counts the KV
cache at the context the user asks for and keeps a tenth of every memory pool free.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.core.hardware import Hardware
from app.core.hub.gguf import GGUFFormatError

# stored on disk and in JSON output: never change or reuse values
FIT_GPU = "gpu"
FIT_PARTIAL = "partial"
FIT_CPU = "cpu"
FIT_NO = "no"

N_BATCH = 512  # llama.cpp's default logical batch
MIN_CONTEXT = 256  # the smallest context a copilot or the settings may ask for
HEADROOM = 0.9  # use at most this share of free memory
_GPU_OVERHEAD = 300 * 1024 * 1024  # driver context, scratch, fragmentation
_CPU_OVERHEAD = 64 * 1024 * 1024
_KV_BYTES = 2  # f16 cache


@dataclass
class Architecture:
    """The header numbers a memory estimate needs."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim_k: int
    head_dim_v: int
    n_vocab: int
    context_length: int | None

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Architecture:
        arch = metadata.get("general.architecture", "llama")

        def value(key: str, default: Any = None) -> Any:
            return metadata.get(f"{arch}.{key}", default)

        def number(key: str, default: Any) -> int:
            # a header is untrusted: a string or a negative number here must not become a traceback
            raw = value(key, default)
            if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < 1 << 40:
                raise GGUFFormatError(f"{arch}.{key} is {raw!r}, not a count")
            return raw

        n_embd = number("embedding_length", 4096)
        n_head = _first(value("attention.head_count", 32))
        n_head_kv = _first(value("attention.head_count_kv", n_head))
        head_dim = n_embd // max(n_head, 1)
        vocab = value("vocab_size") or _array_length(metadata.get("tokenizer.ggml.tokens")) or 32000
        if not isinstance(vocab, int) or vocab < 0:
            raise GGUFFormatError(f"the vocabulary size {vocab!r} is not a count")
        return cls(
            n_layer=number("block_count", 32),
            n_embd=n_embd,
            n_head=n_head,
            n_head_kv=n_head_kv,
            head_dim_k=number("attention.key_length", head_dim),
            head_dim_v=number("attention.value_length", head_dim),
            n_vocab=vocab,
            context_length=number("context_length", 0) or None,
        )


def _first(value: Any) -> int:
    """Some models give a per-layer array of head counts; the largest entry is representative."""
    if isinstance(value, list):
        value = max(value, default=0) if all(type(v) is int for v in value) else None
    elif isinstance(value, dict):  # an array the header reader kept only the length of
        return 0
    if type(value) is not int or not 0 <= value < 1 << 20:
        raise GGUFFormatError(f"a head count of {value!r} is not a count")
    return value


def _array_length(value: Any) -> int | None:
    if isinstance(value, dict):
        return value.get("array_length")
    return len(value) if isinstance(value, list) else None


@dataclass
class Fit:
    """Where a model would run on this machine at a context size, and how much memory it needs."""

    fit: str
    gpu_layers: int
    est_memory_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    context: int


def host_weights_bytes(base_bytes: int, adapter_bytes: Iterable[int] = ()) -> int:
    """The weights one model host holds: its base model once, plus each distinct LoRA adapter or control vector
    loaded into it. Specialists on one base share its host, so N of them cost one base, not N."""
    return base_bytes + sum(adapter_bytes)


def kv_cache_bytes(arch: Architecture, context: int) -> int:
    return _KV_BYTES * context * arch.n_layer * arch.n_head_kv * (arch.head_dim_k + arch.head_dim_v)


def compute_bytes(arch: Architecture, context: int) -> int:
    """Compute buffers for one batch: llama.cpp reuses memory between the f32 logits and the attention
    scores (without flash attention), so the larger of the two counts, plus activations.

    Checked against llama.cpp's own report for SmolLM2-135M at 4096 tokens: 99.4 MiB (this gives 100.5).
    """
    return 4 * N_BATCH * max(arch.n_vocab, context * arch.n_head) + 4 * N_BATCH * 4 * arch.n_embd


def estimate(
    arch: Architecture, weights_bytes: int, context: int, hardware: Hardware, adapter_bytes: Iterable[int] = ()
) -> Fit:
    """The verdict for one model file at `context` tokens on `hardware`; with `adapter_bytes`, for its host serving
    specialists: the base's weights once, plus each adapter's."""
    weights_bytes = host_weights_bytes(weights_bytes, adapter_bytes)
    if arch.context_length:
        context = min(context, int(arch.context_length))
    kv = kv_cache_bytes(arch, context)
    compute = compute_bytes(arch, context)
    gpu_free = int(hardware.gpu_free_bytes * HEADROOM)
    ram_free = int(hardware.ram_available_bytes * HEADROOM)
    if gpu_free:
        total = weights_bytes + kv + compute + _GPU_OVERHEAD
        if total <= gpu_free:
            return Fit(FIT_GPU, arch.n_layer, total, kv, compute, context)
        per_layer = (weights_bytes + kv) / max(arch.n_layer, 1)
        layers = int((gpu_free - compute - _GPU_OVERHEAD) // per_layer) if per_layer else 0
        layers = max(0, min(layers, arch.n_layer - 1))
        on_cpu = int(per_layer * (arch.n_layer - layers)) + compute + _CPU_OVERHEAD
        if layers > 0 and on_cpu <= ram_free:
            return Fit(FIT_PARTIAL, layers, total, kv, compute, context)
    total = weights_bytes + kv + compute + _CPU_OVERHEAD
    verdict = FIT_CPU if total <= ram_free else FIT_NO
    return Fit(verdict, 0, total, kv, compute, context)


# Which quant to suggest when several fit equally well: near-lossless first where memory is plentiful (GPU),
# the usual speed/quality sweet spot first where it is not.
_GPU_PREFERENCE = ["Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "IQ4_XS", "Q4_1", "Q4_0"]
_CPU_PREFERENCE = ["Q4_K_M", "Q5_K_M", "Q4_K_S", "IQ4_XS", "Q5_K_S", "Q6_K", "Q4_1", "Q4_0", "IQ4_NL", "Q8_0"]
_TIER = {FIT_GPU: 0, FIT_PARTIAL: 1, FIT_CPU: 2}


def recommend(candidates: list[tuple[str | None, int, Fit]]) -> int | None:
    """Index of the file to suggest among (quant, size, fit) for model files; None when nothing fits."""
    usable = [i for i, (_, _, fit) in enumerate(candidates) if fit.fit in _TIER]
    if not usable:
        return None
    best_tier = min(_TIER[candidates[i][2].fit] for i in usable)
    tier = [i for i in usable if _TIER[candidates[i][2].fit] == best_tier]
    if best_tier == _TIER[FIT_PARTIAL]:
        most_layers = max(candidates[i][2].gpu_layers for i in tier)
        tier = [i for i in tier if candidates[i][2].gpu_layers == most_layers] if most_layers > 0 else tier
    preference = _GPU_PREFERENCE if best_tier == _TIER[FIT_GPU] else _CPU_PREFERENCE
    for quant in preference:
        for i in tier:
            if (candidates[i][0] or "").upper() == quant:
                return i
    quantised = [i for i in tier if (candidates[i][0] or "").upper() not in {"F32", "F16", "BF16"}] or tier
    return max(quantised, key=lambda i: candidates[i][1])


def memory_bytes(hardware: Hardware) -> int:
    """All the memory a model host could ever use here: RAM plus dedicated GPU memory, less the headroom."""
    gpu = sum(g.total_bytes for g in hardware.gpus if not g.unified) if hardware.backend != "cpu" else 0
    return int((hardware.ram_total_bytes + gpu) * HEADROOM)


def max_context(arch: Architecture, weights_bytes: int, hardware: Hardware, upper: int) -> int | None:
    """The largest context up to `upper` tokens whose KV cache and buffers fit beside the weights in all of
    this machine's memory; None when even the smallest context does not fit (the model is too big, not the
    context)."""
    budget = memory_bytes(hardware) - weights_bytes - _CPU_OVERHEAD

    def fits(context: int) -> bool:
        return kv_cache_bytes(arch, context) + compute_bytes(arch, context) <= budget

    low = MIN_CONTEXT
    if not fits(low):
        return None
    high = upper
    while low < high:  # both costs grow with the context, so the first that does not fit is found by halving
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def context_problem(arch: Architecture, weights_bytes: int, hardware: Hardware, requested: int) -> str | None:
    """Why `requested` tokens of context are too many for this model on this machine, naming the limit."""
    trained = arch.context_length
    if trained and requested > trained:
        return f"the model was trained for at most {trained:,} tokens: set context_size to {trained:,} or less"
    largest = max_context(arch, weights_bytes, hardware, requested)
    if largest is not None and largest < requested:
        need = (kv_cache_bytes(arch, requested) + compute_bytes(arch, requested)) / 1e9
        have = memory_bytes(hardware) / 1e9
        return (
            f"its KV cache and buffers would need {need:,.1f} GB beside the model, more than the {have:,.1f} GB "
            f"of memory this machine can give: set context_size to {largest:,} or less"
        )
    return None
