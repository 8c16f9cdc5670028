"""Embedding a workspace's passages with the embedding model (in the background, resumable), and questions with it.

The vectors a workspace holds are those of one model: `embed_pending` embeds every passage that has no vector from
the current model yet, so new documents are embedded and a change of `embedding_model` re-embeds them all. A
batch at a time is stored, so Stop (or a crash) keeps what was done and the next run goes on from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import Cancelled
from app.core.providers.base import CancelToken

if TYPE_CHECKING:  # types only: importing these here would load the store and the model host with this module
    from app.core.providers import ProviderServices
    from app.core.providers.local import LocalEmbedder
    from app.core.store import Store
    from app.core.store.vectors import Vector

EMBED_BATCH = 64  # passages per store write: progress and Stop are seen between batches


class KnowledgeEmbedder:
    """The embedding model as knowledge uses it: a name its vectors are stored under, and vectors for texts.

    The model (converted at first use, run in a host of its own) is started only when something is embedded: a
    search in a workspace without vectors never starts it. Questions go to a second host on one CPU thread: a
    question is a few tokens, and on more threads llama.cpp's workers mostly wait on each other (on a busy
    2-core machine a 10-token question took a second on two threads and 7 ms on one).

    Attributes:
        model_id: the installed model id (or path) its vectors are stored under.
    """

    def __init__(self, model_id: str, path: Callable[[], Path], services: ProviderServices) -> None:
        self.model_id = model_id
        self._path = path
        self._services = services
        self._passages: LocalEmbedder | None = None
        self._questions: LocalEmbedder | None = None

    def embed(
        self, texts: list[str], cancel: CancelToken, progress: Callable[[int, int], None] | None = None
    ) -> Vector:
        """Unit vectors, one row per text; raises Cancelled, ModelFileError or ModelCrashed."""
        from app.core.providers.local import LocalEmbedder

        if self._passages is None:
            self._passages = LocalEmbedder.for_model(self._path(), self._services)
        return _matrix(self._passages.embed(texts, cancel, progress).vectors)

    def query(self, text: str) -> Vector:
        """The vector of a question."""
        from app.core.providers.local import LocalEmbedder

        if self._questions is None:
            self._questions = LocalEmbedder.for_model(self._path(), self._services, threads=1)
        vector: Vector = _matrix(self._questions.embed([text], CancelToken()).vectors)[0]
        return vector


def _matrix(vectors: list[list[float]]) -> Vector:
    import numpy as np  # imported when first used: start-up time

    return np.asarray(vectors, dtype=np.float32)


@dataclass
class EmbedProgress:
    """Reported while embedding: passages done of those that needed it."""

    done: int
    total: int


def embed_pending(
    store: Store,
    embedder: KnowledgeEmbedder,
    workspace_id: str,
    progress: Callable[[EmbedProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """Embed the workspace's passages that have no vector from the embedder's model; returns how many were.

    Raises Cancelled on `cancel` (the batches stored so far stay).
    """
    cancel = cancel or CancelToken()
    total = store.count_pending(workspace_id, embedder.model_id)
    done = 0
    if progress is not None and total:
        progress(EmbedProgress(0, total))
    while batch := store.pending_chunks(workspace_id, embedder.model_id, EMBED_BATCH):
        if cancel.cancelled:
            raise Cancelled(f"Embedding was stopped after {done} of {total} passages.")
        vectors = embedder.embed([text for _, text in batch], cancel)
        store.save_vectors(workspace_id, embedder.model_id, [chunk_id for chunk_id, _ in batch], vectors)
        done += len(batch)
        total = max(total, done)  # documents added meanwhile are embedded too
        if progress is not None:
            progress(EmbedProgress(done, total))
    return done
