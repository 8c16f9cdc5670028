"""Carrying a workspace to another machine: export to one zip file, import into a new workspace with new ids;
and one thread as Markdown. Archives hold key names, never keys (manifests never hold values)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from app import __version__
from app.core.errors import UsageError
from app.core.store.records import new_id, now

FORMAT = "roundtable-workspace"  # stored on disk: never change
VERSION = 1  # the archive layout; a newer one is refused
_TABLES = ("threads", "messages", "events", "tasks", "documents", "chunks")


class ArchiveError(UsageError):
    """An archive that is damaged, foreign, or from a newer Roundtable."""


def export_workspace(store: Any, workspace_id: str, target: Path) -> dict[str, int]:
    """Write the workspace to `target` (written beside it first, then moved: never half a file)."""
    workspace = store.find_workspace(workspace_id)
    if workspace is None:
        raise UsageError(f"No workspace '{workspace_id}'.")
    read = store.conn.read
    threads = read("SELECT * FROM threads WHERE workspace_id = ?", [workspace["id"]])
    ids = [t["id"] for t in threads]
    marks = ",".join("?" * len(ids)) or "NULL"
    documents = read("SELECT * FROM documents WHERE workspace_id = ?", [workspace["id"]])
    doc_marks = ",".join("?" * len(documents)) or "NULL"
    roster = store.roster(workspace["id"])
    content = {
        "workspace": workspace,
        "roster": roster,
        "copilots": [c for c in store.copilots() if c["id"] in roster or not roster],
        "threads": threads,
        "messages": read(f"SELECT * FROM messages WHERE thread_id IN ({marks})", ids),
        "events": read(f"SELECT * FROM events WHERE thread_id IN ({marks}) ORDER BY seq", ids),
        "tasks": read(f"SELECT * FROM tasks WHERE thread_id IN ({marks})", ids),
        "documents": documents,
        "chunks": read(
            f"SELECT * FROM chunks WHERE document_id IN ({doc_marks}) ORDER BY id", [d["id"] for d in documents]
        ),
    }
    manifest = {"format": FORMAT, "version": VERSION, "roundtable": __version__, "exported_at": now()}
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        archive.writestr("workspace.json", json.dumps(content))
    partial.replace(target)
    return {table: len(content[table]) for table in _TABLES}


def read_archive(path: Path) -> dict[str, Any]:
    """The archive's content, checked; ArchiveError saying what is wrong with it otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ArchiveError(f"{path.name} is not a Roundtable workspace archive.")
            if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
                raise ArchiveError(
                    f"{path.name} was exported by a newer Roundtable ({manifest.get('roundtable', '?')}, archive "
                    f"version {manifest.get('version')}): update Roundtable to import it."
                )
            content = json.loads(archive.read("workspace.json"))
    except ArchiveError:
        raise
    except FileNotFoundError as exc:
        raise ArchiveError(f"No file {path}.") from exc
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ArchiveError(f"{path.name} is not a Roundtable workspace archive (or it is damaged): {exc}.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, zipfile.LargeZipFile, OSError) as exc:
        raise ArchiveError(f"{path.name} is damaged ({exc}): export the workspace again.") from exc
    missing = [key for key in ("workspace", *_TABLES) if not isinstance(content.get(key), dict | list)]
    if missing:
        raise ArchiveError(f"{path.name} is damaged: it has no {', '.join(missing)}.")
    return content


def import_workspace(store: Any, path: Path, name: str | None = None) -> tuple[str, dict[str, int]]:
    """Import into a new workspace, every id new; copilots not yet here are added. All or nothing."""
    content = read_archive(path)
    title = name or content["workspace"].get("name") or "Imported"
    if store.find_workspace(title):
        title = f"{title} (imported)"
    ids: dict[str, str] = {}

    def fresh(old: Any) -> Any:
        if old is None:
            return None
        return ids.setdefault(str(old), new_id())

    known = {c["id"] for c in store.copilots()}
    try:
        with store.conn.transaction() as db:
            workspace_id = _new_workspace_id(store, title)
            db.execute("INSERT INTO workspaces (id, name, created_at) VALUES (?,?,?)", [workspace_id, title, now()])
            for copilot in content["copilots"]:
                if copilot.get("id") not in known:
                    db.execute(
                        "INSERT INTO copilots (id, name, manifest, created_at, updated_at) VALUES (?,?,?,?,?)",
                        [copilot["id"], copilot.get("name", copilot["id"]), json.dumps(copilot), now(), now()],
                    )
            for position, copilot_id in enumerate(content["roster"]):
                db.execute("INSERT INTO workspace_copilots VALUES (?,?,?)", [workspace_id, copilot_id, position])
            for t in content["threads"]:
                db.execute(
                    "INSERT INTO threads (id, workspace_id, title, created_at, updated_at) VALUES (?,?,?,?,?)",
                    [fresh(t["id"]), workspace_id, t["title"], t["created_at"], t["updated_at"]],
                )
            for m in content["messages"]:
                db.execute(
                    "INSERT INTO messages (id, thread_id, author, role, status, text, created_at, updated_at, data)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        fresh(m["id"]),
                        fresh(m["thread_id"]),
                        m["author"],
                        m["role"],
                        m["status"],
                        m["text"],
                        m["created_at"],
                        m["updated_at"],
                        m.get("data"),
                    ],
                )
            for e in content["events"]:
                db.execute(
                    "INSERT INTO events (thread_id, type, message_id, author, created_at, data) VALUES (?,?,?,?,?,?)",
                    [
                        fresh(e["thread_id"]),
                        e["type"],
                        fresh(e.get("message_id")),
                        e.get("author"),
                        e["created_at"],
                        _remap(e.get("data"), fresh),
                    ],
                )
            for k in content["tasks"]:
                db.execute(
                    "INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        fresh(k["id"]),
                        workspace_id,
                        fresh(k["thread_id"]),
                        k["from_copilot"],
                        k["to_copilot"],
                        k["task"],
                        k.get("context"),
                        k["status"],
                        fresh(k.get("result_message_id")),
                        k["created_at"],
                        k["updated_at"],
                    ],
                )
            for d in content["documents"]:
                db.execute(
                    "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        fresh(d["id"]),
                        workspace_id,
                        d["path"],
                        d["name"],
                        d["kind"],
                        d["sha256"],
                        d["size_bytes"],
                        d["chunk_count"],
                        d["added_at"],
                    ],
                )
            for c in content["chunks"]:
                db.execute(
                    "INSERT INTO chunks (document_id, position, location, text) VALUES (?,?,?,?)",
                    [fresh(c["document_id"]), c["position"], c.get("location"), c["text"]],
                )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"{path.name} is damaged (a record lacks {exc}): nothing was imported.") from exc
    return workspace_id, {table: len(content[table]) for table in _TABLES}


