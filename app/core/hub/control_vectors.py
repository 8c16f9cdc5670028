"""Control vectors as model files: checking one is whole and fits a model, and reading its directions.

A control vector (llama.cpp's `--control-vector`, written by repeng or llama.cpp's cvector-generator) is a GGUF
whose `general.architecture` is `controlvector`, with the base model's architecture in `controlvector.model_hint`
and one F32 tensor `direction.<layer>` of n_embd floats per steered layer (layers from 1: llama.cpp adds
layer N's direction to that layer's output, and never steers layer 0). A copilot applies it with a strength;
llama.cpp adds strength x direction to the hidden state while it evaluates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import ModelFileError, UsageError
from app.core.hub.gguf import CONTROL_VECTOR, GGUFInfo, inspect_model_file

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Direction = npt.NDArray[np.float32]

_F32 = 0  # ggml's type id for 32-bit floats: the only type llama.cpp reads a direction in
_DIRECTION = re.compile(r"^direction\.(\d{1,6})$")


@dataclass(frozen=True)
class Shape:
    """What a control vector steers: the width of each direction, and the layers it has one for (from 1)."""

    n_embd: int
    layers: tuple[int, ...]
    model_hint: str | None


def shape_of(info: GGUFInfo, path: Path) -> Shape:
    """The directions a control vector's header lays out; ModelFileError when llama.cpp would refuse them."""
    layers: list[int] = []
    widths: set[int] = set()
    for tensor in info.tensors:
        found = _DIRECTION.match(tensor.name)
        if not found or int(found.group(1)) == 0:
            raise ModelFileError(
                f"{path.name} is not a usable control vector: tensor '{tensor.name[:60]}' is not a direction.N "
                "with N from 1."
            )
        if tensor.ggml_type != _F32 or len(tensor.shape) != 1:
            raise ModelFileError(f"{path.name} is not a usable control vector: {tensor.name} is not one row of F32.")
        layers.append(int(found.group(1)))
        widths.add(tensor.shape[0])
    if not layers:
        raise ModelFileError(f"{path.name} is not a usable control vector: it has no direction tensors.")
    if len(widths) != 1:
        raise ModelFileError(f"{path.name} is not a usable control vector: its directions differ in width.")
    hint = info.metadata.get("controlvector.model_hint")
    return Shape(widths.pop(), tuple(sorted(set(layers))), str(hint) if isinstance(hint, str) else None)


def inspect_control_vector_file(path: Path) -> GGUFInfo:
    """Check that `path` is a whole control-vector GGUF with directions llama.cpp can read; raises ModelFileError."""
    info = inspect_model_file(path, adapter=True)
    if info.adapter != CONTROL_VECTOR:
        what = "a model" if info.adapter is None else f"a {info.adapter.upper()} adapter"
        raise ModelFileError(
            f"{path.name} is {what}, not a control vector (a GGUF whose general.architecture is 'controlvector')."
        )
    shape_of(info, path)
    return info


def check_control_vector_base(vector: GGUFInfo, vector_path: Path, model: GGUFInfo, model_name: str) -> None:
    """Refuse a control vector made for another model than `model`: another width, more layers, or another
    architecture named in its hint. Raises UsageError naming both files."""
    shape = shape_of(vector, vector_path)
    n_embd = model.arch_value("embedding_length")
    n_layer = model.arch_value("block_count")
    problem = None
    if shape.n_embd != n_embd:
        problem = f"its directions are {shape.n_embd} wide, but {model_name} has {n_embd}-wide embeddings"
    elif isinstance(n_layer, int) and shape.layers[-1] >= n_layer:
        problem = f"it steers layer {shape.layers[-1]}, but {model_name} has layers 0 to {n_layer - 1}"
    elif shape.model_hint and shape.model_hint != model.architecture:
        problem = f"it was made for a '{shape.model_hint}' model, and {model_name} is '{model.architecture}'"
    if problem:
        raise UsageError(
            f"The control vector {vector_path.name} does not fit {model_name}: {problem}. Choose a control vector "
            f"made for {model_name}, or another model."
        )


def summary(info: GGUFInfo, path: Path) -> dict[str, Any]:
    """The facts the model list shows for a control vector: the base architecture it names, its width and layers."""
    shape = shape_of(info, path)
    return {
        **info.summary(),
        "architecture": shape.model_hint,
        "embedding_length": shape.n_embd,
        "block_count": len(shape.layers),
    }


def read_directions(path: Path) -> tuple[int, dict[int, Direction]]:
    """A control vector's width and its directions by layer (float32 arrays), read after checking the file;
    raises ModelFileError."""
    import numpy as np

    info = inspect_control_vector_file(path)
    shape = shape_of(info, path)
    directions: dict[int, Direction] = {}
    try:
        with path.open("rb") as stream:
            for tensor in info.tensors:
                stream.seek(info.data_offset + tensor.offset)
                data = np.frombuffer(stream.read(shape.n_embd * 4), dtype="<f4")
                if data.size != shape.n_embd:
                    raise ModelFileError(f"Control vector {path} is truncated: delete it and get it again.")
                layer = int(tensor.name.split(".")[1])
                # several directions for one layer add up, as llama.cpp's own loader does
                if layer in directions:
                    directions[layer] = directions[layer] + data
                else:
                    directions[layer] = data.astype(np.float32)
    except OSError as exc:
        raise ModelFileError(f"Cannot read control vector {path} ({exc.strerror}).") from exc
    return shape.n_embd, directions
