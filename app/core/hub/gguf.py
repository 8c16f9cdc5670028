"""Reading GGUF headers: metadata and tensor layout, without loading the weights.

Works on any binary file object (a local file, or a ranged HTTP reader), so a model can be checked
and sized up before it is loaded or even downloaded.
"""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app.core.errors import ModelFileError

GGUF_MAGIC = b"GGUF"
# adapter kinds (`GGUFInfo.adapter`), stored on disk in installed models' metadata: never change the values
LORA = "lora"
CONTROL_VECTOR = "control_vector"
CONTROL_VECTOR_ARCHITECTURE = "controlvector"  # llama.cpp's and repeng's `general.architecture` of a control vector
_DEFAULT_ALIGNMENT = 32
# Caps that no real model comes near: a header past them is garbage or an attack, and refusing it early keeps
# the reader's memory bounded whatever the counts in the file claim.
_MAX_STRING = 1 << 24  # the longest keys/values seen (chat templates) are tens of KiB
_MAX_HEADER = 1 << 28  # a 256k-token vocabulary takes about 8 MiB of header
_MAX_KV = 1 << 16  # real models carry a few dozen key/value pairs
_MAX_TENSORS = 1 << 20
_MAX_DIMS = 8
_MIN_KV_BYTES = 8 + 4 + 1  # key length, value type, the smallest value (an empty key is still 8 bytes)
_MIN_TENSOR_BYTES = 8 + 4 + 4 + 8  # name length, dimensions, type, offset

# GGUF metadata value types -> struct format (scalars)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


@functools.cache
def _gguf_tables() -> tuple[dict[int, tuple[int, int]], dict[int, str]]:
    """ggml's tensor types -> (elements, bytes) per block, and llama.cpp's file types -> quant names.

    Taken from the `gguf` package (ggml's own Python tables), so a new quant type arrives with an update instead
    of silently disabling the truncation check. Imported on first use: `import gguf` pulls in numpy (~0.1 s),
    which the CLI's start-up should not pay.
    """
    from gguf.constants import GGML_QUANT_SIZES, LlamaFileType

    blocks = {int(kind): (int(size[0]), int(size[1])) for kind, size in GGML_QUANT_SIZES.items()}
    names = {
        int(kind): kind.name.removeprefix("MOSTLY_").removeprefix("ALL_")
        for kind in LlamaFileType
        if kind is not LlamaFileType.GUESSED
    }
    return blocks, names


def block_size(ggml_type: int) -> tuple[int, int] | None:
    """(elements, bytes) of one block of a ggml tensor type, or None for a type ggml does not list."""
    return _gguf_tables()[0].get(ggml_type)


def file_type_name(file_type: Any) -> str | None:
    """The quant name people use for a `general.file_type` value (15 -> "Q4_K_M"), or None."""
    if not isinstance(file_type, int) or isinstance(file_type, bool):
        return None
    return _gguf_tables()[1].get(file_type)


class ByteSource(Protocol):
    """What the reader needs: a local file opened "rb", or a ranged HTTP reader."""

    def read(self, size: int, /) -> bytes: ...


class GGUFFormatError(ValueError):
    """The bytes are not a well-formed GGUF header."""


class _Truncated(GGUFFormatError):
    """The bytes ended before the header did."""


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def nbytes(self) -> int | None:
        """Size of the tensor's data, or None for a type this reader does not know."""
        block = block_size(self.ggml_type)
        if block is None:
            return None
        count = 1
        for dim in self.shape:
            count *= dim
        return count // block[0] * block[1]


