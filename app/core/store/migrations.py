"""Ordered, named schema migrations, recorded in the database.

A migration is never edited after it has shipped; the next change is a new function at the end.
Each runs in one transaction with its record, and `PRAGMA user_version` holds how many have run, so a
database from a newer Roundtable is recognised (and refused) before anything is written to it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from app.core.store.shipped_crew import shipped_with_knowledge_off


class Database:
    """The little of sqlite_utils' `Database` the store uses, over a connection in autocommit mode
    (`isolation_level=None`): `execute`, `query` (rows as dicts) and `conn`. sqlite_utils itself imports numpy,
    click, dateutil and pluggy (~90 ms, ~30 MB), which the window would pay for at start-up."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # as sqlite_utils sets it: a row deleted by INSERT OR REPLACE fires its delete triggers (the FTS indexes)
        self.execute("PRAGMA recursive_triggers = on")

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters) if parameters is not None else self.conn.execute(sql)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """The rows of `sql` as dicts, keyed by column name (a repeated name gets `_2`, `_3`…, as sqlite_utils does)."""
        cursor = self.execute(sql, params)
        keys = _unique([d[0] for d in cursor.description or ()])
        return (dict(zip(keys, row, strict=True)) for row in cursor)


def _unique(keys: list[str]) -> list[str]:
    if len(set(keys)) == len(keys):
        return keys
    taken, seen, unique = set(keys), set(), []
    for key in keys:
        name, suffix = key, 2
        while name in seen or (name != key and name in taken):
            name, suffix = f"{key}_{suffix}", suffix + 1
        seen.add(name)
        unique.append(name)
    return unique


Migration = Callable[[Database], None]
MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append