def _new_workspace_id(store: Any, name: str) -> str:
    base = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "imported"
    candidate = base
    while store.find_workspace(candidate):
        candidate = f"{base}-{new_id()[:4]}"
    return candidate


def _remap(data: Any, fresh: Any) -> str | None:
    """An event's JSON data with the ids it names (tasks, messages) mapped to the new ones."""
    if data is None:
        return None
    parsed = json.loads(data) if isinstance(data, str) else data
    if isinstance(parsed, dict):
        for key in ("task_id", "message_id", "result_message_id"):
            if parsed.get(key):
                parsed[key] = fresh(parsed[key])
    return json.dumps(parsed)


def thread_markdown(store: Any, thread_id: str) -> str:
    """One thread as Markdown: each message under its author, with its sources, and the cards between."""
    thread = store.get_thread(thread_id)
    lines = [f"# {thread.title}", "", f"*Exported from Roundtable {__version__} on {now()[:10]}.*", ""]
    for item in store.timeline(thread.id):
        if item["kind"] == "message":
            message = item["message"]
            status = "" if message.status == "complete" else f" ({message.status})"
            lines += [f"## {message.author}{status}", "", message.text.strip() or "*(no text)*", ""]
            for source in message.data.get("citations") or []:
                where = f", {source['location']}" if source.get("location") else ""
                lines.append(f"> [{source.get('number', '·')}] {source['source']}{where}")
            if message.data.get("citations"):
                lines.append("")
        elif item["kind"] == "handoff" and item.get("status") == "accepted":
            lines += [f"*Handoff {item['from']} → {item['to']}: {item.get('task', '')}*", ""]
        elif item["kind"] == "tool" and item.get("status") not in (None, "called"):
            lines += [f"*{item['author']} used {item['tool']}: {item['status']}*", ""]
    return "\n".join(lines).rstrip() + "\n"
