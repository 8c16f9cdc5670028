"""Documents, their chunks, and full-text search over chunks and messages (FTS5, ranked by BM25)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.core.store.database import Connection
from app.core.store.records import new_id, now

Chunk = tuple[str | None, str]  # a passage of a document: (location, text)

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, any_word: bool = False) -> str:
    """User text as an FTS5 query: each word quoted (no syntax can break it), all of them or any one."""
    words = [f'"{w}"' for w in _WORD.findall(text.lower())][:32]
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

    def search_chunks(self, query: str, workspace_id: str | None, limit: int, any_word: bool = False) -> list[Hit]:
        match = fts_query(query, any_word)
        if not match:
            return []
        where, params = ("AND d.workspace_id = ?", [workspace_id]) if workspace_id else ("", [])
        # Ranked first, on ids alone; text and snippets after, for the few kept: every passage that matches any
        # word (thousands, over 100k passages) goes through the sort, and text carried along costs time.
        ranked = self.conn.read_tuples(
            "SELECT chunks_fts.rowid, bm25(chunks_fts) AS score FROM chunks_fts"
            + (" JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id" if where else "")
            + f" WHERE chunks_fts MATCH ? {where} ORDER BY score LIMIT ?",
            [match, *params, limit],
        )
        if not ranked:
            return []
        score = dict(ranked)
        marks = ",".join("?" * len(ranked))
        rows = self.conn.read(
            "SELECT c.id, d.name, c.location, c.text, snippet(chunks_fts, 0, '[', ']', '…', 16) AS snippet"
            " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id"
            f" WHERE chunks_fts MATCH ? AND chunks_fts.rowid IN ({marks})",
            [match, *score],
        )
        hits = [
            Hit("document", str(r["id"]), r["name"], r["location"], r["snippet"], score[r["id"]], text=r["text"])
            for r in rows
        ]
        return sorted(hits, key=lambda hit: hit.score)

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