@migration
def m001_workspaces_threads_events(db: Database) -> None:
    db.execute("CREATE TABLE workspaces (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE threads (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
        " title TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX threads_by_workspace ON threads (workspace_id, updated_at)")
    # The source of truth: everything that happens in a thread, appended, never updated.
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL,"
        " type TEXT NOT NULL, message_id TEXT, author TEXT, created_at TEXT NOT NULL, data TEXT)"
    )
    db.execute("CREATE INDEX events_by_thread ON events (thread_id, seq)")
    db.execute(
        "CREATE TRIGGER events_append_only BEFORE UPDATE ON events"
        " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    # A projection of the message events, written in the same transaction, for fast transcript reads.
    db.execute(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, author TEXT NOT NULL,"
        " role TEXT NOT NULL, status TEXT NOT NULL, text TEXT NOT NULL DEFAULT '',"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, writer_pid INTEGER,"
        " writer_started REAL, data TEXT)"
    )
    db.execute("CREATE INDEX messages_by_thread ON messages (thread_id, created_at)")


@migration
def m002_copilots_models(db: Database) -> None:
    db.execute(
        "CREATE TABLE copilots (id TEXT PRIMARY KEY, name TEXT NOT NULL, manifest TEXT NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE models (id TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, filename TEXT NOT NULL,"
        " size_bytes INTEGER NOT NULL, source TEXT NOT NULL, metadata TEXT, added_at TEXT NOT NULL)"
    )


def schema_version(db: Database) -> int:
    """How many migrations this database has had."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, upto: int | None = None) -> list[str]:
    """Run the migrations this database has not had yet (up to `upto`); returns their names.

    The connection must be in autocommit mode (isolation_level=None): each step is its own transaction.
    """
    applied: list[str] = []
    target = len(MIGRATIONS) if upto is None else upto
    for index in range(schema_version(db), target):
        step = MIGRATIONS[index]
        db.execute("BEGIN IMMEDIATE")
        if schema_version(db) > index:  # another process (the window and a CLI command at once) ran it first
            db.execute("COMMIT")
            continue
        try:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
            step(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [step.__name__, time.time()])
            db.execute(f"PRAGMA user_version = {index + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(step.__name__)
    return applied


@migration
def m003_rosters_tasks(db: Database) -> None:
    db.execute(
        "CREATE TABLE workspace_copilots (workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
        " copilot_id TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (workspace_id, copilot_id))"
    )
    # A projection of the task events in the thread log, for the task board.
    db.execute(
        "CREATE TABLE tasks (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, thread_id TEXT NOT NULL,"
        " from_copilot TEXT NOT NULL, to_copilot TEXT NOT NULL, task TEXT NOT NULL, context TEXT,"
        " status TEXT NOT NULL, result_message_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX tasks_by_workspace ON tasks (workspace_id, status, updated_at)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def m004_tool_servers(db: Database) -> None:
    # MCP servers the user registered (a command line), and which tools a workspace has allowed
    db.execute("CREATE TABLE tool_servers (name TEXT PRIMARY KEY, command TEXT NOT NULL, created_at TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE tool_approvals (workspace_id TEXT NOT NULL, tool TEXT NOT NULL, approved_at TEXT NOT NULL,"
        " PRIMARY KEY (workspace_id, tool))"
    )


@migration
def m005_documents_search(db: Database) -> None:
    # Workspace documents, cut into overlapping chunks; FTS5 indexes over the chunks and the messages.
    db.execute(
        "CREATE TABLE documents (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, path TEXT NOT NULL,"
        " name TEXT NOT NULL, kind TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL,"
        " chunk_count INTEGER NOT NULL, added_at TEXT NOT NULL, UNIQUE (workspace_id, path))"
    )
    db.execute(
        "CREATE TABLE chunks (id INTEGER PRIMARY KEY, document_id TEXT NOT NULL, position INTEGER NOT NULL,"
        " location TEXT, text TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX chunks_by_document ON chunks (document_id, position)")
    for table, key in (("chunks", "id"), ("messages", "rowid")):
        db.execute(
            f"CREATE VIRTUAL TABLE {table}_fts USING fts5(text, content='{table}', content_rowid='{key}',"
            " tokenize='porter unicode61')"
        )
        db.execute(
            f"CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} BEGIN"
            f" INSERT INTO {table}_fts (rowid, text) VALUES (new.{key}, new.text); END"
        )
        db.execute(
            f"CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} BEGIN"
            f" INSERT INTO {table}_fts ({table}_fts, rowid, text) VALUES ('delete', old.{key}, old.text); END"
        )
        db.execute(
            f"CREATE TRIGGER {table}_fts_update AFTER UPDATE OF text ON {table} BEGIN"
            f" INSERT INTO {table}_fts ({table}_fts, rowid, text) VALUES ('delete', old.{key}, old.text);"
            f" INSERT INTO {table}_fts (rowid, text) VALUES (new.{key}, new.text); END"
        )
    db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")  # the messages already stored


@migration
def m006_tool_approvals_per_copilot(db: Database) -> None:
    # An approval is now the user's "always allow" for one copilot, tool and workspace, so revoking a copilot's
    # grant (or removing the copilot) can take its approvals with it. Older rows name no copilot and include
    # every `--yes` run, which was saved by accident: they are dropped, and each tool asks once more.
    db.execute("DROP TABLE tool_approvals")
    db.execute(
        "CREATE TABLE tool_approvals (workspace_id TEXT NOT NULL, copilot_id TEXT NOT NULL, tool TEXT NOT NULL,"
        " approved_at TEXT NOT NULL, PRIMARY KEY (workspace_id, copilot_id, tool))"
    )
    db.execute("CREATE INDEX tool_approvals_by_copilot ON tool_approvals (copilot_id, tool)")


@migration
def m007_copilot_review(db: Database) -> None:
    # Why a copilot waits for the user's review (e.g. it came in a workspace archive); NULL: the user's own.
    # Kept beside the manifest, never in it: an archive or a TOML file cannot say it was reviewed.
    db.execute("ALTER TABLE copilots ADD COLUMN review TEXT")


@migration
def m008_download_queue(db: Database) -> None:
    # The model download queue, shared by the window and the CLI (it was a JSON file only the window read).
    # `owner_pid`/`owner_started` name the process downloading a `running` entry, so a dead one is told apart.
    db.execute(
        "CREATE TABLE downloads (id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL, filename TEXT NOT NULL,"
        " size_bytes INTEGER NOT NULL, sha256 TEXT, state TEXT NOT NULL, done_bytes INTEGER NOT NULL DEFAULT 0,"
        " error TEXT, model_id TEXT, owner_pid INTEGER, owner_started REAL, created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL, UNIQUE (repo, filename))"
    )


@migration
def m009_chunk_vectors(db: Database) -> None:
    # Each passage's embedding (float32, little-endian: sqlite-vec's own vector format) and the model that made
    # it; a passage whose vector is missing or from another model is embedded (again) by `embed_pending`.
    db.execute(
        "CREATE TABLE chunk_vectors (chunk_id INTEGER PRIMARY KEY, workspace_id TEXT NOT NULL, model TEXT NOT NULL,"
        " vector BLOB NOT NULL)"
    )
    db.execute("CREATE INDEX chunk_vectors_by_workspace ON chunk_vectors (workspace_id, model)")
    # Per workspace: the model that made its vectors, and a version bumped on every change, so a process that
    # holds the vectors in memory (`VectorRecords.nearest_chunks`) sees another process's writes.
    db.execute(
        "CREATE TABLE vector_indexes (workspace_id TEXT PRIMARY KEY, model TEXT NOT NULL, dimensions INTEGER NOT NULL,"
        " version INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TRIGGER chunks_vector_delete AFTER DELETE ON chunks BEGIN"
        " DELETE FROM chunk_vectors WHERE chunk_id = old.id; END"
    )
    db.execute(
        "CREATE TRIGGER chunk_vectors_delete AFTER DELETE ON chunk_vectors BEGIN"
        " UPDATE vector_indexes SET version = version + 1 WHERE workspace_id = old.workspace_id; END"
    )


@migration
def m010_knowledge_auto(db: Database) -> None:
    # `knowledge` became true, false or "auto" (on by default). Manifests were stored in full, defaults included, so
    # a stored false may be the old default or a user's opt-out: only a starter copilot stored exactly as an earlier
    # Roundtable shipped it becomes auto; every other false (edited, added, imported) is kept as the user left it.
    shipped = shipped_with_knowledge_off()
    rows = db.execute("SELECT id, manifest FROM copilots WHERE json_valid(manifest)").fetchall()
    for copilot_id, text in rows:
        if json.loads(text) in shipped:
            db.execute(
                "UPDATE copilots SET manifest = json_set(manifest, '$.knowledge', 'auto') WHERE id = ?", [copilot_id]
            )


@migration
def m011_linked_folders(db: Database) -> None:
    # Folders a workspace follows: their documents are added, updated and removed as the files change. `last_error`
    # says why the last scan could not read the folder (NULL: it could); the documents stay until it can.
    # `skipped` (JSON: path -> [size, mtime_ns, reason]) holds the files that could not be indexed, so a scan reads
    # one again only when it changed (a scanned PDF is not parsed on every scan).
    db.execute(
        "CREATE TABLE linked_folders (workspace_id TEXT NOT NULL, path TEXT NOT NULL, added_at TEXT NOT NULL,"
        " last_scan_at TEXT, last_error TEXT, skipped TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (workspace_id, path))"
    )
    # The linked folder a document came from (NULL: added by hand), and its file's modification time when it was
    # read, so a scan hashes only files whose size or time changed.
    db.execute("ALTER TABLE documents ADD COLUMN folder TEXT")
    db.execute("ALTER TABLE documents ADD COLUMN mtime_ns INTEGER")
    db.execute("CREATE INDEX documents_by_folder ON documents (workspace_id, folder)")


@migration
def m012_remote_tool_servers(db: Database) -> None:
    # A tool server reached over Streamable HTTP: its URL, plain headers and the keychain key of its bearer
    # token, as JSON (the token itself stays in the keychain); `command` is '[]' for those.
    db.execute("ALTER TABLE tool_servers ADD COLUMN remote TEXT")


@migration
def m013_pinned_threads(db: Database) -> None:
    # A thread the user pinned stays at the top of the sidebar, above the date groups.
    db.execute("ALTER TABLE threads ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")


@migration
def m014_message_confidence(db: Database) -> None:
    # A reply's token confidence: one packed blob per reply (app/core/confidence.py), never a row per token; kept
    # beside `messages` so reading a thread's text never reads them. Its summary is in the reply's trace.
    db.execute("CREATE TABLE message_confidence (message_id TEXT PRIMARY KEY, data BLOB NOT NULL)")
    db.execute(
        "CREATE TRIGGER messages_confidence_delete AFTER DELETE ON messages BEGIN"
        " DELETE FROM message_confidence WHERE message_id = old.id; END"
    )


@migration
def m015_message_requests(db: Database) -> None:
    # The request a reply answered, packed (app/core/provenance.py: messages, sampling with its seed, tools,
    # passages): what `threads replay` asks again and a report shows. Its digest is in the reply's trace.
    db.execute("CREATE TABLE message_requests (message_id TEXT PRIMARY KEY, data BLOB NOT NULL)")
    db.execute(
        "CREATE TRIGGER messages_requests_delete AFTER DELETE ON messages BEGIN"
        " DELETE FROM message_requests WHERE message_id = old.id; END"
    )
