"""Per-copilot prompt states in the model host: each copilot's evaluated history is saved and restored.

Copilots with different system prompts (or different LoRA adapters and control vectors) alternate on one model;
without saved states each turn would re-evaluate the whole thread. After every answer the host saves the llama.cpp
state; before the next request it restores the saved state, computed under the same adapter set, that shares the
longest token prefix with the new prompt, so only the new turns are evaluated. Runs in the host process only.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

_SEQUENCE = 0

# Which adapters a state was computed under, (kind, path, scale) each: LoRA adapters and control vectors
# (`runtime/adapters.adapter_key`). The same tokens under another adapter set or another steering are different
# KV values, so a state is only ever reused under its own set.
AdapterKey = tuple[tuple[str, str, float], ...]


class KVState:
    """The KV cells of one sequence and the tokens they hold (duck-types llama_cpp.LlamaState for the cache)."""

    def __init__(self, input_ids: Any, data: bytes) -> None:
        self.input_ids = input_ids
        self.n_tokens = len(input_ids)
        self.data = data
        self.llama_state_size = len(data)


class StateCache:
    """Saved states by (adapter set, tokens), least recently used evicted first; found by longest token prefix.

    Llama reads and writes it as `cache[tokens]` (LlamaRAMCache's interface); `active` says which adapter
    set those tokens are meant under, and the host sets it before each request.

    Attributes:
        capacity_bytes: the most the saved states may hold together.
        active: the adapter set of the request being answered.
    """

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self.active: AdapterKey = ()
        self._states: OrderedDict[tuple[AdapterKey, tuple[int, ...]], KVState] = OrderedDict()

    @property
    def cache_size(self) -> int:
        return sum(state.llama_state_size for state in self._states.values())

    def _longest_prefix(self, tokens: tuple[int, ...]) -> tuple[AdapterKey, tuple[int, ...]] | None:
        best, best_length = None, 0
        for key in self._states:
            if key[0] != self.active:
                continue
            length = _common_prefix(key[1], tokens)
            if length > best_length:
                best, best_length = key, length
        return best

    def __getitem__(self, tokens: Sequence[int]) -> KVState:
        key = self._longest_prefix(tuple(tokens))
        if key is None:
            raise KeyError("no saved state shares a prefix with this prompt")
        self._states.move_to_end(key)
        return self._states[key]

    def __contains__(self, tokens: Sequence[int]) -> bool:
        return self._longest_prefix(tuple(tokens)) is not None

    def __setitem__(self, tokens: Sequence[int], state: KVState) -> None:
        key = (self.active, tuple(tokens))
        self._states.pop(key, None)
        self._states[key] = state
        while self.cache_size > self.capacity_bytes and self._states:
            self._states.popitem(last=False)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def install(llm: Any, capacity_bytes: int) -> StateCache:
    """Give `llm` a prompt-state cache of `capacity_bytes`; returns it (the host sets its `active` adapters)."""
    import llama_cpp

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

    cache = StateCache(capacity_bytes)
    llm.save_state = save_state
    llm.load_state = load_state
    llm.set_cache(cache)
    return cache
