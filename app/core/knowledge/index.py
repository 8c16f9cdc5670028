"""Adding documents to a workspace: read, cut into overlapping passages, store with an FTS5 index.

A file whose content hash is unchanged is skipped; a changed one replaces its earlier version in one
transaction (a crash leaves the old version whole). Each file's failure is reported and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import UsageError
from app.core.knowledge.readers import DocumentError, Section, document_kind, read_sections
from app.core.providers.base import CancelToken
from app.core.store.knowledge import Chunk

if TYPE_CHECKING:  # a type only: importing the store here would load it with this module
    from app.core.store import Store

CHUNK_CHARS = 1200
OVERLAP_CHARS = 200
MAX_FILE_BYTES = 512 * 1024 * 1024
_HASH_BLOCK = 1024 * 1024


@dataclass
class AddReport:
    """What `add_paths` did with each file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Progress:
    """Reported while adding: the file at hand, and how many of how many are done."""

    path: str
    done: int
    total: int


def chunk_sections(
    sections: Iterable[Section], size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS
) -> Iterator[Chunk]:
    """(location, text) passages of about `size` characters, each repeating the end of the one before,
    cut at paragraph or sentence ends where there is one; streamed, so memory stays bounded.

    The text is walked with an offset, never re-sliced from a cut to its end: cutting a long section by slicing off
    its rest would copy the rest once per passage (quadratic in a section without line breaks).
    """
    carry, location = "", None
    for section in sections:
        if section.location != location and carry.strip():
            yield location, carry.strip()
            carry = ""
        location = section.location
        text = carry + section.text
        start = 0
        while len(text) - start > size:
            cut = _cut_point(text, start, size)
            passage = text[start:cut].strip()
            if passage:
                yield location, passage
            start = cut - overlap if cut - start > overlap else cut
        carry = text[start:]
    if carry.strip():
        yield location, carry.strip()


def _cut_point(text: str, start: int, size: int) -> int:
    """Where the passage that begins at `start` ends: after the last paragraph, sentence, line or word break in
    its second half, else at `size` characters."""
    for mark in ("\n\n", ". ", "\n", " "):
        cut = text.rfind(mark, start + size // 2, start + size)
        if cut > start:
            return cut + len(mark)
    return start + size


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files, with folders opened (hidden files and folders left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


def file_sha256(path: Path) -> str:
    import hashlib  # loads OpenSSL (3.5 MB): not at start-up, where the folder watcher may find nothing to read

    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def add_paths(
    store: Store,
    workspace_id: str,
    paths: Iterable[Path],
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> AddReport:
    """Add files and folders to the workspace's documents."""
    report = AddReport()
    files = expand(Path(p).expanduser() for p in paths)
    if not files:
        raise UsageError("Nothing to add: give files or folders with documents in them.")
    for done, path in enumerate(files):
        if cancel is not None and cancel.cancelled:
            break
        if progress is not None:
            progress(Progress(str(path), done, len(files)))
        try:
            outcome = add_file(store, workspace_id, path.resolve())
        except (DocumentError, OSError) as exc:
            report.failed.append((str(path), failure_reason(exc)))
            continue
        getattr(report, outcome).append(str(path))
    if progress is not None:
        progress(Progress("", len(files), len(files)))
    return report


def add_file(store: Store, workspace_id: str, path: Path, folder: str | None = None) -> str:
    """Index one file (absolute, resolved) unless its content hash is unchanged: "added", "updated" or "unchanged".

    `folder` is the linked folder it comes from (None: added by hand; a document that came from a folder keeps
    it). Raises DocumentError or OSError."""
    if not path.is_file():
        raise DocumentError(f"{path} is not there (moved or deleted?).")
    stat = path.stat()
    if stat.st_size > MAX_FILE_BYTES:
        raise DocumentError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB: split it first.")
    digest = file_sha256(path)
    earlier = store.document_by_path(workspace_id, str(path))
    folder = folder or (earlier.folder if earlier is not None else None)
    if earlier is not None and earlier.sha256 == digest:
        if (earlier.folder, earlier.mtime_ns) != (folder, stat.st_mtime_ns):
            store.note_unchanged(earlier.id, folder, stat.st_mtime_ns)  # so the next scan need not hash it
        return "unchanged"
    kind = document_kind(path)
    chunks = chunk_sections(read_sections(path, kind))
    first = next(chunks, None)
    if first is None:
        raise DocumentError(f"{path.name} has no text to index (a scanned PDF needs OCR first).")
    chunks = _prepend(first, chunks)
    size = stat.st_size
    store.save_document(workspace_id, str(path), path.name, kind, digest, size, chunks, folder, stat.st_mtime_ns)
    return "added" if earlier is None else "updated"


def failure_reason(exc: DocumentError | OSError) -> str:
    """Why a file could not be indexed, on one line, whatever a parser said."""
    reason = str(exc) if isinstance(exc, DocumentError) else f"cannot be read ({exc.strerror or exc})"
    return " ".join(reason.split())


def _prepend(first: Chunk, rest: Iterator[Chunk]) -> Iterator[Chunk]:
    yield first
    yield from rest
