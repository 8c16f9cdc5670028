"""The workspace store: threads, the append-only event log and its message projection, models, copilots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.crew.events import LOGGED, MESSAGE_START, CrewEvent, events_from_row, message_events
from app.core.errors import UsageError
from app.core.store.database import Connection, writer_identity, writer_is_alive
from app.core.store.folders import FolderRecords
from app.core.store.knowledge import KnowledgeRecords
from app.core.store.records import CopilotRecords, ModelRecords, ToolRecords, append_event, new_id, now
from app.core.store.vectors import VectorRecords
from app.core.store.workspaces import DEFAULT_WORKSPACE, WorkspaceRecords

# stored on disk: never change or reuse values
STATUS_STREAMING = "streaming"
STATUS_COMPLETE = "complete"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"


@dataclass
class Thread:
    """A conversation in a workspace."""

    id: str
    workspace_id: str
    title: str
    created_at: str
    updated_at: str
    message_count: int = 0
    pinned: bool = False  # kept at the top of the sidebar

    def __post_init__(self) -> None:
        self.pinned = bool(self.pinned)  # SQLite stores 0 or 1


@dataclass
class Message:
    """One message of a thread, as projected from its events."""

    id: str
    thread_id: str
    author: str
    role: str
    status: str
    text: str
    created_at: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.data.get("error")


def _message(row: dict[str, Any]) -> Message:
    return Message(
        id=row["id"],
        thread_id=row["thread_id"],
        author=row["author"],
        role=row["role"],
        status=row["status"],
        text=row["text"],
        created_at=row["created_at"],
        data=json.loads(row["data"] or "{}"),
    )


def _start(db: Any, thread_id: str, message_id: str, author: str, role: str, status: str) -> None:
    """The `message.start` event that places a message in its thread (see `Store.timeline`)."""
    append_event(
        db, thread_id, "message.start", message_id=message_id, author=author, data={"role": role, "status": status}
    )


class Store(
    ModelRecords, CopilotRecords, ToolRecords, KnowledgeRecords, FolderRecords, VectorRecords, WorkspaceRecords
):
    """Everything Roundtable keeps, in one SQLite database.

    Writes append events and update their projection in the same short transaction, so a crash at any
    moment leaves a consistent database. Attributes:
        path: the database file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = Connection(path)
        self._recover_orphans()

    def close(self) -> None:
        self.conn.close()

    # -- events ---------------------------------------------------------------------------------------------

    def add_event(
        self, thread_id: str, type_: str, *, author: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        """Append a raw non-message event; run events go through `record`."""
        with self.conn.transaction() as db:
            append_event(db, thread_id, type_, author=author, data=data)

    def record(self, thread_id: str, event: CrewEvent) -> None:
        """Log a run event (a route decision, a handoff, a tool call) so `timeline` rebuilds it as it is."""
        # a JSON round trip first: tool arguments come from a model and must be plain JSON to be stored
        data = json.loads(json.dumps(event.stored_data()))
        self.add_event(thread_id, event.type, author=event.author, data=data)

    def events(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's raw event log, oldest first."""
        rows = self.conn.read("SELECT * FROM events WHERE thread_id = ? ORDER BY seq", [thread_id])
        for row in rows:
            row["data"] = json.loads(row["data"]) if row["data"] else None
        return rows

    def timeline(self, thread_id: str) -> list[CrewEvent]:
        """The thread as a crew run reported it: each message starting, its text, its error and its end, with
        route decisions, handoffs and tool calls between; what every view renders (`crew/transcript.py`).

        A message is placed by its `message.start` row and read from its projection, which holds its whole text
        and its merged end data (a hand-made archive may carry no other message rows)."""
        messages = {m.id: m for m in self.messages(thread_id)}
        timeline: list[CrewEvent] = []
        for row in self.events(thread_id):
            message = messages.get(row["message_id"]) if row["type"] == MESSAGE_START else None
            if message is not None:
                timeline += message_events(
                    message.author, message.id, thread_id, message.text, message.status, message.data
                )
            elif row["type"] in LOGGED:
                timeline += events_from_row(row)
        return timeline

    # -- workspaces and threads ----------------------------------------------------------------------------

    def create_thread(self, title: str, workspace_id: str = DEFAULT_WORKSPACE) -> Thread:
        self.ensure_workspace(workspace_id)
        thread = Thread(new_id(), workspace_id, title.strip()[:80] or "Untitled", now(), now())
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO threads (id, workspace_id, title, created_at, updated_at) VALUES (?,?,?,?,?)",
                [thread.id, thread.workspace_id, thread.title, thread.created_at, thread.updated_at],
            )
            append_event(db, thread.id, "thread.created", data={"title": thread.title})
        return thread

    _THREAD_SELECT = (
        "SELECT t.*, (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id) AS message_count FROM threads t"
    )

    def list_threads(self, workspace_id: str | None = None) -> list[Thread]:
        where, params = ("WHERE t.workspace_id = ?", [workspace_id]) if workspace_id else ("", [])
        rows = self.conn.read(f"{self._THREAD_SELECT} {where} ORDER BY t.pinned DESC, t.updated_at DESC", params)
        return [Thread(**row) for row in rows]

    def rename_thread(self, thread_id: str, title: str) -> None:
        with self.conn.transaction() as db:
            db.execute("UPDATE threads SET title = ? WHERE id = ?", [title.strip()[:80] or "Untitled", thread_id])
            append_event(db, thread_id, "thread.renamed", data={"title": title})

    def move_thread(self, thread_id: str, workspace_id: str) -> None:
        """Put a thread, with its tasks, into another workspace (the overlay's "Open in Roundtable")."""
        self.ensure_workspace(workspace_id)
        with self.conn.transaction() as db:
            for table, key in (("threads", "id"), ("tasks", "thread_id")):
                db.execute(f"UPDATE {table} SET workspace_id = ? WHERE {key} = ?", [workspace_id, thread_id])
            append_event(db, thread_id, "thread.moved", data={"workspace_id": workspace_id})

    def delete_thread(self, thread_id: str) -> None:
        """Remove a thread with everything in it (its events, messages and tasks)."""
        with self.conn.transaction() as db:
            for table in ("events", "messages", "tasks"):
                db.execute(f"DELETE FROM {table} WHERE thread_id = ?", [thread_id])
            db.execute("DELETE FROM threads WHERE id = ?", [thread_id])

    def find_threads(self, text: str, workspace_id: str | None = None) -> list[Thread]:
        """Threads whose title contains `text` or whose messages hold all its words (the full-text index; the
        last word may be the start of one, as it is while the user types), pinned first, then newest first."""
        from app.core.store.knowledge import fts_query

        match = fts_query(text, prefix=True)
        where = "instr(lower(t.title), ?) > 0"  # not LIKE: '%' and '_' in the text are only characters
        params: list[str] = [text.lower()]
        if match:
            found = (
                "SELECT m.thread_id FROM messages_fts f JOIN messages m ON m.rowid = f.rowid WHERE messages_fts MATCH ?"
            )
            where = f"({where} OR t.id IN ({found}))"
            params.append(match)
        if workspace_id:
            where += " AND t.workspace_id = ?"
            params.append(workspace_id)
        order = "ORDER BY t.pinned DESC, t.updated_at DESC"
        return [Thread(**row) for row in self.conn.read(f"{self._THREAD_SELECT} WHERE {where} {order}", params)]

    def pin_thread(self, thread_id: str, pinned: bool) -> None:
        """Keep a thread at the top of the sidebar (or stop)."""
        with self.conn.transaction() as db:
            db.execute("UPDATE threads SET pinned = ? WHERE id = ?", [int(pinned), thread_id])

    def get_thread(self, thread_id: str) -> Thread:
        """A thread by id or unique id prefix."""
        rows = self.conn.read(f"{self._THREAD_SELECT} WHERE t.id LIKE ? || '%'", [thread_id])
        exact = [row for row in rows if row["id"] == thread_id]
        if len(exact) == 1 or len(rows) == 1:
            return Thread(**(exact or rows)[0])
        if not rows:
            raise UsageError(f"No thread '{thread_id}': run `roundtable threads ls` to see thread ids.")
        raise UsageError(f"Thread id '{thread_id}' is ambiguous: give more of it (see `roundtable threads ls`).")

    # -- messages ---------------------------------------------------------------------------------------------

    def add_message(
        self,
        thread_id: str,
        author: str,
        role: str,
        text: str,
        status: str = STATUS_COMPLETE,
        data: dict[str, Any] | None = None,
    ) -> str:
        """Append a whole message at once (the user's, or a system note)."""
        message_id = new_id()
        stamp = now()
        with self.conn.transaction() as db:
            _start(db, thread_id, message_id, author, role, status)
            append_event(db, thread_id, "message.text", message_id=message_id, author=author, data={"text": text})
            append_event(
                db,
                thread_id,
                "message.end",
                message_id=message_id,
                author=author,
                data={"status": status, **(data or {})},
            )
            db.execute(
                "INSERT INTO messages (id, thread_id, author, role, status, text, created_at, updated_at, data)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [message_id, thread_id, author, role, status, text, stamp, stamp, json.dumps(data or {})],
            )
            db.execute("UPDATE threads SET updated_at = ? WHERE id = ?", [stamp, thread_id])
        return message_id

    def start_message(self, thread_id: str, author: str, role: str = "assistant") -> str:
        """Begin a reply that will stream in; it stays `streaming` until finished."""
        message_id = new_id()
        pid, started = writer_identity()
        stamp = now()
        with self.conn.transaction() as db:
            _start(db, thread_id, message_id, author, role, STATUS_STREAMING)
            db.execute(
                "INSERT INTO messages (id, thread_id, author, role, status, text, created_at, updated_at,"
                " writer_pid, writer_started, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [message_id, thread_id, author, role, STATUS_STREAMING, "", stamp, stamp, pid, started, "{}"],
            )
        return message_id

    def append_text(self, message_id: str, text: str) -> None:
        """Checkpoint streamed text: an event plus the projection, atomically."""
        if not text:
            return
        with self.conn.transaction() as db:
            row = db.execute("SELECT thread_id, author FROM messages WHERE id = ?", [message_id]).fetchone()
            append_event(db, row[0], "message.text", message_id=message_id, author=row[1], data={"text": text})
            db.execute("UPDATE messages SET text = text || ?, updated_at = ? WHERE id = ?", [text, now(), message_id])

    def finish_message(
        self,
        message_id: str,
        status: str,
        data: dict[str, Any] | None = None,
        confidence: bytes | None = None,
        request: bytes | None = None,
    ) -> None:
        """Close a streaming message as complete, interrupted or failed, with its trace or error, its token
        confidence (a blob from `app.core.confidence.pack`) if it has any, and the request it answered (a blob
        from `app.core.provenance.pack_request`)."""
        stamp = now()
        with self.conn.transaction() as db:
            if request is not None:
                db.execute(
                    "INSERT OR REPLACE INTO message_requests (message_id, data) VALUES (?, ?)", [message_id, request]
                )
            if confidence is not None:
                db.execute(
                    "INSERT OR REPLACE INTO message_confidence (message_id, data) VALUES (?, ?)",
                    [message_id, confidence],
                )
            row = db.execute("SELECT thread_id, author, data FROM messages WHERE id = ?", [message_id]).fetchone()
            merged = {**json.loads(row[2] or "{}"), **(data or {})}
            append_event(
                db, row[0], "message.end", message_id=message_id, author=row[1], data={"status": status, **(data or {})}
            )
            db.execute(
                "UPDATE messages SET status = ?, data = ?, updated_at = ? WHERE id = ?",
                [status, json.dumps(merged), stamp, message_id],
            )
            db.execute("UPDATE threads SET updated_at = ? WHERE id = ?", [stamp, row[0]])

    def messages(self, thread_id: str) -> list[Message]:
        rows = self.conn.read("SELECT * FROM messages WHERE thread_id = ? ORDER BY created_at, rowid", [thread_id])
        return [_message(row) for row in rows]

    def get_message(self, message_id: str) -> Message:
        rows = self.conn.read("SELECT * FROM messages WHERE id = ?", [message_id])
        if not rows:
            raise UsageError(f"No message '{message_id}'.")
        return _message(rows[0])

    def confidence(self, message_id: str) -> bytes | None:
        """A reply's token confidence as stored (`app.core.confidence.unpack` reads it); None if it has none."""
        rows = self.conn.read("SELECT data FROM message_confidence WHERE message_id = ?", [message_id])
        return bytes(rows[0]["data"]) if rows else None

    def request(self, message_id: str) -> bytes | None:
        """The request a reply answered, packed (`app.core.provenance.unpack_request` reads it); None if none was
        kept (a reply from before provenance, or a user's message)."""
        rows = self.conn.read("SELECT data FROM message_requests WHERE message_id = ?", [message_id])
        return bytes(rows[0]["data"]) if rows else None

    def confidences(self, thread_id: str) -> dict[str, bytes]:
        """The token confidence of each reply of a thread that has some, by message id."""
        rows = self.conn.read(
            "SELECT c.message_id, c.data FROM message_confidence c JOIN messages m ON m.id = c.message_id"
            " WHERE m.thread_id = ?",
            [thread_id],
        )
        return {row["message_id"]: bytes(row["data"]) for row in rows}

    def _recover_orphans(self) -> None:
        """Mark replies whose writing process died (kill -9, power loss) as interrupted."""
        rows = self.conn.read(
            "SELECT id, writer_pid, writer_started FROM messages WHERE status = ?", [STATUS_STREAMING]
        )
        for row in rows:
            if not writer_is_alive(row["writer_pid"], row["writer_started"]):
                self.finish_message(
                    row["id"], STATUS_INTERRUPTED, {"error": "Roundtable stopped while this reply was being written."}
                )
