"""Linked folders: folders a workspace follows, and the documents that came from them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from app.core.store.database import Connection
from app.core.store.knowledge import Document
from app.core.store.records import now

# a file a scan could not index: its size and modification time then, and why
Skipped = tuple[int, int, str]


@dataclass
class LinkedFolder:
    """A folder a workspace follows, with how its last scan went.

    Attributes:
        documents: how many of the workspace's documents came from it.
        last_error: why the last scan could not read the folder; None when it could.
        skipped: the files the last scan could not index: path -> (size, mtime_ns, reason).
    """

    workspace_id: str
    path: str
    added_at: str
    last_scan_at: str | None
    last_error: str | None
    documents: int = 0
    skipped: dict[str, Skipped] = field(default_factory=dict)


class FolderRecords:
    """The `linked_folders` table and the `folder` column of `documents`, sharing the store's connection."""

    conn: Connection

    def link_folder(self, workspace_id: str, path: str) -> bool:
        """Follow `path` (absolute, resolved) in the workspace; False if it was linked already."""
        with self.conn.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO linked_folders (workspace_id, path, added_at) VALUES (?,?,?)",
                [workspace_id, path, now()],
            )
            return bool(cursor.rowcount)

    def unlink_folder(self, workspace_id: str, path: str, keep_documents: bool) -> int:
        """Stop following `path`; its documents are removed (with their passages and vectors), or kept as documents
        added by hand. Returns how many documents it had."""
        with self.conn.transaction() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM documents WHERE workspace_id = ? AND folder = ?", [workspace_id, path]
                ).fetchall()
            ]
            for document_id in ids:
                if keep_documents:
                    db.execute("UPDATE documents SET folder = NULL WHERE id = ?", [document_id])
                else:  # the triggers take the passages' FTS rows and vectors with them
                    db.execute("DELETE FROM chunks WHERE document_id = ?", [document_id])
                    db.execute("DELETE FROM documents WHERE id = ?", [document_id])
            db.execute("DELETE FROM linked_folders WHERE workspace_id = ? AND path = ?", [workspace_id, path])
        return len(ids)

    def linked_folders(self, workspace_id: str | None = None) -> list[LinkedFolder]:
        """The linked folders (of one workspace, or all), each with its document count."""
        where, params = ("WHERE f.workspace_id = ?", [workspace_id]) if workspace_id else ("", [])
        rows = self.conn.read(
            "SELECT f.*, (SELECT COUNT(*) FROM documents d WHERE d.workspace_id = f.workspace_id"
            f" AND d.folder = f.path) AS documents FROM linked_folders f {where} ORDER BY f.workspace_id, f.added_at",
            params,
        )
        return [LinkedFolder(**{**r, "skipped": _skipped(r["skipped"])}) for r in rows]

    def folder_documents(self, workspace_id: str, folder: str) -> dict[str, Document]:
        """The documents that came from a linked folder, by path."""
        rows = self.conn.read("SELECT * FROM documents WHERE workspace_id = ? AND folder = ?", [workspace_id, folder])
        return {r["path"]: Document(**r) for r in rows}

    def skipped_files(self, workspace_id: str, folder: str) -> dict[str, Skipped]:
        """The files of a linked folder its last scan could not index."""
        rows = self.conn.read(
            "SELECT skipped FROM linked_folders WHERE workspace_id = ? AND path = ?", [workspace_id, folder]
        )
        return _skipped(rows[0]["skipped"]) if rows else {}

    def note_scan(
        self, workspace_id: str, folder: str, error: str | None, skipped: dict[str, Skipped] | None = None
    ) -> None:
        """Record when a folder was scanned, why it could not be read (None: it could), and the files it could not
        index (None: as they were)."""
        with self.conn.transaction() as db:
            db.execute(
                "UPDATE linked_folders SET last_scan_at = ?, last_error = ?, skipped = coalesce(?, skipped)"
                " WHERE workspace_id = ? AND path = ?",
                [now(), error, None if skipped is None else json.dumps(skipped), workspace_id, folder],
            )


def _skipped(stored: str) -> dict[str, Skipped]:
    return {path: (int(size), int(mtime), str(reason)) for path, (size, mtime, reason) in json.loads(stored).items()}
