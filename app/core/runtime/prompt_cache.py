"""Per-copilot prompt states in the model host: each copilot's evaluated history is saved and restored.

Copilots with different system prompts alternate on one model; without saved states each turn would
re-evaluate the whole thread. After every answer the host saves the llama.cpp state; before the next
request it restores the saved state sharing the longest token prefix with the new prompt
(LlamaRAMCache's lookup), so only the new turns are evaluated. Runs in the host process only.
"""

from __future__ import annotations

import ctypes
from typing import Any

_SEQUENCE = 0


class KVState:
    """The KV cells of one sequence and the tokens they hold (duck-types llama_cpp.LlamaState for the cache)."""

    def __init__(self, input_ids: Any, data: bytes) -> None:
        self.input_ids = input_ids
        self.n_tokens = len(input_ids)
        self.data = data
        self.llama_state_size = len(data)


def install(llm: Any, capacity_bytes: int) -> None:
    """Give `llm` a prompt-state cache of `capacity_bytes`, least recently used states evicted first."""
    import llama_cpp
    from llama_cpp import LlamaRAMCache

    # WORKAROUND for llama-cpp-python's Llama.save_state/load_state, which copy (and scan) the whole logits
    # buffer, n_batch x n_vocab floats (100 MB for a 49k vocabulary), on every call: 300 ms per turn at
    # 1,000 tokens. Only the sequence's KV cells are needed: generation always re-evaluates at least the
    # prompt's last token, which recomputes the logits.
    def save_state() -> KVState:
        ctx = llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, _SEQUENCE)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, _SEQUENCE)
        return KVState(llm.input_ids[: llm.n_tokens].copy(), bytes(buffer)[:written])

    def load_state(state: KVState) -> None:
        llm._ctx.kv_cache_clear()
        buffer = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.data)
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, state.llama_state_size, _SEQUENCE) == 0:
            llm.n_tokens = 0  # nothing restored: the prompt is evaluated from the start
            return
        llm.input_ids[: state.n_tokens] = state.input_ids
        llm.n_tokens = state.n_tokens

    llm.save_state = save_state
    llm.load_state = load_state
    llm.set_cache(LlamaRAMCache(capacity_bytes=capacity_bytes))
