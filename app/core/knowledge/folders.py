"""Linked folders: a workspace follows a folder, and its documents follow the files in it.

A scan compares each file's size and modification time with what was stored when it was read, and hashes only
the files where they differ (then the content hash decides, as in `docs add`); a file that could not be indexed is
remembered the same way, and tried again only once it changed. Documents whose file is gone are
removed, with their passages, FTS rows and vectors; a folder that cannot be read keeps its documents and records
why. `FolderWatcher` scans every few seconds in a thread until stopped.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import RoundtableError, UsageError
from app.core.knowledge.index import Progress, add_file, failure_reason
from app.core.knowledge.readers import KINDS, MARKDOWN_SUFFIXES, TABLE_SUFFIXES, TEXT_SUFFIXES, DocumentError
from app.core.providers.base import CancelToken

if TYPE_CHECKING:  # types only: importing the store here would load it with this module
    from app.core.store import Store
    from app.core.store.folders import Skipped
    from app.core.store.knowledge import Document

MAX_FOLDER_FILES = 5000  # documents read from one linked folder; the rest are reported, not read
POLL_S = 3.0  # how often `FolderWatcher` looks at the folders
DOCUMENT_SUFFIXES = frozenset(TEXT_SUFFIXES | MARKDOWN_SUFFIXES | TABLE_SUFFIXES | set(KINDS))

# One scan at a time in this process: the window's start-up sync and its watcher must not read the same new file
# into two documents' worth of work.
_SYNC_LOCK = threading.Lock()
_log = logging.getLogger(__name__)


@dataclass
class FolderReport:
    """What one scan of a linked folder did; paths are absolute.

    Attributes:
        skipped: files left out, each with the reason (unreadable, too large, a link out of the folder, ...).
        error: why the folder itself could not be read (its documents were kept); None when it could.
    """

    workspace_id: str
    folder: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the workspace's documents changed."""
        return bool(self.added or self.updated or self.removed)


@dataclass
class SyncReport:
    """What a scan of several linked folders did, one `FolderReport` each."""

    folders: list[FolderReport] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(f.changed for f in self.folders)

    def changed_workspaces(self) -> list[str]:
        """The workspaces whose documents changed (their new passages want embedding)."""
        return sorted({f.workspace_id for f in self.folders if f.changed})

    def count(self, outcome: str) -> int:
        """How many files had `outcome` ("added", "updated", "removed", "unchanged", "skipped") in all folders."""
        return sum(len(getattr(f, outcome)) for f in self.folders)

    def summary(self) -> str:
        """One line: the counts that are not zero, and the folders that could not be read."""
        parts = [f"{n} {k}" for k in ("added", "updated", "removed", "skipped") if (n := self.count(k))]
        parts += [f"{Path(f.folder).name}: {f.error}" for f in self.folders if f.error]
        return ", ".join(parts) or "nothing changed"


def link_folder(store: Store, workspace_id: str, path: Path) -> str:
    """Link a folder to the workspace; returns its absolute path. Raises UsageError for what is no folder, a folder
    already linked, or one inside (or holding) a linked folder: its files would be two documents each."""
    folder = path.expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"{path} is not a folder: link a folder of documents (or `roundtable docs add` a file).")
    for linked in store.linked_folders(workspace_id):
        other = Path(linked.path)
        if other == folder:
            raise UsageError(f"{folder} is linked already (`roundtable docs links` lists the linked folders).")
        if folder.is_relative_to(other) or other.is_relative_to(folder):
            raise UsageError(f"{folder} overlaps the linked folder {other}: unlink that one first.")
    store.link_folder(workspace_id, str(folder))
    return str(folder)


def unlink_folder(store: Store, workspace_id: str, path: Path, keep_documents: bool) -> tuple[str, int]:
    """Unlink a folder (given as linked, or by a path that resolves to it); returns its path and how many
    documents it had (removed, or kept as documents added by hand). Raises UsageError if it is not linked."""
    linked = {f.path for f in store.linked_folders(workspace_id)}
    for candidate in (str(path), str(path.expanduser().resolve())):
        if candidate in linked:
            return candidate, store.unlink_folder(workspace_id, candidate, keep_documents)
    raise UsageError(f"{path} is not a linked folder here (`roundtable docs links` lists them).")


def remove_by_hand(store: Store, document_id: str) -> Document:
    """Remove a document the user chose; returns it. One from a linked folder is refused with UsageError: the next
    scan would bring it back, so the file has to go, or the folder be unlinked."""
    document = store.get_document(document_id)
    if document is None:
        raise UsageError(f"No document '{document_id}' (see `roundtable docs ls`).")
    if document.folder is not None:
        raise UsageError(
            f"{document.name} comes from the linked folder {document.folder}: delete or move the file there, or"
            " unlink the folder (`roundtable docs unlink`)."
        )
    store.remove_document(document.id)
    return document


@dataclass
class Scan:
    """What is in a linked folder now.

    Attributes:
        files: the document files (hidden files and folders left out, links out of the folder not followed).
        skipped: files and folders left out, each with the reason.
        truncated: whether `MAX_FOLDER_FILES` cut `files` short.
        unreadable: folders that could not be listed (what they hold is unknown, not gone).
    """

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False
    unreadable: list[Path] = field(default_factory=list)

    def may_be_there(self, path: str) -> bool:
        """Whether a file not in `files` may still be there: cut off by the cap, or in a folder that could not be
        listed. Only a file that is surely gone takes its document with it."""
        if self.truncated and Path(path).is_file():
            return True
        return any(Path(path).is_relative_to(folder) for folder in self.unreadable)


