"""Installed models, copilot manifests and tool servers."""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.store.database import Connection


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    return secrets.token_hex(4)


def append_event(
    db: Any,
    thread_id: str,
    type_: str,
    *,
    message_id: str | None = None,
    author: str | None = None,
    data: dict | None = None,
) -> None:
    """Append one row to the thread's event log (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO events (thread_id, type, message_id, author, created_at, data) VALUES (?,?,?,?,?,?)",
        [thread_id, type_, message_id, author, now(), json.dumps(data) if data is not None else None],
    )


class ModelRecords:
    """The `models` table: GGUF files Roundtable can run."""

    conn: Connection

    def add_model(
        self, path: Path, source: str, metadata: dict, model_id: str | None = None, size_bytes: int | None = None
    ) -> str:
        """Register a GGUF file (or refresh its record); returns the model id."""
        resolved = os.path.abspath(path)  # links kept: a split model's parts sit side by side in its snapshot
        existing = self.conn.read("SELECT id FROM models WHERE path = ?", [resolved])
        chosen = existing[0]["id"] if existing else (model_id or new_id())
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO models (id, path, filename, size_bytes, source, metadata, added_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET path = excluded.path,"
                " filename = excluded.filename, size_bytes = excluded.size_bytes, metadata = excluded.metadata",
                [chosen, resolved, path.name, size_bytes or path.stat().st_size, source, json.dumps(metadata), now()],
            )
        return chosen

    def models(self) -> list[dict]:
        rows = self.conn.read("SELECT * FROM models ORDER BY added_at")
        for row in rows:
            row["metadata"] = json.loads(row["metadata"] or "{}")
        return rows

    def get_model(self, model_id: str) -> dict | None:
        return next((row for row in self.models() if row["id"] == model_id), None)

    def remove_model(self, model_id: str) -> None:
        with self.conn.transaction() as db:
            db.execute("DELETE FROM models WHERE id = ?", [model_id])


class CopilotRecords:
    """The `copilots` table: manifests as JSON."""

    conn: Connection

    def save_copilot(self, copilot_id: str, name: str, manifest: dict) -> None:
        stamp = now()
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO copilots (id, name, manifest, created_at, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, manifest = excluded.manifest,"
                " updated_at = excluded.updated_at",
                [copilot_id, name, json.dumps(manifest), stamp, stamp],
            )

    def copilots(self) -> list[dict]:
        rows = self.conn.read("SELECT * FROM copilots ORDER BY created_at, id")
        return [json.loads(row["manifest"]) for row in rows]

    def delete_copilot(self, copilot_id: str) -> None:
        with self.conn.transaction() as db:
            db.execute("DELETE FROM copilots WHERE id = ?", [copilot_id])
            db.execute("DELETE FROM workspace_copilots WHERE copilot_id = ?", [copilot_id])


class ToolRecords:
    """The `tool_servers` table (MCP servers: a name and a command line) and the tools each workspace allowed."""

    conn: Connection

    def add_tool_server(self, name: str, command: list[str]) -> None:
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO tool_servers (name, command, created_at) VALUES (?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET command = excluded.command",
                [name, json.dumps(command), now()],
            )

    def tool_servers(self) -> dict[str, list[str]]:
        rows = self.conn.read("SELECT name, command FROM tool_servers ORDER BY name")
        return {row["name"]: json.loads(row["command"]) for row in rows}

    def remove_tool_server(self, name: str) -> None:
        with self.conn.transaction() as db:
            db.execute("DELETE FROM tool_servers WHERE name = ?", [name])
            db.execute("DELETE FROM tool_approvals WHERE tool = ? OR tool LIKE ? || '.%'", [name, name])

    def tool_approved(self, workspace_id: str, tool: str) -> bool:
        rows = self.conn.read("SELECT 1 FROM tool_approvals WHERE workspace_id = ? AND tool = ?", [workspace_id, tool])
        return bool(rows)

    def approve_tool(self, workspace_id: str, tool: str) -> None:
        with self.conn.transaction() as db:
            db.execute("INSERT OR IGNORE INTO tool_approvals VALUES (?,?,?)", [workspace_id, tool, now()])
