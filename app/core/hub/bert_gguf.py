"""A BERT sentence-embedding model in sentence-transformers layout (safetensors, WordPiece vocab) written as a GGUF
file llama.cpp runs: the same tensor names, metadata and vocabulary as llama.cpp's own `convert_hf_to_gguf.py`
(`BertModel`), without torch or transformers (numpy and the `gguf` package only). The input is read within
limits (header size, JSON sizes, tensor offsets inside the file).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import ModelFileError

_MAX_HEADER_BYTES = 16 * 1024 * 1024  # a safetensors header lists tensors by name: a few KB for BERT
_MAX_JSON_BYTES = 8 * 1024 * 1024  # config.json, tokenizer.json (~0.5 MB for WordPiece), pooling config
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}  # I64: position ids, dropped
_DROPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")  # unused for embeddings
_POOLING = (("pooling_mode_mean_tokens", "MEAN"), ("pooling_mode_cls_token", "CLS"), ("pooling_mode_lasttoken", "LAST"))


def _read_json(path: Path) -> dict[str, Any]:
    if path.stat().st_size > _MAX_JSON_BYTES:
        raise ModelFileError(f"{path} is too large to be a model's configuration.")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ModelFileError(f"{path} is not a JSON object.")
    return data


def safetensors_arrays(path: Path) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """(name, array) for each tensor of a safetensors file, memory-mapped: 8 bytes of header length, a JSON header
    naming each tensor's dtype, shape and byte range, then the raw little-endian data."""
    size = path.stat().st_size
    with path.open("rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        if length > min(_MAX_HEADER_BYTES, size - 8):
            raise ModelFileError(f"{path.name} is not a safetensors file (its header claims {length} bytes).")
        header = json.loads(file.read(length))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info.get("dtype"))
        begin, end = info["data_offsets"]
        shape = [int(n) for n in info["shape"]]
        if dtype is None:
            raise ModelFileError(f"{path.name}: tensor {name} has dtype {info.get('dtype')}, which is not supported.")
        if not 0 <= begin <= end <= len(data) or end - begin != int(np.prod(shape)) * np.dtype(dtype).itemsize:
            raise ModelFileError(f"{path.name}: tensor {name} lies outside the file or has the wrong size.")
        yield name, data[begin:end].view(dtype).reshape(shape)


def _vocabulary(folder: Path) -> tuple[list[str], list[Any]]:
    """WordPiece tokens in id order in llama.cpp's phantom-space form (a word start gets U+2581, a `##` piece loses
    its marks), and their token types (special tokens are CONTROL)."""
    import gguf

    tokenizer = _read_json(folder / "tokenizer.json")
    vocab: dict[str, int] = tokenizer["model"]["vocab"]
    special = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    by_id = {index: token for token, index in vocab.items()}
    tokens: list[str] = []
    types: list[Any] = []  # gguf.TokenType values
    for index in range(max(by_id) + 1):
        token = by_id.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        elif token in special:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(token[2:] if token.startswith("##") else "\u2581" + token)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _pooling(folder: Path) -> Any:
    import gguf

    modules = _read_json_list(folder / "modules.json")
    path = next((m["path"] for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
    config = _read_json(folder / path / "config.json") if path else {}
    mode = next((kind for key, kind in _POOLING if config.get(key)), "MEAN")
    return gguf.PoolingType[mode]


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    if not path.is_file() or path.stat().st_size > _MAX_JSON_BYTES:
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def convert_bert(folder: Path, target: Path, name: str) -> Path:
    """Write the BERT model in `folder` (config.json, model.safetensors, tokenizer.json) to `target` as a GGUF file
    (F16 matrices, F32 norms, biases and position/type embeddings, as llama.cpp's converter chooses); a failed
    conversion leaves no file."""
    import gguf

    config = _read_json(folder / "config.json")
    if config.get("model_type") != "bert":
        raise ModelFileError(f"{folder} holds a '{config.get('model_type')}' model, not BERT.")
    blocks = int(config["num_hidden_layers"])
    tokens, types = _vocabulary(folder)
    writer = gguf.GGUFWriter(target, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    written = False
    try:
        writer.add_name(name)
        writer.add_block_count(blocks)
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
        writer.add_causal_attention(False)
        writer.add_pooling_type(_pooling(folder))
        writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
        writer.add_tokenizer_model("bert")
        writer.add_tokenizer_pre("default")  # a WordPiece vocabulary ignores it: llama.cpp pre-tokenizes as BERT does
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        # llama.cpp's BERT reads [CLS] as its beginning-of-text token; gguf has no key named for CLS itself
        writer.add_bos_token_id(tokens.index("[CLS]"))
        special = gguf.SpecialVocab(folder, n_vocab=len(tokens), special_token_types=("unk", "sep", "pad", "mask"))
        special.add_to_gguf(writer, quiet=True)
        names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, blocks)
        for source, array in safetensors_arrays(folder / "model.safetensors"):
            source = source.removeprefix("bert.")
            if source in _DROPPED or source.startswith("cls."):
                continue
            mapped = names.get_name(source, try_suffixes=(".weight", ".bias"))
            if mapped is None:
                raise ModelFileError(f"{folder.name}: tensor {source} has no place in a BERT GGUF file.")
            # vectors, norms and the position and token-type tables stay F32; matrices become F16
            keep_f32 = array.ndim <= 1 or mapped.startswith(("position_embd", "token_types")) or "norm" in mapped
            writer.add_tensor(mapped, np.ascontiguousarray(array, np.float32 if keep_f32 else np.float16))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        written = True
    finally:
        writer.close()
        if not written:  # half a model file must not be taken for one
            target.unlink(missing_ok=True)
    return target
