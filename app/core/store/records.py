"""Installed models, copilot manifests and tool servers."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.store.database import Connection


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# Row ids are random: 128 bits, so ids made on two machines never meet when a workspace is imported (at 32 bits,
# a 50k-message archive into a 50k-message database collided more often than not). Older, shorter ids stay valid.
ID_BYTES = 16


def new_id() -> str:
    """A new random row id (hex)."""
    return os.urandom(ID_BYTES).hex()  # what secrets.token_hex does, without loading OpenSSL (3.5 MB)


def _approvals_of(tool: str) -> tuple[str, list[str]]:
    """The one test of which approvals `tool` names: the tool `server.tool`, or, for a bare `server`, every tool
    of it (a SQL clause and its parameters; no LIKE: '_' in a server name is not a wildcard)."""
    return "(tool = ? OR (instr(?, '.') = 0 AND substr(tool, 1, length(?) + 1) = ? || '.'))", [tool] * 4


def append_event(
    db: Any,
    thread_id: str,
    type_: str,
    *,
    message_id: str | None = None,
    author: str | None = None,
    data: dict[str, Any] | None = None,
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
        self,
        path: Path,
        source: str,
        metadata: dict[str, Any],
        model_id: str | None = None,
        size_bytes: int | None = None,
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

    def models(self) -> list[dict[str, Any]]:
        rows = self.conn.read("SELECT * FROM models ORDER BY added_at")
        for row in rows:
            row["metadata"] = json.loads(row["metadata"] or "{}")
        return rows

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        return next((row for row in self.models() if row["id"] == model_id), None)

    def remove_model(self, model_id: str) -> None:
        with self.conn.transaction() as db:
            db.execute("DELETE FROM models WHERE id = ?", [model_id])


class CopilotRecords:
    """The `copilots` table: manifests as JSON."""

    conn: Connection

    def save_copilot(self, copilot_id: str, name: str, manifest: dict[str, Any]) -> None:
        """Store a manifest; approvals for tools it no longer grants go with it, so a grant back asks again."""
        stamp = now()
        grants = list(manifest.get("tools") or [])
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO copilots (id, name, manifest, created_at, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, manifest = excluded.manifest,"
                " updated_at = excluded.updated_at",
                [copilot_id, name, json.dumps(manifest), stamp, stamp],
            )
            # a grant is a `server` or a `server.tool`: the same test as revoking approvals by tool
            granted = [_approvals_of(grant) for grant in grants]
            still_granted = " OR ".join(clause for clause, _ in granted) or "0"
            db.execute(
                f"DELETE FROM tool_approvals WHERE copilot_id = ? AND NOT ({still_granted})",
                [copilot_id, *(param for _, params in granted for param in params)],
            )

    def copilot_rows(self) -> list[dict[str, Any]]:
        """Every copilot row: id, manifest (parsed, or the raw text when it is not JSON) and review (None: trusted)."""
        rows = self.conn.read("SELECT id, manifest, review FROM copilots ORDER BY created_at, id")
        for row in rows:
            try:
                row["manifest"] = json.loads(row["manifest"])
            except (TypeError, ValueError):
                pass  # a hand-written or older row: the caller says it is damaged instead of failing
        return rows

    def set_copilot_review(self, copilot_id: str, review: str | None) -> bool:
        """Mark a copilot as waiting for review (why), or as reviewed (None); False if there is no such copilot."""
        with self.conn.transaction() as db:
            return db.execute("UPDATE copilots SET review = ? WHERE id = ?", [review, copilot_id]).rowcount > 0

    def delete_copilot(self, copilot_id: str) -> None:
        with self.conn.transaction() as db:
            db.execute("DELETE FROM copilots WHERE id = ?", [copilot_id])
            db.execute("DELETE FROM workspace_copilots WHERE copilot_id = ?", [copilot_id])
            db.execute("DELETE FROM tool_approvals WHERE copilot_id = ?", [copilot_id])


class ToolRecords:
    """The `tool_servers` table (MCP servers: a name and a command line) and the tools each workspace allowed."""

    conn: Connection

    def add_tool_server(self, name: str, command: list[str], remote: dict[str, Any] | None = None) -> None:
        """Register a stdio server by its command line, or a remote one by `remote` (url, headers, token_key)."""
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO tool_servers (name, command, remote, created_at) VALUES (?,?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET command = excluded.command, remote = excluded.remote",
                [name, json.dumps(command), json.dumps(remote) if remote else None, now()],
            )

    def tool_servers(self) -> dict[str, list[str] | dict[str, Any]]:
        """Each server's command line, or for a remote one its url, headers and token_key."""
        rows = self.conn.read("SELECT name, command, remote FROM tool_servers ORDER BY name")
        return {row["name"]: json.loads(row["remote"] or row["command"]) for row in rows}

    def remove_tool_server(self, name: str) -> None:
        """Forget a server and every approval of its tools (first: a server added back under its name asks again)."""
        self.revoke_tool_approvals(tool=name)
        with self.conn.transaction() as db:
            db.execute("DELETE FROM tool_servers WHERE name = ?", [name])

    def tool_approved(self, workspace_id: str, copilot_id: str, tool: str) -> bool:
        """Whether the user chose "always allow" for this copilot's use of `tool` in this workspace."""
        rows = self.conn.read(
            "SELECT 1 FROM tool_approvals WHERE workspace_id = ? AND copilot_id = ? AND tool = ?",
            [workspace_id, copilot_id, tool],
        )
        return bool(rows)

    def approve_tool(self, workspace_id: str, copilot_id: str, tool: str) -> None:
        """Save an "always allow" answer (only that answer is ever saved)."""
        with self.conn.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO tool_approvals (workspace_id, copilot_id, tool, approved_at) VALUES (?,?,?,?)",
                [workspace_id, copilot_id, tool, now()],
            )

    def tool_approvals(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """The saved "always allow" answers (of one workspace, or all), with each workspace's name."""
        where, params = ("WHERE a.workspace_id = ?", [workspace_id]) if workspace_id else ("", [])
        return self.conn.read(
            "SELECT a.workspace_id, coalesce(w.name, a.workspace_id) AS workspace, a.copilot_id, a.tool,"
            " a.approved_at FROM tool_approvals a LEFT JOIN workspaces w ON w.id = a.workspace_id"
            f" {where} ORDER BY workspace, a.copilot_id, a.tool",
            params,
        )

    def revoke_tool_approvals(
        self, workspace_id: str | None = None, tool: str | None = None, copilot_id: str | None = None
    ) -> int:
        """Forget saved answers matching every filter given (`tool` may name a whole server); returns how many."""
        clauses, params = [], []
        if workspace_id is not None:
            clauses.append("workspace_id = ?")
            params.append(workspace_id)
        if copilot_id is not None:
            clauses.append("copilot_id = ?")
            params.append(copilot_id)
        if tool is not None:
            clause, tool_params = _approvals_of(tool)
            clauses.append(clause)
            params += tool_params
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.conn.transaction() as db:
            return db.execute(f"DELETE FROM tool_approvals{where}", params).rowcount
