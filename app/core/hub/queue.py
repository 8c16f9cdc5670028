"""The model download queue, kept in the store: the window and `roundtable models downloads` see and steer the same one.

Each entry is one model file (all its parts) with a state. Whoever downloads an entry claims it (`running`, with
its pid and start time) and, every `POLL_S`, writes the bytes done and reads the state back: a pause or cancel
written by another process (the window's button, `roundtable models downloads pause ID`) stops the transfer at
its next block, and the verified partial file stays in the HF cache for the resume. A `running` entry whose
process is gone (a kill -9, a closed window) reads as `paused`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import RoundtableError, UsageError
from app.core.hub import client
from app.core.hub.catalog import RemoteModelFile, check_sha256
from app.core.hub.download import DownloadCancelled, Progress, ProgressCallback, RepoCache, exclusive
from app.core.providers.base import CancelToken
from app.core.store.database import Connection, writer_identity, writer_is_alive
from app.core.store.records import now

if TYPE_CHECKING:
    from app.core.context import AppContext

# stored on disk: never change or reuse values
QUEUED, RUNNING, PAUSED, FAILED, DONE = "queued", "running", "paused", "failed", "done"
STATES = (QUEUED, RUNNING, PAUSED, FAILED, DONE)
LEGACY_FILE = "downloads.json"  # the window's own queue before the store held it; imported once
GONE, TAKEN = "gone", "taken"  # what a downloader may find instead of its entry (never stored)
_BY_NAME = "SELECT * FROM downloads WHERE repo = ? AND filename = ?"
POLL_S = 0.5  # how often a downloader writes its progress and reads its state: one short transaction each


@dataclass
class DownloadEntry:
    """One model file in the queue (its first part names it; `size_bytes` counts every part)."""

    repo: str
    filename: str
    size_bytes: int
    sha256: str | None
    state: str = QUEUED
    error: str | None = None
    done_bytes: int = 0
    model_id: str | None = None
    id: int = 0
    owner_pid: int | None = None

    @property
    def fraction(self) -> float:
        return min(self.done_bytes / self.size_bytes, 1.0) if self.size_bytes else 1.0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DownloadEntry:
        """The entry a `downloads` row holds; a `running` row whose process is gone reads as paused."""
        state = row["state"]
        if state == RUNNING and not writer_is_alive(row["owner_pid"], row["owner_started"]):
            state = PAUSED
        return cls(
            repo=row["repo"],
            filename=row["filename"],
            size_bytes=row["size_bytes"],
            sha256=row["sha256"],
            state=state,
            error=row["error"],
            done_bytes=row["done_bytes"],
            model_id=row["model_id"],
            id=row["id"],
            owner_pid=row["owner_pid"] if state == RUNNING else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "fraction": self.fraction}


class DownloadQueue:
    """The `downloads` table: add, list, pause and cancel entries; `running` wraps one download."""

    def __init__(self, conn: Connection, data_dir: Path | None = None) -> None:
        self.conn = conn
        self.data_dir = data_dir  # where an older window kept downloads.json
        self._legacy_checked = False

    @classmethod
    def of(cls, ctx: AppContext) -> DownloadQueue:
        return cls(ctx.store.conn, ctx.paths.data_dir)

    def entries(self) -> list[DownloadEntry]:
        """Every entry, oldest first."""
        self._import_legacy()
        return [DownloadEntry.from_row(row) for row in self.conn.read("SELECT * FROM downloads ORDER BY id")]

    def get(self, entry_id: int) -> DownloadEntry:
        self._import_legacy()
        rows = self.conn.read("SELECT * FROM downloads WHERE id = ?", [entry_id])
        if not rows:
            raise UsageError(f"No download {entry_id}: run `roundtable models downloads` to see the queue.")
        return DownloadEntry.from_row(rows[0])

    def add(self, repo: str, filename: str, size_bytes: int, sha256: str | None) -> tuple[DownloadEntry, bool]:
        """Queue a file; returns its entry and whether it was queued now (False: it was in the queue already)."""
        with self.conn.transaction() as db:
            row = next(db.query(_BY_NAME, [repo, filename]), None)
            if row is not None and row["state"] != DONE:
                return DownloadEntry.from_row(row), False
            stamp = now()
            db.execute(
                "INSERT INTO downloads (repo, filename, size_bytes, sha256, state, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT (repo, filename) DO UPDATE SET state = excluded.state,"
                " size_bytes = excluded.size_bytes, sha256 = excluded.sha256, done_bytes = 0, error = NULL,"
                " model_id = NULL, updated_at = excluded.updated_at",
                [repo, filename, size_bytes, sha256, QUEUED, stamp, stamp],
            )
        entry = self.find(repo, filename)
        assert entry is not None  # written just above
        return entry, True

    def find(self, repo: str, filename: str) -> DownloadEntry | None:
        rows = self.conn.read(_BY_NAME, [repo, filename])
        return DownloadEntry.from_row(rows[0]) if rows else None

    def pause(self, entry_id: int) -> DownloadEntry:
        """Ask whoever downloads the entry to stop at its next block; the partial file stays for the resume."""
        entry = self.get(entry_id)
        if entry.state not in (QUEUED, RUNNING):
            raise UsageError(f"Download {entry_id} is {entry.state}: there is nothing to pause.")
        self._set(entry_id, PAUSED)
        return self.get(entry_id)

    def check_resumable(self, entry_id: int) -> DownloadEntry:
        """The entry, if it can be resumed here; otherwise a UsageError that says why."""
        entry = self.get(entry_id)
        if entry.state == RUNNING:
            raise UsageError(
                f"Download {entry_id} is running in another Roundtable process ({entry.owner_pid}): "
                f"pause it there, or with `roundtable models downloads pause {entry_id}`, first."
            )
        if entry.state == DONE:
            raise UsageError(f"Download {entry_id} is done: {entry.filename} is installed as '{entry.model_id}'.")
        return entry

    def cancel(self, entry_id: int) -> DownloadEntry:
        """Drop an entry from the queue and delete its partial file (a running downloader stops, then deletes it)."""
        entry = self.get(entry_id)
        with self.conn.transaction() as db:
            db.execute("DELETE FROM downloads WHERE id = ?", [entry_id])
        if entry.state != DONE and entry.sha256:
            discard_partials(entry.repo, [entry.sha256])
        return entry

    def claim(self, repo: str, model: RemoteModelFile) -> DownloadEntry:
        """Mark `model` as downloaded by this process (queuing it first if needed); refuses one another runs."""
        pid, started = writer_identity()
        with self.conn.transaction() as db:
            row = next(db.query(_BY_NAME, [repo, model.filename]), None)
            if row is not None and DownloadEntry.from_row(row).state == RUNNING:
                raise client.HubError(
                    f"{model.filename} is already being downloaded by Roundtable process {row['owner_pid']}: "
                    f"pause it with `roundtable models downloads pause {row['id']}` first, or wait for it."
                )
            stamp = now()
            db.execute(
                "INSERT INTO downloads (repo, filename, size_bytes, sha256, state, owner_pid, owner_started,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (repo, filename) DO UPDATE SET"
                " state = excluded.state, size_bytes = excluded.size_bytes, sha256 = excluded.sha256, error = NULL,"
                " owner_pid = excluded.owner_pid, owner_started = excluded.owner_started,"
                " updated_at = excluded.updated_at",
                [repo, model.filename, model.size_bytes, model.sha256, RUNNING, pid, started, stamp, stamp],
            )
        entry = self.find(repo, model.filename)
        assert entry is not None  # written just above
        return entry

    def report(self, entry_id: int, done_bytes: int) -> str:
        """Store a downloader's progress; returns the entry's state, `GONE` or `TAKEN` (another process claimed it)."""
        with self.conn.transaction() as db:
            db.execute(
                "UPDATE downloads SET done_bytes = ?, updated_at = ? WHERE id = ? AND state = ? AND owner_pid = ?",
                [done_bytes, now(), entry_id, RUNNING, os.getpid()],
            )
            row = next(db.query("SELECT state, owner_pid FROM downloads WHERE id = ?", [entry_id]), None)
        if row is None:
            return GONE
        return str(row["state"]) if row["owner_pid"] in (os.getpid(), None) else TAKEN

    def _set(self, entry_id: int, state: str, **fields: Any) -> None:
        columns = {"state": state, "updated_at": now(), **fields}
        if state != RUNNING:
            columns.update(owner_pid=None, owner_started=None)
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self.conn.transaction() as db:
            db.execute(f"UPDATE downloads SET {assignments} WHERE id = ?", [*columns.values(), entry_id])

    @contextlib.contextmanager
    def running(self, repo: str, model: RemoteModelFile, cancel: CancelToken | None = None) -> Iterator[_Run]:
        """Claim `model` for the block; its state follows the outcome (done, paused, failed) when the block ends.

        The block downloads with `run.cancel` and `run.progress(...)`, and sets `run.model_id` when installed.
        """
        run = _Run(self, self.claim(repo, model), model, cancel or CancelToken())
        try:
            yield run
        except DownloadCancelled as exc:
            raise run.stopped(exc) from exc
        except RoundtableError as exc:
            self._set(run.entry.id, FAILED, error=str(exc), done_bytes=run.done_bytes)
            raise
        except BaseException:  # a bug or a second Ctrl+C: the partial file is kept, so the entry can resume
            self._set(run.entry.id, PAUSED, done_bytes=run.done_bytes)
            raise
        self._set(run.entry.id, DONE, model_id=run.model_id, done_bytes=model.size_bytes)

    def _import_legacy(self) -> None:
        """Move an older window's downloads.json into the store, once (the file is renamed after)."""
        if self._legacy_checked or self.data_dir is None:
            return
        self._legacy_checked = True
        path = self.data_dir / LEGACY_FILE
        try:
            items = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            items = []  # unreadable: nothing in it can be resumed, and reading it again will not help
        old_states = {"queued": QUEUED, "downloading": QUEUED, "paused": PAUSED, "failed": FAILED}
        stamp = now()
        with self.conn.transaction() as db:
            for item in items if isinstance(items, list) else []:
                try:
                    sha256 = item.get("sha256")
                    if sha256 is not None:
                        check_sha256(str(item["repo"]), str(item["filename"]), sha256)
                    values = [str(item["repo"]), str(item["filename"]), int(item["size_bytes"]), sha256]
                except (KeyError, TypeError, ValueError, AttributeError, client.HubError):
                    continue  # a damaged entry: the rest still come across
                state = old_states.get(str(item.get("state")), QUEUED)  # "downloading" was cut off by a restart
                db.execute(
                    "INSERT OR IGNORE INTO downloads (repo, filename, size_bytes, sha256, state, error, created_at,"
                    " updated_at) VALUES (?,?,?,?,?,?,?,?)",
                    [*values, state, item.get("error") if state == FAILED else None, stamp, stamp],
                )
        with contextlib.suppress(OSError):  # another process may have moved it already
            path.replace(path.with_name(f"{LEGACY_FILE}.migrated"))


