"""LoRA adapters inside the model host: each file loaded once, the active set chosen per request.

Specialists fine-tuned from one base model share its host: the base weights stay loaded once, each adapter
(a few MB) is loaded into the model on first use, and llama.cpp applies the request's adapters, with their
scales, while it evaluates. Runs in the host process only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from app.core.runtime.prompt_cache import AdapterKey


class AdapterLoadError(Exception):
    """llama.cpp refused an adapter file; the message names it."""


def adapter_key(adapters: Sequence[Sequence[Any]]) -> AdapterKey:
    """A request's adapters ([path, scale] pairs) as a hashable key, in the order given."""
    return tuple((str(path), float(scale)) for path, scale in adapters)


class AdapterSet:
    """The adapters loaded into one model, and which of them are active now.

    Attributes:
        active: the adapter set the context applies now (empty: the base model alone).
    """

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._loaded: dict[str, Any] = {}
        self.active: AdapterKey = ()

    def _handle(self, path: str) -> Any:
        import llama_cpp

        if path not in self._loaded:
            handle = llama_cpp.llama_adapter_lora_init(self._llm.model, path.encode())
            if not handle:
                raise AdapterLoadError(
                    f"llama.cpp could not load the LoRA adapter {path}: it is damaged, or made for another base model."
                )
            self._loaded[path] = handle  # freed by llama.cpp with the model, when the host ends
        return self._loaded[path]

    def activate(self, key: AdapterKey) -> bool:
        """Make `key` the active adapter set; True when it changed (the context's evaluated tokens are then stale).

        Raises AdapterLoadError for a file llama.cpp cannot load.
        """
        if key == self.active:
            return False
        import llama_cpp

        handles = [self._handle(path) for path, _ in key]
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * len(key))(*handles)
        scales = (ctypes.c_float * len(key))(*(scale for _, scale in key))
        if llama_cpp.llama_set_adapters_lora(self._llm.ctx, adapters, len(key), scales) != 0:
            raise AdapterLoadError(f"llama.cpp could not apply the adapters {', '.join(p for p, _ in key)}.")
        self.active = key
        return True
