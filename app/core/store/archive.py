"""Carrying a workspace to another machine: export to one zip file, import into a new workspace with new ids;
and one thread as Markdown. Archives hold key names, never keys (manifests never hold values); an imported copilot
gets neither key name nor tools, and waits for the user's review (app/core/crew/trust.py)."""

from __future__ import annotations

import base64
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import __version__
from app.core.crew.transcript import markdown
from app.core.crew.trust import imported_copilot, is_remote, read_copilots
from app.core.errors import UsageError
from app.core.store.archive_checks import (
    FORMAT,
    MAX_REPLIES_BYTES,
    MAX_REQUESTS_UNPACKED_BYTES,
    REPLY_KINDS,
    REPLY_TABLES,
    TABLES,
    VERSION,
    ArchiveError,
    read_archive,
    read_reply,
)
from app.core.store.records import new_id, now

if TYPE_CHECKING:  # the store imports nothing of this module; a type only
    from app.core.crew.copilots import Copilot
    from app.core.store import Store

__all__ = ["ArchiveError", "ImportReport", "export_workspace", "import_workspace", "read_archive", "thread_markdown"]


def export_workspace(store: Store, workspace_id: str, target: Path) -> dict[str, int]:
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
    # only valid manifests travel (a damaged row would make the archive refused on import)
    copilots = [c.model_dump() for c in read_copilots(store.copilot_rows()).copilots if c.id in roster or not roster]
    content = {
        "workspace": workspace,
        "roster": [copilot_id for copilot_id in roster if copilot_id in {c["id"] for c in copilots}],
        "copilots": copilots,
        "threads": threads,
        "messages": read(f"SELECT * FROM messages WHERE thread_id IN ({marks})", ids),
        "events": read(f"SELECT * FROM events WHERE thread_id IN ({marks}) ORDER BY seq", ids),
        "tasks": read(f"SELECT * FROM tasks WHERE thread_id IN ({marks})", ids),
        "documents": documents,
        "chunks": read(
            f"SELECT * FROM chunks WHERE document_id IN ({doc_marks}) ORDER BY id", [d["id"] for d in documents]
        ),
    }
    replies = _replies(store, f"SELECT id FROM messages WHERE thread_id IN ({marks})", ids)
    manifest = {"format": FORMAT, "version": VERSION, "roundtable": __version__, "exported_at": now()}
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        archive.writestr("workspace.json", json.dumps(content))
        archive.writestr("replies.json", json.dumps(replies))
    partial.replace(target)
    return {**{table: len(content[table]) for table in TABLES}, **{kind: len(replies[kind]) for kind in REPLY_KINDS}}


