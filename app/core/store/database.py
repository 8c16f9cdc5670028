"""Opening the workspace database safely: damaged, read-only and newer databases are refused untouched."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from app.core.errors import StoreError
from app.core.private import create_private_file, tighten
from app.core.store.migrations import MIGRATIONS, Database, migrate, schema_version

_BUSY_TIMEOUT_S = 10
_OPEN_RETRY_S = 0.05
_SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite gives these the database file's mode when it creates them


def _explain(exc: sqlite3.Error, path: Path) -> StoreError:
    """Turn an SQLite error into a message that says what to do."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return StoreError(
            f"Cannot write to the database {path} (read-only): check its permissions, "
            "or set ROUNDTABLE_HOME to a writable folder."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"The database {path} is damaged ({text}): move it aside to start afresh, or restore a backup."
        )
    if _is_busy(exc):
        return StoreError(f"The database {path} is busy in another program ({text}); try again in a moment.")
    if "unable to open" in text:
        return StoreError(f"Cannot open the database {path} ({text}): check that its folder exists and is writable.")
    return StoreError(f"Database error in {path}: {text}")


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


class Connection:
    """One SQLite connection in WAL mode, shared by threads, with short explicit transactions.

    Attributes:
        path: the database file.
        db: the connection's `Database`; use it for reads, and for writes only inside `transaction()`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        _make_private(path)
        try:
            conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _explain(exc, path) from exc
        self.db = Database(conn)
        try:
            self._open_patiently()
        except sqlite3.Error as exc:
            conn.close()
            raise _explain(exc, path) from exc
        except StoreError:
            conn.close()
            raise

    def _open_patiently(self) -> None:
        """Check and migrate, waiting while another process holds the write lock.

        SQLite's busy timeout does not cover every step here: a statement that reads and then writes (switching a
        new database to WAL) is refused at once, without waiting, while another process writes (two processes
        opening a new database together). Every step is safe to repeat, so it is tried again until the timeout.
        """
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                self._check_and_migrate()
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(_OPEN_RETRY_S)

    def _check_and_migrate(self) -> None:
        # Read before any write: a damaged file raises here, a newer schema is refused untouched.
        version = schema_version(self.db)
        if version > len(MIGRATIONS):
            raise StoreError(
                f"The database {self.path} was written by a newer Roundtable (schema {version}, this one "
                f"knows {len(MIGRATIONS)}): upgrade Roundtable, or set ROUNDTABLE_HOME to use another folder."
            )
        if version < len(MIGRATIONS) and not os.access(self.path, os.W_OK):
            raise _explain(sqlite3.OperationalError("attempt to write a readonly database"), self.path)
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        migrate(self.db)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """A short write transaction; SQLite errors come out as StoreError."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _explain(exc, self.path) from exc
            try:
                yield self.db
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _explain(exc, self.path) from exc
            except BaseException:
                self._rollback()
                raise

    def read(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of a query as dicts."""
        with self._lock:
            try:
                return list(self.db.query(sql, params))
            except sqlite3.Error as exc:
                raise _explain(exc, self.path) from exc

    def read_tuples(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query as tuples: for bulk reads (a workspace's vectors), where a dict per row costs time."""
        with self._lock:
            try:
                return list(self.db.conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise _explain(exc, self.path) from exc

    def _rollback(self) -> None:
        if self.db.conn.in_transaction:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()


def _make_private(path: Path) -> None:
    """Create the database file private to the user, or tighten the one (and its -wal, -shm) an older version
    made with the umask; SQLite then creates its side files with the same private mode."""
    try:
        create_private_file(path)
    except OSError:
        return  # a missing or read-only folder: sqlite3.connect says so in words the user can act on
    for suffix in _SIDE_FILES:
        tighten(path.with_name(path.name + suffix))


def writer_identity() -> tuple[int, float]:
    """This process's pid and start time: together they tell a live writer from a dead one."""
    return os.getpid(), psutil.Process().create_time()


def writer_is_alive(pid: int | None, started: float | None) -> bool:
    """Whether the process that wrote a streaming message is still running."""
    if pid is None:
        return False
    try:
        return bool(abs(psutil.Process(pid).create_time() - (started or 0.0)) < 1.0)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
