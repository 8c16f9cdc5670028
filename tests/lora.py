"""LoRA adapters and control vectors for the starter model, written by the tests with the `gguf` package
(llama.cpp's own writer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter

# SmolLM2-135M: 576-wide embeddings, a 1536-wide feed-forward layer
_TARGETS = {"attn_q": (576, 576), "ffn_up": (576, 1536)}
RANK = 8


def write_lora(
    path: Path, seed: int, layers: range = range(6), strength: float = 0.2, architecture: str = "llama"
) -> Path:
    """A LoRA adapter GGUF for the starter model with random A/B pairs on `layers`; `strength` scales them so
    that greedy output changes (as convert_lora_to_gguf.py writes one: A is rank x in, B is out x rank)."""
    writer = GGUFWriter(str(path), architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(RANK))  # alpha / rank = 1: the scale is the copilot's own
    rng = np.random.default_rng(seed)
    for layer in layers:
        for name, (n_in, n_out) in _TARGETS.items():
            a = (rng.standard_normal((RANK, n_in)) * strength).astype(np.float32)
            b = (rng.standard_normal((n_out, RANK)) * strength).astype(np.float32)
            writer.add_tensor(f"blk.{layer}.{name}.weight.lora_a", a)
            writer.add_tensor(f"blk.{layer}.{name}.weight.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_control_vector(
    path: Path,
    seed: int,
    layers: range = range(1, 30),
    scale: float = 0.5,
    n_embd: int = 576,
    model_hint: str | None = "llama",
) -> Path:
    """A control vector GGUF for the starter model (30 layers, 576 wide) as repeng and llama.cpp's cvector-generator
    write one: `general.architecture = controlvector`, the base's architecture in `controlvector.model_hint`, one F32
    `direction.N` per steered layer; random directions of `scale` per element, enough that greedy output changes."""
    writer = GGUFWriter(str(path), "controlvector")
    if model_hint is not None:
        writer.add_string("controlvector.model_hint", model_hint)
    writer.add_uint32("controlvector.layer_count", len(layers))
    rng = np.random.default_rng(seed)
    for layer in layers:
        writer.add_tensor(f"direction.{layer}", (rng.standard_normal(n_embd) * scale).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