class _Run(CancelToken):
    """One claimed download: a cancel token that also stops when the store says so, and its progress.

    Attributes:
        entry: the claimed queue entry.
        model_id: set by the downloader once the model is installed.
        stopped_by: what the store said that stopped the transfer (a state, `GONE`, `TAKEN`), or None when this
            process's own cancel did.
    """

    def __init__(self, queue: DownloadQueue, entry: DownloadEntry, model: RemoteModelFile, outer: CancelToken):
        super().__init__()
        self.queue, self.entry, self.model = queue, entry, model
        self.model_id: str | None = None
        self.stopped_by: str | None = None
        self._parts_done: dict[str, int] = {}
        self._checked = time.monotonic()
        outer.on_cancel(self.cancel)

    @property
    def done_bytes(self) -> int:
        return sum(self._parts_done.values())

    @property
    def cancelled(self) -> bool:
        if super().cancelled:
            return True
        if time.monotonic() - self._checked < POLL_S:
            return False
        self._checked = time.monotonic()
        state = self.queue.report(self.entry.id, self.done_bytes)
        if state == RUNNING:
            return False
        self.stopped_by = state
        self.cancel()
        return True

    def progress(self, forward: ProgressCallback | None) -> ProgressCallback:
        """A progress callback that counts every part's bytes for the queue, then calls `forward`."""

        def report(progress: Progress) -> None:
            self._parts_done[progress.filename] = progress.done_bytes
            if forward is not None:
                forward(progress)

        return report

    def stopped(self, exc: DownloadCancelled) -> DownloadCancelled:
        """Record why the transfer stopped and say so; the partial file stays unless the entry was cancelled."""
        entry, done = self.entry, f"{self.done_bytes / max(self.model.size_bytes, 1):.0%}"
        resume = f"resume with `roundtable models downloads resume {entry.id}` or the window's Resume button"
        if self.stopped_by is None:
            self.queue._set(entry.id, PAUSED, done_bytes=self.done_bytes)
            return DownloadCancelled(f"Download {entry.id} ({entry.filename}) paused at {done}: {resume}.")
        if self.stopped_by == PAUSED:
            return DownloadCancelled(
                f"Download {entry.id} ({entry.filename}) was paused from elsewhere at {done}: {resume}."
            )
        if self.stopped_by == GONE:
            discard_partials(entry.repo, [p.sha256 for p in self.model.parts if p.sha256])
            return DownloadCancelled(f"Download {entry.id} ({entry.filename}) was cancelled; its partial file is gone.")
        return DownloadCancelled(f"Download {entry.id} ({entry.filename}) was taken over by another process.")


def discard_partials(repo: str, sha256s: list[str]) -> None:
    """Delete partial files nobody is writing (one under a held lock belongs to its writer, who deletes it)."""
    cache = RepoCache(repo)
    for sha256 in sha256s:
        with contextlib.suppress(client.HubError):
            with exclusive(cache, sha256):
                cache.partial(sha256).unlink(missing_ok=True)


def resume(
    ctx: AppContext, entry_id: int, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> str:
    """Continue a paused, failed or queued download in this process; returns the installed model's id."""
    from app.core.hub.installed import pull_model  # installed builds on this module

    entry = DownloadQueue.of(ctx).check_resumable(entry_id)
    return pull_model(ctx, entry.repo, filename=entry.filename, progress=progress, cancel=cancel)[0]