@dataclass
class GGUFInfo:
    """What a GGUF header says about a model.

    Attributes:
        metadata: key/value pairs; long arrays (the vocabulary) are kept as their length only.
        tensors: name, shape, type and offset of every tensor.
        data_offset: where tensor data starts in the file.
    """

    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def arch_value(self, key: str, default: Any = None) -> Any:
        """A value under the architecture's own prefix, e.g. `block_count` -> `llama.block_count`."""
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def quant(self) -> str | None:
        return file_type_name(self.metadata.get("general.file_type"))

    @property
    def adapter(self) -> str | None:
        """The adapter kind the header declares, or None for a model: `lora` (convert_lora_to_gguf.py writes
        `general.type = adapter` and the base model's `general.architecture`) or `control_vector` (its
        `general.architecture` is `controlvector`, its base's name in `controlvector.model_hint`)."""
        if self.architecture == CONTROL_VECTOR_ARCHITECTURE:
            return CONTROL_VECTOR
        if self.metadata.get("general.type") != "adapter":
            return None
        return str(self.metadata.get("adapter.type") or "unknown")

    @property
    def has_chat_template(self) -> bool:
        return bool(self.metadata.get("tokenizer.chat_template"))

    @property
    def data_size(self) -> int | None:
        """Bytes of tensor data the header promises (None when a tensor type is unknown)."""
        end = 0
        for tensor in self.tensors:
            size = tensor.nbytes
            if size is None:
                return None
            end = max(end, tensor.offset + size)
        return end

    @property
    def expected_file_size(self) -> int | None:
        size = self.data_size
        return None if size is None else self.data_offset + size

    def summary(self) -> dict[str, Any]:
        """The facts the model list and fit estimate need, JSON-ready."""
        return {
            "architecture": self.architecture,
            "name": self.metadata.get("general.name"),
            "quant": self.quant,
            "context_length": self.arch_value("context_length"),
            "block_count": self.arch_value("block_count"),
            "embedding_length": self.arch_value("embedding_length"),
            "head_count": self.arch_value("attention.head_count"),
            "head_count_kv": self.arch_value("attention.head_count_kv"),
            "chat_template": self.has_chat_template,
            "parameters": sum(_count(t.shape) for t in self.tensors),
            "gguf_version": self.version,
        }


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


class _Reader:
    """Reads the header through a 1 MiB buffer: tens of thousands of small reads cost little.

    Every length read from the file is checked against the bytes the file still holds (when its size is
    known) and against the header caps before anything is allocated, so memory stays bounded.
    """

    _BLOCK = 1 << 20

    def __init__(self, stream: ByteSource) -> None:
        self.stream = stream
        self.pos = 0  # bytes consumed from the start of the file
        self.buffer = b""
        self.at = 0
        self.size = _stream_size(stream)

    def take(self, size: int) -> bytes:
        self.need(size, 1, "the header")
        if self.at + size > len(self.buffer):
            rest = self.buffer[self.at :]
            self.buffer = rest + self.stream.read(max(self._BLOCK, size - len(rest)))
            self.at = 0
            if size > len(self.buffer):
                raise _Truncated("the file ends inside its header")
        data = self.buffer[self.at : self.at + size]
        self.at += size
        self.pos += size
        return data

    def skip(self, size: int) -> None:
        """Step over `size` bytes a block at a time, so a large skipped array is never held whole."""
        self.need(size, 1, "a skipped array")
        while size:
            step = min(size, self._BLOCK)
            self.take(step)
            size -= step

    def need(self, count: int, item_bytes: int, what: str) -> None:
        """Refuse `count` items of at least `item_bytes` each when the header cannot hold them."""
        if self.size is None:  # a ranged reader learns the size from its first answer
            self.size = getattr(self.stream, "total_size", None)
        wanted = count * item_bytes
        if self.pos + wanted > _MAX_HEADER:
            raise GGUFFormatError(f"{what} claims {count:,} entries, far more than any GGUF header holds")
        if self.size is not None and self.pos + wanted > self.size:
            raise _Truncated(f"{what}: {wanted:,} bytes needed, {self.size - self.pos:,} left in the file")

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def length(self) -> int:
        """A string's byte length, checked before the string is read."""
        length: int = self.unpack("<Q")
        if length > _MAX_STRING:
            raise GGUFFormatError(f"a header string claims {length:,} bytes")
        return length

    def skip_strings(self, count: int) -> None:
        """Step over `count` length-prefixed strings (a vocabulary nobody reads here)."""
        self.need(count, 8, "a string array")
        for _ in range(count):
            self.skip(self.length())

    def string(self) -> str:
        return self.take(self.length()).decode("utf-8", errors="replace")

    def value(self, kind: int, keep_arrays_up_to: int = 64, nested: bool = False) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            if nested:  # llama.cpp reads no arrays of arrays; each level would cost memory for nothing
                raise GGUFFormatError("it holds an array of arrays, which GGUF models do not use")
            item_kind = self.unpack("<I")
            count = self.unpack("<Q")
            if item_kind in _SCALARS:
                item_bytes = struct.calcsize(_SCALARS[item_kind])
                self.need(count, item_bytes, "an array")
                if count > keep_arrays_up_to:
                    self.skip(item_bytes * count)
                    return {"array_length": count}
            elif item_kind == _STRING:
                if count > keep_arrays_up_to:
                    self.skip_strings(count)  # the vocabulary: tens of thousands of strings nobody reads here
                    return {"array_length": count}
            elif item_kind == _ARRAY:
                self.need(count, 12, "an array")
            else:
                raise GGUFFormatError(f"an array of unknown metadata value type {item_kind}")
            return [self.value(item_kind, nested=True) for _ in range(count)]
        raise GGUFFormatError(f"unknown metadata value type {kind}")


