"""Writes the malformed GGUF headers of this folder: `python -m tests.corpus.gguf.make_corpus`.

Each file is a few bytes to ~50 KB and breaks the header in one way an attacker (or a damaged download)
would; tests/corpus/test_gguf.py runs each through the header reader and the real CLI.
"""

from __future__ import annotations

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
STRING, ARRAY, UINT32, FLOAT32 = 8, 9, 4, 6


def head(tensors: int, kvs: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, kvs)


def key(name: str) -> bytes:
    return struct.pack("<Q", len(name)) + name.encode()


def string_kv(name: str, value: str) -> bytes:
    return key(name) + struct.pack("<IQ", STRING, len(value.encode())) + value.encode()


def uint_kv(name: str, value: int) -> bytes:
    return key(name) + struct.pack("<II", UINT32, value)


ARCH = string_kv("general.architecture", "llama")

CASES: dict[str, bytes] = {
    "empty.gguf": b"",
    "bad_magic.gguf": b"GGML" + struct.pack("<IQQ", 3, 0, 0),
    "unsupported_version.gguf": head(0, 0, version=99),
    "absurd_tensor_count.gguf": head(1 << 62, 1) + ARCH,
    "absurd_kv_count.gguf": head(0, 1 << 40) + ARCH,
    "kv_count_beyond_file.gguf": head(0, 60_000) + ARCH,
    "string_length_2_63.gguf": head(0, 1) + struct.pack("<Q", 1 << 63) + b"general.name",
    "value_string_length_2_63.gguf": head(0, 1) + key("general.name") + struct.pack("<IQ", STRING, 1 << 63),
    "array_2_40_elements.gguf": head(0, 2)
    + ARCH
    + key("tokenizer.ggml.scores")
    + struct.pack("<IIQ", ARRAY, FLOAT32, 1 << 40)
    + b"\0" * 64,
    "string_array_2_50_elements.gguf": head(0, 2)
    + ARCH
    + key("tokenizer.ggml.tokens")
    + struct.pack("<IIQ", ARRAY, STRING, 1 << 50)
    + struct.pack("<Q", 1)
    + b"a",
    "unknown_value_type.gguf": head(0, 2) + ARCH + key("general.name") + struct.pack("<I", 99) + b"\0" * 16,
    "unknown_array_item_type.gguf": head(0, 2) + ARCH + key("x.list") + struct.pack("<IIQ", ARRAY, 77, 3),
    "truncated_in_kv.gguf": head(0, 3) + ARCH + key("general.name") + struct.pack("<IQ", STRING, 40) + b"Smol",
    "nested_array_depth_bomb.gguf": head(0, 2)
    + ARCH
    + key("x.nested")
    + struct.pack("<I", ARRAY)
    + struct.pack("<IQ", ARRAY, 1) * 4000
    + struct.pack("<IQ", UINT32, 0),
    "tensor_with_2_32_dims.gguf": head(1, 1) + ARCH + key("token_embd.weight") + struct.pack("<I", 0xFFFFFFFF),
    "alignment_not_a_number.gguf": head(0, 2) + ARCH + string_kv("general.alignment", "thirty-two"),
    "alignment_not_a_power_of_two.gguf": head(0, 2) + ARCH + uint_kv("general.alignment", 24),
    "block_count_is_a_string.gguf": head(0, 2) + ARCH + string_kv("llama.block_count", "thirty"),
}


def main() -> None:
    for name, data in CASES.items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
