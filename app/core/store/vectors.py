"""Passage embeddings in the workspace database, and exact nearest-neighbour search over them.

Vectors are stored as float32 blobs, sqlite-vec's own vector format. The search is an exact scan, as sqlite-vec's
`vec0` tables do, but in numpy over a matrix held per workspace: Python's sqlite3 module often cannot load
extensions (pyenv builds, macOS system Pythons), and one matrix-vector product over 100k passages of 384
dimensions takes a few milliseconds. The matrix is read again only when the workspace's index version changes
(any process's write bumps it), so the window sees what `roundtable docs add` embedded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.store.database import Connection
from app.core.store.records import now

if TYPE_CHECKING:  # numpy itself is imported where it is used: the store opens at start-up, numpy costs ~50 ms
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float32]
_CACHED_WORKSPACES = 4  # matrices kept in memory (100k passages of 384 floats: ~150 MB each)
_READ_BATCH = 4096  # vectors copied into the matrix at a time


@dataclass
class _Matrix:
    model: str
    version: int
    ids: npt.NDArray[np.int64]
    vectors: Vector


class VectorRecords:
    """The `chunk_vectors` and `vector_indexes` tables, sharing the store's connection."""

    conn: Connection
    _matrices: OrderedDict[str, _Matrix]
    _matrices_lock: threading.Lock

    def _vector_cache(self) -> tuple[OrderedDict[str, _Matrix], threading.Lock]:
        if not hasattr(self, "_matrices"):
            self._matrices, self._matrices_lock = OrderedDict(), threading.Lock()
        return self._matrices, self._matrices_lock

    def index_model(self, workspace_id: str) -> str | None:
        """The embedding model that made the workspace's vectors, if any were made."""
        rows = self.conn.read("SELECT model FROM vector_indexes WHERE workspace_id = ?", [workspace_id])
        return str(rows[0]["model"]) if rows else None

    def vector_workspaces(self) -> list[str]:
        """The workspaces that hold vectors."""
        return [str(r["workspace_id"]) for r in self.conn.read("SELECT workspace_id FROM vector_indexes")]

    def pending_chunks(self, workspace_id: str, model: str, limit: int | None = None) -> list[tuple[int, str]]:
        """(chunk id, text) of the workspace's passages that have no vector from `model` yet, in document order."""
        rows = self.conn.read(
            "SELECT c.id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id"
            " LEFT JOIN chunk_vectors v ON v.chunk_id = c.id AND v.model = ?"
            " WHERE d.workspace_id = ? AND v.chunk_id IS NULL ORDER BY c.id LIMIT ?",
            [model, workspace_id, -1 if limit is None else limit],
        )
        return [(int(r["id"]), str(r["text"])) for r in rows]

    def count_pending(self, workspace_id: str, model: str) -> int:
        rows = self.conn.read(
            "SELECT count(*) AS n FROM chunks c JOIN documents d ON d.id = c.document_id"
            " LEFT JOIN chunk_vectors v ON v.chunk_id = c.id AND v.model = ?"
            " WHERE d.workspace_id = ? AND v.chunk_id IS NULL",
            [model, workspace_id],
        )
        return int(rows[0]["n"])

    def save_vectors(self, workspace_id: str, model: str, chunk_ids: Sequence[int], vectors: Vector) -> None:
        """Store one vector per chunk (replacing another model's), and record `model` as the index's maker.

        A chunk removed while it was being embedded is skipped: its vector would belong to nothing.
        """
        import numpy as np  # imported when first used: start-up time

        blobs = np.ascontiguousarray(vectors, dtype="<f4")
        with self.conn.transaction() as db:
            if db.execute("SELECT model FROM vector_indexes WHERE workspace_id = ?", [workspace_id]).fetchone() is None:
                db.execute(
                    "INSERT INTO vector_indexes VALUES (?,?,?,0,?)", [workspace_id, model, blobs.shape[1], now()]
                )
            db.execute(
                "UPDATE vector_indexes SET model = ?, dimensions = ?, version = version + 1, updated_at = ?"
                " WHERE workspace_id = ?",
                [model, blobs.shape[1], now(), workspace_id],
            )
            # a model change leaves the other model's vectors in place until each passage has its new one
            rows = [(workspace_id, model, v.tobytes(), chunk_id) for chunk_id, v in zip(chunk_ids, blobs, strict=True)]
            insert = "INSERT OR REPLACE INTO chunk_vectors SELECT id, ?, ?, ? FROM chunks WHERE id = ?"
            db.conn.executemany(insert, rows)

    def vector_count(self, workspace_id: str, model: str) -> int:
        rows = self.conn.read(
            "SELECT count(*) AS n FROM chunk_vectors WHERE workspace_id = ? AND model = ?", [workspace_id, model]
        )
        return int(rows[0]["n"])

    def nearest_chunks(self, workspace_id: str, model: str, query: Vector, limit: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the `limit` passages nearest to `query` (a unit vector), best first."""
        import numpy as np  # imported when first used: start-up time

        matrix = self._matrix(workspace_id, model)
        if matrix is None or not len(matrix.ids) or matrix.vectors.shape[1] != len(query):
            return []
        # einsum, not `@`: numpy's own loop on this thread. BLAS (OpenBLAS) splits a matrix-vector product over
        # threads that spin for cores other work holds; on a busy 2-core machine that took twice as long.
        scores = np.einsum("ij,j->i", matrix.vectors, np.asarray(query, dtype=np.float32))
        count = min(limit, len(scores))
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best])]
        return [(int(matrix.ids[i]), float(scores[i])) for i in best]

    def _matrix(self, workspace_id: str, model: str) -> _Matrix | None:
        """The workspace's vectors from `model` as one matrix, read again only when its version changed."""
        rows = self.conn.read("SELECT model, version FROM vector_indexes WHERE workspace_id = ?", [workspace_id])
        if not rows:
            return None
        version = int(rows[0]["version"])
        cache, lock = self._vector_cache()
        with lock:
            cached = cache.get(workspace_id)
            if cached is not None and (cached.model, cached.version) == (model, version):
                cache.move_to_end(workspace_id)
                return cached
        matrix = self._read_matrix(workspace_id, model, version)
        with lock:
            cache[workspace_id] = matrix
            cache.move_to_end(workspace_id)
            while len(cache) > _CACHED_WORKSPACES:
                cache.popitem(last=False)
        return matrix

    def _read_matrix(self, workspace_id: str, model: str, version: int) -> _Matrix:
        import numpy as np  # imported when first used: start-up time

        rows = self.conn.read_tuples(
            "SELECT chunk_id, vector FROM chunk_vectors WHERE workspace_id = ? AND model = ? ORDER BY chunk_id",
            [workspace_id, model],
        )
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return _Matrix(model, version, ids, np.zeros((0, 0), dtype=np.float32))
        # Copied into an array numpy allocates (transparent huge pages, where the system offers them on request)
        # rather than viewed in one joined bytes object: the scan reads the whole matrix each query, and over
        # 100k passages it took 17 ms from the bytes object's small pages against 12 ms from numpy's.
        width = len(rows[0][1]) // 4
        vectors = np.empty((len(rows), width), dtype=np.float32)
        for start in range(0, len(rows), _READ_BATCH):
            part = rows[start : start + _READ_BATCH]
            vectors[start : start + len(part)] = np.frombuffer(b"".join(r[1] for r in part), "<f4").reshape(-1, width)
        return _Matrix(model, version, ids, vectors)
