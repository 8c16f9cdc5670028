"""The built-in embedding model: all-MiniLM-L6-v2 converted from its wheel to GGUF, run by llama.cpp."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelFileError
from app.core.hub.bert_gguf import safetensors_arrays
from app.core.hub.starter import EMBEDDING_FILENAME, EMBEDDING_MODEL_ID
from app.core.providers.base import CancelToken
from tests.conftest import run_cli

# sentence-transformers' documentation quotes 0.7553 for this pair with all-MiniLM-L6-v2
EATING = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome."]


def test_vectors_match_sentence_transformers_paraphrases_far_above_unrelated(ctx) -> None:
    vectors = ctx.embedder().embed(EATING + ["Someone is having a meal."], CancelToken())
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    similar = vectors @ vectors.T
    assert similar[0, 1] == pytest.approx(0.7553, abs=0.01)
    assert similar[0, 3] > 0.6 and similar[1, 3] > 0.5  # paraphrases with few words in common
    assert abs(similar[0, 2]) < 0.15 and abs(similar[1, 2]) < 0.15  # unrelated


@pytest.mark.fresh_embedding_model
def test_first_use_converts_the_model_once_and_installs_it(home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Office\n\nThe Lisbon office opens at 8:30.\n")
    (tmp_path / "b.md").write_text("# Bond\n\nThe Zephyr bond pays 4.25%.\n")
    target = home / "data" / "models" / EMBEDDING_FILENAME
    assert not target.exists()

    first = run_cli("docs", "add", str(tmp_path / "a.md"))
    assert first.returncode == 0, first.stderr
    assert "embedded: 1 passages (all-minilm-l6-v2)" in first.stdout
    made = target.stat()
    assert not [p for p in target.parent.iterdir() if p.name != EMBEDDING_FILENAME]  # no partial file left
    second = run_cli("docs", "add", str(tmp_path / "b.md"))
    assert second.returncode == 0, second.stderr
    assert (target.stat().st_mtime_ns, target.stat().st_ino) == (made.st_mtime_ns, made.st_ino)  # not again

    listed = json.loads(run_cli("models", "ls", "--json").stdout)
    model = next(m for m in listed if m["id"] == EMBEDDING_MODEL_ID)
    assert model["path"] == str(target) and model["architecture"] == "bert" and model["present"]


def test_a_safetensors_header_that_lies_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.safetensors"
    header = json.dumps({"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    with pytest.raises(ModelFileError, match="outside the file"):
        list(safetensors_arrays(bad))
    bad.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        list(safetensors_arrays(bad))