def scan(folder: Path) -> Scan:
    """The document files in a folder now, and what was left out."""
    found = Scan()

    def unreadable(exc: OSError) -> None:
        found.unreadable.append(Path(exc.filename or folder))
        found.skipped.append((str(exc.filename or folder), failure_reason(exc)))

    for root, dirs, files in os.walk(folder, onerror=unreadable):  # followlinks=False: a link out is not walked
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in dirs:
            link = Path(root) / name
            if link.is_symlink() and not link.resolve().is_relative_to(folder):
                found.skipped.append((str(link), "a link to a folder outside the folder (not followed)"))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith(".") or path.suffix.lower() not in DOCUMENT_SUFFIXES:
                continue  # not a document: nothing to say about it on every scan
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(folder):
                    found.skipped.append((str(path), "a link to a file outside the folder (not followed)"))
                continue  # a link inside the folder: its target is read as itself
            if len(found.files) == MAX_FOLDER_FILES:
                found.skipped.append((str(folder), f"more than {MAX_FOLDER_FILES} documents: the rest are left out"))
                found.truncated = True
                return found
            found.files.append(path)
    return found


def sync_folder(
    store: Store,
    workspace_id: str,
    folder: str,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> FolderReport:
    """Bring the workspace's documents from `folder` up to date with its files."""
    report = FolderReport(workspace_id, folder)
    root = Path(folder)
    if not root.is_dir():
        report.error = "the folder is not there (moved, deleted or not mounted?); its documents are kept"
        store.note_scan(workspace_id, folder, report.error)
        return report
    known = store.folder_documents(workspace_id, folder)
    remembered = store.skipped_files(workspace_id, folder)
    failed: dict[str, Skipped] = {}
    found = scan(root)
    report.skipped = list(found.skipped)
    files = found.files
    seen: set[str] = set()
    for done, path in enumerate(files):
        if cancel is not None and cancel.cancelled:
            return report  # nothing removed and no scan recorded: the next one starts over
        seen.add(str(path))
        try:
            stat = path.stat()
        except OSError as exc:
            report.skipped.append((str(path), failure_reason(exc)))
            continue
        state = (stat.st_size, stat.st_mtime_ns)
        earlier, before = known.get(str(path)), remembered.get(str(path))
        if earlier is not None and (earlier.size_bytes, earlier.mtime_ns) == state:
            report.unchanged.append(str(path))  # same size and time -> not read at all
            continue
        if before is not None and before[:2] == state:  # it could not be indexed, and has not changed since
            failed[str(path)] = before
            report.skipped.append((str(path), before[2]))
            continue
        if progress is not None:
            progress(Progress(str(path), done, len(files)))
        try:
            outcome = add_file(store, workspace_id, path, folder)
        except (DocumentError, OSError) as exc:
            failed[str(path)] = (*state, failure_reason(exc))
            report.skipped.append((str(path), failure_reason(exc)))
            continue
        getattr(report, outcome).append(str(path))
    for stale, document in known.items():
        if stale not in seen and not found.may_be_there(stale):
            store.remove_document(document.id)
            report.removed.append(stale)
    store.note_scan(workspace_id, folder, None, failed)
    return report


def sync_linked_folders(
    store: Store,
    workspace_id: str | None,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> SyncReport:
    """Scan the linked folders of a workspace (None: of every workspace); cheap when nothing changed (a stat per
    file). The new passages are not embedded here: `embed_pending` does that, for `changed_workspaces()`."""
    report = SyncReport()
    with _SYNC_LOCK:
        for linked in store.linked_folders(workspace_id):
            if cancel is not None and cancel.cancelled:
                break
            report.folders.append(sync_folder(store, linked.workspace_id, linked.path, progress, cancel))
    return report


class FolderWatcher:
    """Scans every workspace's linked folders every `interval` seconds, until stopped, and passes on each scan
    that changed something (or whose folder errors changed).

    `run(emit, cancel)` is the loop itself, for a caller's own thread (the window runs it as an `Operation`, whose
    progress signal brings each report to the GUI thread); `start` and `stop` give it a thread of its own.
    """

    def __init__(self, store: Store, interval: float = POLL_S) -> None:
        self.store = store
        self.interval = interval
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None

    def run(self, emit: Callable[[SyncReport], None], cancel: CancelToken) -> None:
        """Scan until `cancel`, calling `emit(report)` for each scan worth telling."""
        wake = threading.Event()
        cancel.on_cancel(wake.set)
        errors: set[tuple[str, str]] = set()
        while not cancel.cancelled:
            try:
                report = sync_linked_folders(self.store, None, cancel=cancel)
            except RoundtableError as exc:  # a busy or damaged database now is no reason to stop watching
                _log.warning(f"Linked folders were not scanned: {exc}")
            else:
                now_errors = {(f.folder, f.error) for f in report.folders if f.error}
                if (report.changed or now_errors != errors) and not cancel.cancelled:
                    emit(report)
                errors = now_errors
            wake.wait(self.interval)

    def start(self, emit: Callable[[SyncReport], None]) -> None:
        """Watch in a thread of its own; `emit` is called there."""
        self._thread = threading.Thread(
            target=self.run, args=(emit, self._cancel), name="roundtable-folder-watcher", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, and wait for a scan in progress to end."""
        self._cancel.cancel()
        if self._thread is not None:
            self._thread.join()
