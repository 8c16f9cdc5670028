"""Malformed GGUF headers: each is refused as a model-file error (exit 4), in one line, cheaply, storing nothing.

The files are made by make_corpus.py; the bombs too big to commit are made here at test time.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.core.hub.gguf import GGUFFormatError, inspect_model_file, read_header
from tests.conftest import run_cli
from tests.corpus.gguf.make_corpus import ARCH, ARRAY, STRING, head, key
from tests.corpus.own_peak_rss import cli_with_peak_rss, db_dump

CORPUS = Path(__file__).parent / "gguf"
FILES = sorted(CORPUS.glob("*.gguf"))
READER_PEAK_CAP = 4 << 20  # the reader's buffer is 1 MiB; a header bomb must not push it past a few MiB
CLI_RSS_CAP = 150 << 20  # a whole `roundtable` process (Python, pydantic, sqlite) takes about 60 MiB here


def test_the_corpus_is_all_there() -> None:
    from tests.corpus.gguf.make_corpus import CASES

    assert len(FILES) >= 8 and {f.name for f in FILES} == set(CASES)
    for path in FILES:  # committed bytes are what the generator makes: the corpus cannot drift silently
        assert path.read_bytes() == CASES[path.name], f"{path.name}: run make_corpus.py again"


def _refused_in_one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("roundtable: ") and ".gguf" in lines[0]
    return lines[0]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_header_reader_refuses_it_with_bounded_memory(path: Path) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as caught:
            inspect_model_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert "not a usable GGUF file" in message or "truncated" in message
    assert peak < READER_PEAK_CAP, f"{peak:,} bytes"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_models_add_refuses_it_exit_4_and_stores_nothing(path: Path) -> None:
    assert run_cli("models", "ls").returncode == 0  # the database exists, with the starter registered
    before = db_dump()
    code, _, stderr, rss = cli_with_peak_rss("models", "add", str(path))
    assert code == 4, stderr
    _refused_in_one_line(stderr)
    assert rss < CLI_RSS_CAP, f"{rss:,} bytes"
    assert db_dump() == before


def _bomb_depth(levels: int) -> bytes:
    nested = struct.pack("<I", ARRAY) + struct.pack("<IQ", ARRAY, 1) * levels + struct.pack("<IQ", 4, 0)
    return head(0, 2) + ARCH + key("x.nested") + nested


def _bomb_vocabulary(strings: int) -> bytes:
    """A vocabulary of `strings` one-byte tokens, then a final string that claims to go on past the end."""
    tokens = (struct.pack("<Q", 1) + b"a") * (strings - 1) + struct.pack("<Q", 1 << 20)
    return head(0, 2) + ARCH + key("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARRAY, STRING, strings) + tokens


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("depth_bomb_300k_levels.gguf", _bomb_depth(300_000)),  # 3.6 MB: recursion would overflow the stack
        ("vocabulary_cut_short.gguf", _bomb_vocabulary(1_000_000)),  # 9 MB of tokens, the last one truncated
        ("array_claims_more_than_file.gguf", head(0, 2) + ARCH + key("t.s") + struct.pack("<IIQ", ARRAY, 6, 1 << 25)),
    ],
)
def test_generated_bombs_are_refused_cheaply(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError):
            inspect_model_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < READER_PEAK_CAP, f"{peak:,} bytes"
    code, _, stderr, rss = cli_with_peak_rss("models", "add", str(path))
    assert code == 4 and rss < CLI_RSS_CAP
    _refused_in_one_line(stderr)


def test_a_stream_without_a_size_is_bounded_by_the_header_caps() -> None:
    """A reader that cannot tell the file's size (a pipe, a remote reader before its first answer)."""

    class Endless:
        def read(self, size: int) -> bytes:
            return b"\0" * min(size, 1 << 20)

    data = head(0, 1) + key("t.s") + struct.pack("<IIQ", ARRAY, 6, 1 << 40)
    stream = Endless()
    first = [data]

    def read(size: int) -> bytes:
        return first.pop() if first else Endless.read(stream, size)

    stream.read = read  # type: ignore[method-assign]
    with pytest.raises(GGUFFormatError, match="far more than any GGUF header holds"):
        read_header(stream)
