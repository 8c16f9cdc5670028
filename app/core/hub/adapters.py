"""LoRA adapters as model files: telling one from a model by its GGUF header, and matching it to a base model.

An adapter GGUF (llama.cpp's convert_lora_to_gguf.py) says `general.type = adapter` and `adapter.type = lora`;
its `general.architecture` is the base model's, which llama.cpp requires to match the model it is applied to
(`GGUFInfo.adapter` reads the kind).
"""

from __future__ import annotations

from pathlib import Path

from app.core.errors import ModelFileError, UsageError
from app.core.hub.gguf import CONTROL_VECTOR, LORA, GGUFInfo, inspect_model_file


def inspect_adapter_file(path: Path) -> GGUFInfo:
    """Check that `path` is a complete LoRA adapter GGUF and return its header; raises ModelFileError."""
    info = inspect_model_file(path, adapter=True)
    kind = info.adapter
    if kind is None:
        raise ModelFileError(f"{path.name} is a model, not a LoRA adapter: name it as the copilot's model instead.")
    if kind == CONTROL_VECTOR:
        raise ModelFileError(
            f"{path.name} is a control vector, not a LoRA adapter: name it as the copilot's control_vector."
        )
    if kind != LORA:
        raise ModelFileError(f"{path.name} is a '{kind}' adapter; Roundtable applies LoRA adapters only.")
    return info


def check_adapter_base(adapter: GGUFInfo, adapter_name: str, model: GGUFInfo, model_name: str) -> None:
    """Refuse an adapter trained on another architecture than the model's; raises UsageError naming both."""
    if adapter.architecture != model.architecture:
        raise UsageError(
            f"The adapter {adapter_name} is for a '{adapter.architecture}' base model, but {model_name} is "
            f"'{model.architecture}': choose an adapter made for {model_name}, or another model."
        )
