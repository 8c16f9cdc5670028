"""LoRA adapters and control vectors inside the model host: each file loaded once, the active set chosen per request.

Specialists fine-tuned from one base model share its host: the base weights stay loaded once, each adapter
(a few MB) is loaded into the model on first use, and llama.cpp applies the request's adapters, with their
scales, while it evaluates. A control vector (n_embd floats per layer) steers the model by adding
strength x direction to each layer's output: the request's vectors are summed into one per layer and handed to
llama.cpp, which holds one at a time per context (cleared with a NULL pointer when a request has none). Runs in
the host process only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import ModelFileError
from app.core.runtime.prompt_cache import AdapterKey

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# the kinds in an AdapterKey
LORA = "lora"
CONTROL_VECTOR = "control_vector"


class AdapterLoadError(Exception):
    """llama.cpp refused an adapter or control vector file; the message names it."""


def adapter_key(adapters: Sequence[Sequence[Any]], control_vectors: Sequence[Sequence[Any]] = ()) -> AdapterKey:
    """A request's LoRA adapters and control vectors ([path, scale] pairs each) as one hashable key, in the order
    given. A zero scale is no adapter at all (llama.cpp skips such a LoRA; a zero vector adds nothing), so it is
    left out: the request then shares the base's saved states."""
    key = [(LORA, str(path), float(scale)) for path, scale in adapters if float(scale) != 0.0]
    key += [(CONTROL_VECTOR, str(path), float(scale)) for path, scale in control_vectors if float(scale) != 0.0]
    return tuple(key)


class AdapterSet:
    """The adapters loaded into one model, and which of them are active now.

    Attributes:
        active: the adapter set the context applies now (empty: the base model alone).
    """

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._loaded: dict[str, Any] = {}
        self._directions: dict[str, dict[int, npt.NDArray[np.float32]]] = {}
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

    def _n_layer(self) -> int:
        import llama_cpp

        return int(llama_cpp.llama_model_n_layer(self._llm.model))

    def _vector(self, path: str) -> dict[int, npt.NDArray[np.float32]]:
        if path not in self._directions:
            from app.core.hub.control_vectors import read_directions

            try:
                n_embd, directions = read_directions(Path(path))
            except ModelFileError as exc:
                raise AdapterLoadError(str(exc)) from exc
            if n_embd != self._llm.n_embd() or max(directions) >= self._n_layer():
                raise AdapterLoadError(
                    f"The control vector {path} does not fit this model: its directions are {n_embd} wide over "
                    f"layers up to {max(directions)}, the model's are {self._llm.n_embd()} wide over "
                    f"{self._n_layer()} layers."
                )
            self._directions[path] = directions
        return self._directions[path]

    def activate(self, key: AdapterKey) -> bool:
        """Make `key` the active adapter set; True when it changed (the context's evaluated tokens are then stale).

        Raises AdapterLoadError for a file llama.cpp cannot load.
        """
        if key == self.active:
            return False
        loras = [(path, scale) for kind, path, scale in key if kind == LORA]
        vectors = [(path, scale) for kind, path, scale in key if kind == CONTROL_VECTOR]
        if loras != [(p, s) for kind, p, s in self.active if kind == LORA]:
            self._set_loras(loras)
        if vectors != [(p, s) for kind, p, s in self.active if kind == CONTROL_VECTOR]:
            self._set_vectors(vectors)
        self.active = key
        return True

    def _set_loras(self, loras: list[tuple[str, float]]) -> None:
        import llama_cpp

        handles = [self._handle(path) for path, _ in loras]
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * len(loras))(*handles)
        scales = (ctypes.c_float * len(loras))(*(scale for _, scale in loras))
        if llama_cpp.llama_set_adapters_lora(self._llm.ctx, adapters, len(loras), scales) != 0:
            raise AdapterLoadError(f"llama.cpp could not apply the adapters {', '.join(p for p, _ in loras)}.")

    def _set_vectors(self, vectors: list[tuple[str, float]]) -> None:
        """Hand llama.cpp the sum of strength x direction per layer, or clear its vector when there is none."""
        import llama_cpp
        import numpy as np

        n_embd, n_layer = self._llm.n_embd(), self._n_layer()
        if not vectors:
            if llama_cpp.llama_set_adapter_cvec(self._llm.ctx, None, 0, n_embd, -1, -1) != 0:
                raise AdapterLoadError("llama.cpp could not clear the control vector.")
            return
        # every layer from 1 is written (zeros where no vector steers it): llama.cpp keeps a layer's old values
        # when the buffer stops short of it
        combined = np.zeros((n_layer - 1, n_embd), dtype=np.float32)
        for path, strength in vectors:
            for layer, direction in self._vector(path).items():
                combined[layer - 1] += np.float32(strength) * direction
        data = combined.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        if llama_cpp.llama_set_adapter_cvec(self._llm.ctx, data, combined.size, n_embd, 1, n_layer - 1) != 0:
            raise AdapterLoadError(f"llama.cpp could not apply the control vectors {', '.join(p for p, _ in vectors)}.")