def _replies(store: Store, messages: str, ids: list[str]) -> dict[str, dict[str, str]]:
    """The replies' kept requests and confidence, base64, by message id: as many as fit replies.json's limits
    (newest first; an older reply left out still shows, without them). A record that would not read back is left
    out too: an import refuses an archive holding one."""
    room = MAX_REPLIES_BYTES - 1024
    unpacked = [MAX_REQUESTS_UNPACKED_BYTES]
    replies: dict[str, dict[str, str]] = {kind: {} for kind in REPLY_KINDS}
    for kind, table in REPLY_TABLES.items():
        rows = store.conn.read(
            f"SELECT r.message_id, r.data FROM {table} r JOIN messages m ON m.id = r.message_id"
            f" WHERE r.message_id IN ({messages}) ORDER BY m.created_at DESC, m.rowid DESC",
            ids,
        )
        for row in rows:
            text = base64.b64encode(row["data"]).decode("ascii")
            cost = len(text) + len(row["message_id"]) + 8  # with the JSON around it
            if cost > room:
                break
            try:
                read_reply(kind, row["data"], unpacked)
            except ValueError:
                continue
            room -= cost
            replies[kind][row["message_id"]] = text
    return replies


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        workspace: the new workspace's id.
        counts: rows imported per table.
        needs_review: copilots added from the archive, each stripped of keys, tools and approvals and marked
            *imported, needs review* (remote ones run only once the user confirms their endpoint).
        kept: copilots of the archive already here: the local one is used, the archive's is ignored.
    """

    workspace: str
    counts: dict[str, int]
    needs_review: list[dict[str, Any]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def import_workspace(store: Store, path: Path, name: str | None = None) -> ImportReport:
    """Import into a new workspace, every id new; copilots not yet here are added, untrusted. All or nothing."""
    content = read_archive(path)
    title = name or content.workspace.name or "Imported"
    if store.find_workspace(title):
        title = f"{title} (imported)"
    ids: dict[str, str] = {}

    def fresh(old: Any) -> Any:
        if old is None:
            return None
        return ids.setdefault(str(old), new_id())

    known = {row["id"] for row in store.copilot_rows()}
    review = f"imported from {path.name} on {now()[:10]}"
    counts = {table: len(getattr(content, table)) for table in TABLES}
    report = ImportReport("", {**counts, **{kind: len(getattr(content.replies, kind)) for kind in REPLY_KINDS}})
    copilots: list[Copilot] = []
    for index, data in enumerate(content.copilots):
        # the same parser as `roundtable copilots import`; keys, tools and approvals never come along
        copilot = imported_copilot(data, f"{path.name}, copilots.{index}")
        if copilot.id in known:
            report.kept.append(copilot.id)
        elif copilot.id not in {c.id for c in copilots}:
            copilots.append(copilot)
    available = known | {c.id for c in copilots}
    missing = [copilot_id for copilot_id in content.roster if copilot_id not in available]
    if missing:
        raise ArchiveError(
            f"{path.name} cannot be imported: its roster names copilots it does not hold ({', '.join(missing)}); "
            "nothing was imported."
        )
    with store.conn.transaction() as db:
        workspace_id = _new_workspace_id(store, title)
        db.execute("INSERT INTO workspaces (id, name, created_at) VALUES (?,?,?)", [workspace_id, title, now()])
        for copilot in copilots:
            db.execute(
                "INSERT INTO copilots (id, name, manifest, created_at, updated_at, review) VALUES (?,?,?,?,?,?)",
                [copilot.id, copilot.name, json.dumps(copilot.model_dump()), now(), now(), review],
            )
            # no approval survives for an id the archive chose (left over from a copilot deleted long ago)
            db.execute("DELETE FROM tool_approvals WHERE copilot_id = ?", [copilot.id])
            report.needs_review.append(
                {
                    "id": copilot.id,
                    "provider": copilot.provider,
                    "endpoint": copilot.endpoint,
                    "remote": is_remote(copilot),
                }
            )
        db.execute("DELETE FROM tool_approvals WHERE workspace_id = ?", [workspace_id])
        for position, copilot_id in enumerate(content.roster):
            db.execute("INSERT INTO workspace_copilots VALUES (?,?,?)", [workspace_id, copilot_id, position])
        for t in content.threads:
            db.execute(
                "INSERT INTO threads (id, workspace_id, title, created_at, updated_at) VALUES (?,?,?,?,?)",
                [fresh(t.id), workspace_id, t.title, t.created_at, t.updated_at],
            )
        for m in content.messages:
            status = "interrupted" if m.status == "streaming" else m.status  # nobody is writing it here
            db.execute(
                "INSERT INTO messages (id, thread_id, author, role, status, text, created_at, updated_at, data)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [fresh(m.id), fresh(m.thread_id), m.author, m.role, status, m.text, m.created_at, m.updated_at, m.data],
            )
        for e in content.events:
            db.execute(
                "INSERT INTO events (thread_id, type, message_id, author, created_at, data) VALUES (?,?,?,?,?,?)",
                [fresh(e.thread_id), e.type, fresh(e.message_id), e.author, e.created_at, _remap(e.data, fresh)],
            )
        for k in content.tasks:
            db.execute(
                "INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    fresh(k.id),
                    workspace_id,
                    fresh(k.thread_id),
                    k.from_copilot,
                    k.to_copilot,
                    k.task,
                    k.context,
                    k.status,
                    fresh(k.result_message_id),
                    k.created_at,
                    k.updated_at,
                ],
            )
        for d in content.documents:
            db.execute(
                "INSERT INTO documents (id, workspace_id, path, name, kind, sha256, size_bytes, chunk_count, added_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [fresh(d.id), workspace_id, d.path, d.name, d.kind, d.sha256, d.size_bytes, d.chunk_count, d.added_at],
            )
        for kind, table in REPLY_TABLES.items():
            for message_id in getattr(content.replies, kind):
                db.execute(
                    f"INSERT INTO {table} (message_id, data) VALUES (?, ?)",
                    [fresh(message_id), content.replies.blob(kind, message_id)],
                )
        for c in content.chunks:
            db.execute(
                "INSERT INTO chunks (document_id, position, location, text) VALUES (?,?,?,?)",
                [fresh(c.document_id), c.position, c.location, c.text],
            )
    report.workspace = workspace_id
    return report


def _new_workspace_id(store: Store, name: str) -> str:
    base = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "imported"
    candidate = base
    while store.find_workspace(candidate):
        candidate = f"{base}-{new_id()[:4]}"
    return candidate


def _remap(data: str | None, fresh: Any) -> str | None:
    """An event's JSON data with the ids it names (tasks, messages) mapped to the new ones."""
    if data is None:
        return None
    parsed = json.loads(data)  # checked to be a JSON object by read_archive
    if isinstance(parsed, dict):
        for key in ("task_id", "message_id", "result_message_id"):
            if parsed.get(key):
                parsed[key] = fresh(parsed[key])
    return json.dumps(parsed)


def thread_markdown(store: Any, thread_id: str) -> str:
    """One thread as Markdown: each message under its author, with its sources, and the cards between."""
    thread = store.get_thread(thread_id)
    header = [f"# {thread.title}", "", f"*Exported from Roundtable {__version__} on {now()[:10]}.*", ""]
    return markdown(store.timeline(thread.id), header)
