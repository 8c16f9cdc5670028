import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from app.core.errors import StoreError, UsageError
from app.core.store import STATUS_COMPLETE, STATUS_INTERRUPTED, STATUS_STREAMING, Store
from app.core.store.migrations import MIGRATIONS, migrate
from tests.conftest import file_digest


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "roundtable.db"


def test_new_database_records_every_migration_in_wal_mode(db_path: Path) -> None:
    store = Store(db_path)
    names = [row["name"] for row in store.conn.read("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [step.__name__ for step in MIGRATIONS]
    assert store.conn.read("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    store.close()


def test_older_database_migrates_on_open_and_keeps_its_data(db_path: Path) -> None:
    old = Database(sqlite3.connect(db_path, isolation_level=None))
    migrate(old, upto=1)  # as the first release left it
    old.execute("INSERT INTO workspaces VALUES ('default', 'Default', '2026-01-01')")
    old.execute("INSERT INTO threads VALUES ('t1', 'default', 'Old thread', '2026-01-01', '2026-01-01')")
    old.conn.close()

    store = Store(db_path)
    assert store.conn.read("PRAGMA user_version")[0]["user_version"] == len(MIGRATIONS)
    assert store.get_thread("t1").title == "Old thread"
    assert store.copilot_rows() == []  # the table added by the second migration exists
    store.close()


def test_newer_database_is_refused_untouched(db_path: Path) -> None:
    Store(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.execute("PRAGMA journal_mode = DELETE")
    raw.close()
    before = file_digest(db_path)
    with pytest.raises(StoreError, match="newer Roundtable"):
        Store(db_path)
    assert file_digest(db_path) == before


def test_damaged_database_is_refused_untouched(db_path: Path) -> None:
    db_path.write_bytes(b"this is not sqlite at all" * 100)
    before = file_digest(db_path)
    with pytest.raises(StoreError, match="damaged"):
        Store(db_path)
    assert file_digest(db_path) == before


def test_events_cannot_be_rewritten(db_path: Path) -> None:
    store = Store(db_path)
    store.create_thread("Hello")
    with pytest.raises(StoreError, match="append-only"), store.conn.transaction() as db:
        db.execute("UPDATE events SET type = 'forged'")
    store.close()


def test_streamed_message_is_projected_from_its_events(db_path: Path) -> None:
    store = Store(db_path)
    thread = store.create_thread("Bonds")
    store.add_message(thread.id, "user", "user", "What is a bond?")
    reply = store.start_message(thread.id, "generalist")
    store.append_text(reply, "A bond is ")
    store.append_text(reply, "a loan.")
    store.finish_message(reply, STATUS_COMPLETE, {"trace": {"completion_tokens": 4}})

    messages = store.messages(thread.id)
    assert [(m.author, m.text, m.status) for m in messages] == [
        ("user", "What is a bond?", STATUS_COMPLETE),
        ("generalist", "A bond is a loan.", STATUS_COMPLETE),
    ]
    texts = [e["data"]["text"] for e in store.events(thread.id) if e["type"] == "message.text"]
    assert "".join(texts[1:]) == "A bond is a loan."  # the log alone rebuilds the reply
    assert store.list_threads()[0].message_count == 2
    store.close()


def test_reply_of_a_dead_writer_is_marked_interrupted_on_open(db_path: Path) -> None:
    store = Store(db_path)
    thread = store.create_thread("Crash")
    reply = store.start_message(thread.id, "generalist")
    store.append_text(reply, "partial")
    with store.conn.transaction() as db:  # pretend the process that wrote it is gone
        db.execute("UPDATE messages SET writer_pid = 999999999 WHERE id = ?", [reply])
    store.close()

    reopened = Store(db_path)
    message = reopened.get_message(reply)
    assert (message.status, message.text) == (STATUS_INTERRUPTED, "partial")
    assert reopened.events(thread.id)[-1]["data"]["status"] == STATUS_INTERRUPTED
    reopened.close()


def test_live_writer_keeps_its_streaming_reply(db_path: Path) -> None:
    store = Store(db_path)
    thread = store.create_thread("Live")
    reply = store.start_message(thread.id, "generalist")
    second = Store(db_path)  # another window of the same live process
    assert second.get_message(reply).status == STATUS_STREAMING
    second.close()
    store.close()


def test_unknown_and_ambiguous_thread_ids(db_path: Path) -> None:
    store = Store(db_path)
    thread = store.create_thread("One")
    assert store.get_thread(thread.id[:5]).id == thread.id
    with pytest.raises(UsageError, match="threads ls"):
        store.get_thread("zzzz")
    store.close()


def test_a_new_database_opens_while_another_process_writes_to_it(db_path: Path) -> None:
    """Two processes opening a new database at once: the second waits for the first's write, not fails."""
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other (x)")
    other.execute("BEGIN IMMEDIATE")  # still in the rollback journal, as a new database is
    other.execute("INSERT INTO other VALUES (1)")
    finish = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    finish.start()
    try:
        store = Store(db_path)
    finally:
        finish.join()
        other.close()
    assert store.conn.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.read("SELECT x FROM other") == [{"x": 1}]
    store.close()