def _stream_size(stream: ByteSource) -> int | None:
    """The whole file's size when the stream knows it (a local file, a ranged reader that saw it)."""
    size = getattr(stream, "total_size", None)
    if isinstance(size, int):
        return size
    fileno = getattr(stream, "fileno", None)  # a ranged reader has none
    try:
        return os.fstat(fileno()).st_size if fileno is not None else None
    except (OSError, ValueError):
        return None


def read_header(stream: ByteSource) -> GGUFInfo:
    """Parse a GGUF header from the start of `stream`; raises GGUFFormatError."""
    reader = _Reader(stream)
    if reader.take(4) != GGUF_MAGIC:
        raise GGUFFormatError("it does not start with the GGUF magic bytes")
    version = reader.unpack("<I")
    if version not in (2, 3):
        raise GGUFFormatError(f"GGUF version {version} is not supported")
    tensor_count = reader.unpack("<Q")
    kv_count = reader.unpack("<Q")
    if tensor_count > _MAX_TENSORS or kv_count > _MAX_KV:
        raise GGUFFormatError(f"the header's counts are implausible ({tensor_count:,} tensors, {kv_count:,} keys)")
    reader.need(kv_count * _MIN_KV_BYTES + tensor_count * _MIN_TENSOR_BYTES, 1, "the tensor and key counts")
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = reader.string()
        metadata[key] = reader.value(reader.unpack("<I"))
    tensors = []
    for _ in range(tensor_count):
        name = reader.string()
        dims = reader.unpack("<I")
        if dims > _MAX_DIMS:
            raise GGUFFormatError(f"tensor {name} claims {dims} dimensions")
        shape = tuple(reader.unpack("<Q") for _ in range(dims))
        tensors.append(TensorInfo(name, shape, reader.unpack("<I"), reader.unpack("<Q")))
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT) or _DEFAULT_ALIGNMENT
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment & (alignment - 1):
        raise GGUFFormatError(f"general.alignment {alignment!r} is not a power of two")
    data_offset = reader.pos + (-reader.pos % alignment)
    return GGUFInfo(version, metadata, tensors, data_offset)


def inspect_model_file(path: Path, adapter: bool = False) -> GGUFInfo:
    """Check that `path` is a complete GGUF model and return its header; raises ModelFileError.

    With `adapter`, any complete GGUF passes, model or adapter (`GGUFInfo.adapter` tells them apart).
    """
    noun = "Adapter file" if adapter else "Model file"
    if not path.exists():
        raise ModelFileError(f"{noun} {path} is missing: download it again or choose another one.")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a GGUF file.")
    from app.core.hub.fit import Architecture  # fit builds on this module: imported here to stay acyclic

    try:
        with path.open("rb") as stream:
            info = read_header(stream)
        if not adapter and info.adapter is None:  # an adapter carries only its own tensors, no model's numbers
            Architecture.from_metadata(info.metadata)  # the numbers the fit estimate and the runtime read
    except _Truncated as exc:
        raise ModelFileError(f"{noun} {path} is truncated ({exc}): delete it and download it again.") from exc
    except GGUFFormatError as exc:
        raise ModelFileError(f"{path} is not a usable GGUF file ({exc}): choose a .gguf file.") from exc
    except OSError as exc:
        raise ModelFileError(f"Cannot read {noun.lower()} {path} ({exc.strerror}): check its permissions.") from exc
    expected = info.expected_file_size
    actual = path.stat().st_size
    if expected is not None and actual < expected:
        raise ModelFileError(
            f"{noun} {path} is truncated ({actual:,} of {expected:,} bytes): delete it and download it again."
        )
    if not adapter and info.adapter == CONTROL_VECTOR:
        raise ModelFileError(
            f"{path.name} is a control vector, not a model: name it as a copilot's `control_vector`, on the model it "
            "was made for."
        )
    if not adapter and info.adapter is not None:
        raise ModelFileError(
            f"{path.name} is a {info.adapter.upper()} adapter, not a model: name it as a copilot's `lora`, on a "
            f"'{info.architecture}' model."
        )
    return info
