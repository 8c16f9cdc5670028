"""Embedding with a local GGUF model in its own host: unit vectors in order, progress, Stop, a bad file."""

import shutil
from pathlib import Path

import pytest

from app.core.errors import Cancelled, ModelFileError
from app.core.providers.base import CancelToken
from app.core.providers.local import LocalEmbedder

TEXTS = ["The cat sat on the mat.", "A cat was sitting on the mat.", "Quarterly revenue grew 12% on strong bond sales."]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_texts_become_unit_vectors_in_order_with_progress(ctx, starter_model: Path) -> None:
    embedder = LocalEmbedder.for_model(starter_model, ctx.services)
    seen: list[tuple[int, int]] = []
    texts = TEXTS * 7  # more than one batch
    result = embedder.embed(texts, CancelToken(), lambda done, total: seen.append((done, total)))

    assert len(result.vectors) == len(texts)
    assert seen[-1] == (len(texts), len(texts)) and len(seen) >= 2
    assert all(abs(_dot(v, v) - 1) < 1e-3 for v in result.vectors)
    assert result.prompt_tokens > len(texts)
    first, near, far = result.vectors[:3]
    assert _dot(first, result.vectors[3]) == pytest.approx(1, abs=1e-4)  # the same text, the same vector
    assert _dot(first, near) > _dot(first, far)  # a chat model's averaged vectors still rank by meaning
    # an embedding host is its own: it does not take the chat host's place
    assert [spec.embedding for spec, host in ctx.pool.hosts.items() if host.alive] == [True]


def test_stop_raises_cancelled_and_the_host_embeds_again(ctx, starter_model: Path) -> None:
    embedder = LocalEmbedder.for_model(starter_model, ctx.services)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        embedder.embed(TEXTS, cancel)
    assert len(embedder.embed(TEXTS[:1], CancelToken()).vectors) == 1


def test_a_broken_model_file_is_refused_before_a_host_starts(ctx, starter_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    shutil.copy(starter_model, broken)
    with broken.open("r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(ModelFileError):
        LocalEmbedder.for_model(broken, ctx.services).embed(TEXTS, CancelToken())
    assert not any(host.alive for host in ctx.pool.hosts.values())
