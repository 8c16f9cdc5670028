"""Workspaces, their copilot rosters, the task board, and small key/value facts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.core.errors import UsageError
from app.core.store.database import Connection
from app.core.store.records import append_event, new_id, now

# stored on disk: never change or reuse values
DEFAULT_WORKSPACE = "default"
QUICK_ASK_WORKSPACE = "quick-ask"  # where the overlay's exchanges go until the user moves one to a workspace
API_WORKSPACE = "api"  # where `roundtable serve` keeps its `copilot:` and `model:` calls
_BUILT_IN_NAMES = {DEFAULT_WORKSPACE: "Default", QUICK_ASK_WORKSPACE: "Quick asks", API_WORKSPACE: "API"}

# stored on disk: never change or reuse values
TASK_PENDING = "pending"
TASK_WORKING = "working"
TASK_DONE = "done"
TASK_FAILED = "failed"


@dataclass
class Task:
    """A task on the board (a handoff, or a step of a plan): who asked whom to do what, and how it went."""

    id: str
    workspace_id: str
    thread_id: str
    from_copilot: str
    to_copilot: str
    task: str
    context: str | None
    status: str
    result_message_id: str | None
    created_at: str
    updated_at: str


class WorkspaceRecords:
    """Workspaces, rosters, tasks and meta, sharing the store's connection."""

    conn: Connection

    def ensure_workspace(self, workspace_id: str = DEFAULT_WORKSPACE, name: str | None = None) -> str:
        """Create the workspace unless it exists; the built-in ones get their own names."""
        with self.conn.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES (?,?,?)",
                [workspace_id, name or _BUILT_IN_NAMES.get(workspace_id, workspace_id), now()],
            )
        return workspace_id

    def workspaces(self) -> list[dict[str, Any]]:
        return self.conn.read("SELECT * FROM workspaces ORDER BY created_at")

    def find_workspace(self, ref: str) -> dict[str, Any] | None:
        """A workspace by id or name (case-insensitive)."""
        rows = self.conn.read("SELECT * FROM workspaces WHERE id = ? OR lower(name) = lower(?)", [ref, ref])
        return rows[0] if rows else None

    def create_workspace(self, name: str) -> str:
        workspace_id = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or new_id()
        if self.find_workspace(workspace_id):
            workspace_id = f"{workspace_id}-{new_id()[:4]}"
        self.ensure_workspace(workspace_id, name)
        return workspace_id

    def roster(self, workspace_id: str) -> list[str]:
        rows = self.conn.read(
            "SELECT copilot_id FROM workspace_copilots WHERE workspace_id = ? ORDER BY position", [workspace_id]
        )
        return [row["copilot_id"] for row in rows]

    def set_roster(self, workspace_id: str, copilot_ids: list[str]) -> None:
        with self.conn.transaction() as db:
            db.execute("DELETE FROM workspace_copilots WHERE workspace_id = ?", [workspace_id])
            for position, copilot_id in enumerate(copilot_ids):
                db.execute("INSERT INTO workspace_copilots VALUES (?,?,?)", [workspace_id, copilot_id, position])

    # -- the task board: task events in the thread log, projected into `tasks` ------------------------------

    def create_task(
        self, workspace_id: str, thread_id: str, from_copilot: str, to_copilot: str, task: str, context: str | None
    ) -> str:
        task_id = new_id()
        stamp = now()
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO tasks (id, workspace_id, thread_id, from_copilot, to_copilot, task, context, status,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [task_id, workspace_id, thread_id, from_copilot, to_copilot, task, context, TASK_PENDING, stamp, stamp],
            )
            append_event(
                db,
                thread_id,
                "task",
                author=from_copilot,
                data={
                    "task_id": task_id,
                    "status": TASK_PENDING,
                    "from": from_copilot,
                    "to": to_copilot,
                    "task": task,
                    "context": context,
                },
            )
        return task_id

    def update_task(self, task_id: str, status: str, result_message_id: str | None = None) -> None:
        with self.conn.transaction() as db:
            row = db.execute("SELECT thread_id, to_copilot FROM tasks WHERE id = ?", [task_id]).fetchone()
            db.execute(
                "UPDATE tasks SET status = ?, result_message_id = coalesce(?, result_message_id), updated_at = ?"
                " WHERE id = ?",
                [status, result_message_id, now(), task_id],
            )
            append_event(
                db,
                row[0],
                "task",
                author=row[1],
                data={"task_id": task_id, "status": status, "result_message_id": result_message_id},
            )

    def tasks(self, workspace_id: str | None = None, thread_id: str | None = None) -> list[Task]:
        where, params = [], []
        if workspace_id:
            where.append("workspace_id = ?")
            params.append(workspace_id)
        if thread_id:
            where.append("thread_id = ?")
            params.append(thread_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return [Task(**row) for row in self.conn.read(f"SELECT * FROM tasks {clause} ORDER BY created_at", params)]

    # -- meta -------------------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self.conn.read("SELECT value FROM meta WHERE key = ?", [key])
        return json.loads(rows[0]["value"]) if rows else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.conn.transaction() as db:
            db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, json.dumps(value)],
            )


def unknown_workspace(ref: str) -> UsageError:
    return UsageError(f"No workspace '{ref}': run `roundtable run` with --workspace NAME to create one.")
