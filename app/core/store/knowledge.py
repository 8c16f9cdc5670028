"""Documents, their chunks, and full-text search over chunks and messages (FTS5, ranked by BM25)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from app.core.store.database import Connection
from app.core.store.records import new_id, now

Chunk = tuple[str | None, str]  # a passage of a document: (location, text)

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_QUERY_WORDS = 32
_FILTERED_DEPTH = 1024  # ranked ids checked against a workspace before the join does it instead


def fts_query(text: str, any_word: bool = False, prefix: bool = False) -> str:
    """User text as an FTS5 query: each word once, quoted (no syntax can break it), all of them or any one;
    with `prefix`, the last word also matches longer words (search as you type)."""
    words = [f'"{w}"' for w in dict.fromkeys(_WORD.findall(text.lower()))][:_MAX_QUERY_WORDS]
    if prefix and words:
        words[-1] += "*"
    return (" OR " if any_word else " ").join(words)


@dataclass
class Document:
    id: str
    workspace_id: str
    path: str
    name: str
    kind: str
    sha256: str
    size_bytes: int
    chunk_count: int
    added_at: str
    folder: str | None = None  # the linked folder it came from; None: added by hand
    mtime_ns: int | None = None  # its file's modification time when read (a scan hashes only what changed)


@dataclass
class Hit:
    """A search result: a passage of a document or a message, with the matching words [marked]."""

    kind: str  # "document" or "message"
    id: str
    title: str
    location: str | None
    snippet: str
    score: float
    thread_id: str | None = None
    text: str = ""


class KnowledgeRecords:
    """The `documents` and `chunks` tables and the two FTS5 indexes, sharing the store's connection."""

    conn: Connection

    def document_by_path(self, workspace_id: str, path: str) -> Document | None:
        rows = self.conn.read("SELECT * FROM documents WHERE workspace_id = ? AND path = ?", [workspace_id, path])
        return Document(**rows[0]) if rows else None

    def documents(self, workspace_id: str | None = None) -> list[Document]:
        where, params = ("WHERE workspace_id = ?", [workspace_id]) if workspace_id else ("", [])
        return [Document(**r) for r in self.conn.read(f"SELECT * FROM documents {where} ORDER BY added_at", params)]

    def get_document(self, ref: str) -> Document | None:
        rows = self.conn.read("SELECT * FROM documents WHERE id = ? OR name = ? ORDER BY added_at", [ref, ref])
        return Document(**rows[0]) if rows else None

    def save_document(
        self,
        workspace_id: str,
        path: str,
        name: str,
        kind: str,
        sha256: str,
        size: int,
        chunks: Iterable[Chunk],
        folder: str | None = None,
        mtime_ns: int | None = None,
    ) -> str:
        """Store a document with its chunks (location, text), replacing an earlier version, in one transaction."""
        with self.conn.transaction() as db:
            old = db.execute("SELECT id FROM documents WHERE workspace_id = ? AND path = ?", [workspace_id, path])
            for (old_id,) in old.fetchall():
                db.execute("DELETE FROM chunks WHERE document_id = ?", [old_id])
                db.execute("DELETE FROM documents WHERE id = ?", [old_id])
            document_id = new_id()
            count = 0
            for position, (location, text) in enumerate(chunks):
                db.execute(
                    "INSERT INTO chunks (document_id, position, location, text) VALUES (?,?,?,?)",
                    [document_id, position, location, text],
                )
                count += 1
            db.execute(
                "INSERT INTO documents (id, workspace_id, path, name, kind, sha256, size_bytes, chunk_count, added_at,"
                " folder, mtime_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [document_id, workspace_id, path, name, kind, sha256, size, count, now(), folder, mtime_ns],
            )
        return document_id

    def note_unchanged(self, document_id: str, folder: str | None, mtime_ns: int) -> None:
        """Record that a document's file, read again, had the same content (its time changed, or a folder took it)."""
        with self.conn.transaction() as db:
            db.execute("UPDATE documents SET folder = ?, mtime_ns = ? WHERE id = ?", [folder, mtime_ns, document_id])

    def remove_document(self, document_id: str) -> None:
        with self.conn.transaction() as db:
            db.execute("DELETE FROM chunks WHERE document_id = ?", [document_id])
            db.execute("DELETE FROM documents WHERE id = ?", [document_id])

    def rank_chunks(
        self, query: str, workspace_id: str | None, limit: int, any_word: bool = False, prefix: bool = False
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score: lower is better) of the `limit` best passages for `query`, best first.

        Ranked by FTS5 alone (`ORDER BY rank LIMIT`, ids only): joined to the documents for the workspace, every
        passage that matches any word (thousands, over 100k passages) went through the join before the sort. The
        workspace is checked on the ranked ids instead, reading deeper while too few of them are its own, and
        with the join once that depth is large (a small workspace beside a big one): exact either way.
        """
        match = fts_query(query, any_word, prefix)
        if not match:
            return []
        rank = "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"
        depth = limit
        while workspace_id is None or depth <= _FILTERED_DEPTH:
            ranked = [(int(i), float(score)) for i, score in self.conn.read_tuples(rank, [match, depth])]
            if workspace_id is None:
                return ranked
            own = self._own_chunks(workspace_id, [chunk_id for chunk_id, _ in ranked])
            kept = [pair for pair in ranked if pair[0] in own]
            if len(kept) >= limit or len(ranked) < depth:  # enough, or every match was seen
                return kept[:limit]
            depth *= 4
        rows = self.conn.read_tuples(
            "SELECT f.rowid, f.rank FROM chunks_fts f JOIN chunks c ON c.id = f.rowid"
            " JOIN documents d ON d.id = c.document_id WHERE chunks_fts MATCH ? AND d.workspace_id = ?"
            " ORDER BY f.rank LIMIT ?",
            [match, workspace_id, limit],
        )
        return [(int(i), float(score)) for i, score in rows]

    def _own_chunks(self, workspace_id: str, chunk_ids: list[int]) -> set[int]:
        """Which of these passages belong to the workspace."""
        if not chunk_ids:
            return set()
        marks = ",".join("?" * len(chunk_ids))
        # CROSS JOIN keeps chunks the outer loop: by the ids given. Left to itself the planner may start from the
        # workspace's documents (an index on workspace_id) and walk all their passages.
        rows = self.conn.read_tuples(
            f"SELECT c.id FROM chunks c CROSS JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})"
            " AND d.workspace_id = ?",
            [*chunk_ids, workspace_id],
        )
        return {int(row[0]) for row in rows}

    def search_chunks(
        self, query: str, workspace_id: str | None, limit: int, any_word: bool = False, prefix: bool = False
    ) -> list[Hit]:
        """The best passages for `query` as hits, their matching words [marked] by FTS5 (`prefix`: the last word
        may be the start of one, as while the user types)."""
        ranked = self.rank_chunks(query, workspace_id, limit, any_word, prefix)
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        rows = self.conn.read_tuples(
            "SELECT rowid, snippet(chunks_fts, 0, '[', ']', '…', 16) FROM chunks_fts"
            f" WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
            [fts_query(query, any_word, prefix), *(chunk_id for chunk_id, _ in ranked)],
        )
        snippets = {int(i): str(snippet) for i, snippet in rows}
        score = dict(ranked)
        return [
            replace(hit, score=score[int(hit.id)], snippet=snippets.get(int(hit.id), ""))
            for hit in self.chunk_hits([chunk_id for chunk_id, _ in ranked])
        ]

    def search_messages(self, query: str, workspace_id: str | None, limit: int) -> list[Hit]:
        match = fts_query(query)
        if not match:
            return []
        where, params = ("AND t.workspace_id = ?", [workspace_id]) if workspace_id else ("", [])
        rows = self.conn.read(
            "SELECT m.id, m.thread_id, m.author, t.title, bm25(messages_fts) AS score,"
            " snippet(messages_fts, 0, '[', ']', '…', 16) AS snippet"
            " FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid JOIN threads t ON t.id = m.thread_id"
            f" WHERE messages_fts MATCH ? {where} ORDER BY score LIMIT ?",
            [match, *params, limit],
        )
        return [
            Hit("message", r["id"], r["title"], r["author"], r["snippet"], r["score"], thread_id=r["thread_id"])
            for r in rows
        ]

    def chunk_hits(self, chunk_ids: list[int]) -> list[Hit]:
        """Passages by id as search hits (in the order given; a removed one is left out), snippet unset."""
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        rows = self.conn.read(
            "SELECT c.id, d.name, c.location, c.text FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE c.id IN ({marks})",
            list(chunk_ids),
        )
        found = {
            int(r["id"]): Hit("document", str(r["id"]), r["name"], r["location"], "", 0.0, text=r["text"]) for r in rows
        }
        return [found[i] for i in chunk_ids if i in found]

    def has_documents(self, workspace_id: str) -> bool:
        return bool(self.conn.read("SELECT 1 FROM documents WHERE workspace_id = ? LIMIT 1", [workspace_id]))

    def chunk(self, chunk_id: int) -> dict[str, Any] | None:
        rows = self.conn.read(
            "SELECT c.*, d.name, d.path FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?",
            [chunk_id],
        )
        return rows[0] if rows else None
