"""Resumable, verified downloads into the Hugging Face cache (shared with every other HF tool).

Layout, as huggingface_hub writes it: `models--ORG--NAME/blobs/<sha256>`, `snapshots/<commit>/<file>` (a
relative link to the blob) and `refs/main`. A partial download lives at `blobs/<sha256>.incomplete` under a
stable name, so re-running after a kill -9 or a dropped connection continues where it stopped; a file that
fails its sha256 check is deleted.

A Hub listing is untrusted: file names, commit ids and checksums become paths here, so each is checked
before anything touches the disk, and every link is checked to land inside `snapshots/<commit>/`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

from app.core.errors import ExitCode
from app.core.hub import client
from app.core.hub.catalog import RemoteModelFile, RemotePart, check_commit, check_filename, check_sha256
from app.core.providers.base import CancelToken

CHUNK = 1 << 20  # the most a kill -9 or dropped connection may cost (a network read in flight is far less)
_RETRIES = 4
_DISK_MARGIN = 64 << 20
_LOCK_FILE_MODE = 0o664  # as huggingface_hub makes them: users sharing a cache can wait on each other's locks


class DownloadCancelled(client.HubError):
    """The user stopped the download; the partial file is kept for resuming."""

    exit_code = ExitCode.INTERRUPTED


class DiskError(client.HubError):
    """Writing the download failed on this machine (disk full, quota, permissions, I/O): not the network's fault."""


def disk_error(exc: OSError, path: Path) -> DiskError:
    """Say what went wrong writing `path` and what to do, by the OS's own reason."""
    code = exc.errno
    if code == errno.ENOSPC:
        what = "the disk is full"
        todo = "free some space, or set HF_HUB_CACHE to a folder on a larger disk"
    elif code == errno.EDQUOT:
        what = "the disk quota is used up"
        todo = "free some space within your quota, or set HF_HUB_CACHE to a folder on another disk"
    elif code in (errno.EACCES, errno.EPERM):
        what = "permission denied"
        todo = f"make {path.parent} writable for you, or set HF_HUB_CACHE to a folder you own"
    elif code == errno.EROFS:
        what = "the file system is read-only"
        todo = "set HF_HUB_CACHE to a writable folder"
    elif code == errno.EIO:
        what = "an input/output error (the disk may be failing)"
        todo = "check the disk, or set HF_HUB_CACHE to a folder on another disk"
    else:
        what = exc.strerror or type(exc).__name__
        todo = "fix that, or set HF_HUB_CACHE to a folder on another disk"
    prefix = "Disk full" if code in (errno.ENOSPC, errno.EDQUOT) else "Cannot write the download"
    return DiskError(
        f"{prefix}: {what} while writing {path}: {todo}; then run the command again to resume "
        "(what was verified so far is kept)."
    )


@contextlib.contextmanager
def _on_disk(path: Path) -> Iterator[None]:
    """Turn an OSError from a local file operation into a DiskError that names `path`."""
    try:
        yield
    except OSError as exc:
        raise disk_error(exc, path) from exc


@dataclass
class Progress:
    """Where a download stands, for progress bars."""

    filename: str
    done_bytes: int
    total_bytes: int
    speed_bps: float
    resumed_from: int = 0

    @property
    def eta_s(self) -> float | None:
        if self.speed_bps <= 0:
            return None
        return (self.total_bytes - self.done_bytes) / self.speed_bps

    @property
    def fraction(self) -> float:
        return self.done_bytes / self.total_bytes if self.total_bytes else 1.0


ProgressCallback = Callable[[Progress], None]


class RepoCache:
    """One repo's folder in the HF cache."""

    def __init__(self, repo_id: str, root: Path | None = None) -> None:
        self.repo_id = repo_id
        self.folder = (root or client.cache_dir()) / f"models--{repo_id.replace('/', '--')}"
        self.blobs = self.folder / "blobs"

    def blob(self, sha256: str) -> Path:
        return self.blobs / check_sha256(self.repo_id, "a file", sha256)

    def partial(self, sha256: str) -> Path:
        """Where a blob grows while it downloads (the name huggingface_hub uses too)."""
        return self.blobs / f"{check_sha256(self.repo_id, 'a file', sha256)}.incomplete"

    def lock(self, sha256: str) -> Path:
        """huggingface_hub's lock for a blob: `<cache>/.locks/<repo folder>/<sha256>.lock` (an LFS file's etag is
        its sha256), so holding it keeps `hf download` of the same file out, and it keeps us out."""
        return self.folder.parent / ".locks" / self.folder.name / f"{check_sha256(self.repo_id, 'a file', sha256)}.lock"

    def snapshot(self, commit: str, filename: str) -> Path:
        """Where `filename` of `commit` is linked; refuses names and commits that would land elsewhere."""
        root = self.folder / "snapshots" / check_commit(self.repo_id, commit)
        return root / check_filename(self.repo_id, filename)

    def link(self, commit: str, filename: str, sha256: str) -> Path:
        """Point snapshots/<commit>/<filename> at the blob, and refs/main at the commit."""
        target = self.snapshot(commit, filename)
        root = self.folder / "snapshots" / commit
        root.mkdir(parents=True, exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        # a folder on the way may already be a link (planted, or from another tool): follow it and check
        if not target.parent.resolve().is_relative_to(root.resolve()):
            raise client.HubError(
                f"{filename} of '{self.repo_id}' would be linked outside {root}: nothing was linked. "
                f"Delete {root} and run the command again."
            )
        relative = os.path.relpath(self.blob(sha256), target.parent)
        if target.is_symlink() or target.exists():
            target.unlink()
        try:
            target.symlink_to(relative)
        except OSError:  # no symlinks (Windows without developer mode): a copy, as huggingface_hub does
            shutil.copy2(self.blob(sha256), target)
        refs = self.folder / "refs" / "main"
        refs.parent.mkdir(parents=True, exist_ok=True)
        refs.write_text(commit)
        return target


def _sha256_of(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(8 * CHUNK):
            digest.update(block)
    return digest


@contextlib.contextmanager
def exclusive(cache: RepoCache, sha256: str) -> Iterator[None]:
    """Hold huggingface_hub's own lock on one blob, so `hf download` and we never write the same file at once.

    Refuses at once rather than waiting: a download that sits silently behind another program looks hung.
    """
    lock_path = cache.lock(sha256)
    with _on_disk(lock_path):
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(lock_path, mode=_LOCK_FILE_MODE)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise client.HubError(
            f"{sha256[:12]}… of '{cache.repo_id}' is being downloaded by another program (it holds {lock_path}): "
            "wait for it to finish, then run the command again."
        ) from None
    try:
        yield
    finally:
        lock.release()


def check_disk_space(folder: Path, needed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed + _DISK_MARGIN > free:
        raise client.HubError(
            f"Not enough disk space: the download needs {needed / 1e9:.2f} GB more but {folder} has "
            f"{free / 1e9:.2f} GB free. Free some space, or set HF_HUB_CACHE to a folder on a larger disk."
        )


class _Transfer:
    """Fetches one part into its .incomplete file, resuming and retrying.

    `offset` is the length of the file's verified prefix: every byte below it was written whole. Before each
    attempt the file is cut back to it, so a write that failed half-way (a full disk) leaves no stray bytes.
    """

    def __init__(
        self,
        cache: RepoCache,
        part: RemotePart,
        sha256: str,
        url: str,
        progress: ProgressCallback | None,
        cancel: CancelToken,
    ) -> None:
        self.cache, self.part, self.sha256, self.url = cache, part, sha256, url
        self.progress, self.cancel = progress, cancel
        self.partial = cache.partial(sha256)

    def run(self) -> Path:
        with _on_disk(self.partial):
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self.partial.touch(exist_ok=True)
            self.offset = self.resumed = self.partial.stat().st_size
        if self.offset > self.part.size_bytes:  # longer than the file: not ours to trust
            self.offset = self.resumed = 0
        self.started = time.monotonic()
        failures = 0
        while self.offset < self.part.size_bytes:
            before = self.offset
            try:
                self._fetch()
            except client.HubError:
                self._cut_back()
                raise
            except client.transient_errors() as exc:  # a dropped or stalled connection: resume from what arrived
                failures = 0 if self.offset > before else failures + 1
                if failures > _RETRIES:
                    self._cut_back()
                    raise client.HubError(
                        f"The connection kept dropping while downloading {self.part.filename} "
                        f"({self.offset / max(self.part.size_bytes, 1):.0%} done, {type(exc).__name__}): "
                        "run the command again to resume."
                    ) from exc
                time.sleep(min(0.2 * 2**failures, 2))
        with _on_disk(self.partial):
            self._cut_back()
            # the whole file as it lies on disk, not the bytes as they arrived: what is stored is what is checked
            digest = _sha256_of(self.partial).hexdigest()
            if digest != self.sha256:
                self.partial.unlink(missing_ok=True)
                raise client.HubError(
                    f"Checksum mismatch for {self.part.filename}: the downloaded bytes are not the file the Hub "
                    "lists, so they were deleted. Run the command again; if it repeats, the server sends bad data."
                )
            blob = self.cache.blob(self.sha256)
            self.partial.replace(blob)
        return blob

    def _cut_back(self) -> None:
        """Truncate the partial file to its verified prefix (best effort: an error here is reported already)."""
        with contextlib.suppress(OSError):
            os.truncate(self.partial, self.offset)

    def _fetch(self) -> None:
        from huggingface_hub.utils import hf_raise_for_status

        headers = {**client.auth_headers(), "Accept-Encoding": "identity"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        with client.http_client().stream(
            "GET", self.url, headers=headers, follow_redirects=True, timeout=client.timeout()
        ) as response:
            if response.status_code >= 400:
                response.read()
                with client.hub_errors(self.cache.repo_id):
                    hf_raise_for_status(response)
            if self.offset and response.status_code == 200:  # Range ignored: start over
                self.offset = 0
            with _on_disk(self.partial):
                fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                with _on_disk(self.partial):
                    os.ftruncate(fd, self.offset)  # stray bytes of a failed attempt go before new ones come
                    os.lseek(fd, self.offset, os.SEEK_SET)
                for block in response.iter_bytes():  # written as it arrives: a broken stream loses nothing
                    if self.cancel.cancelled:
                        raise DownloadCancelled(
                            f"Download of {self.part.filename} stopped at "
                            f"{self.offset / self.part.size_bytes:.0%}: run the command again to resume."
                        )
                    with _on_disk(self.partial):
                        _write_all(fd, block)  # in the OS's hands now: survives a kill -9 of this process
                    self.offset += len(block)
                    self._report()
            finally:
                os.close(fd)

    def _report(self) -> None:
        if self.progress:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            self.progress(
                Progress(
                    self.part.filename,
                    self.offset,
                    self.part.size_bytes,
                    (self.offset - self.resumed) / elapsed,
                    self.resumed,
                )
            )


def _write_all(fd: int, block: bytes) -> None:
    """os.write until every byte is out: a short write is not an error, but it is not done either."""
    view = memoryview(block)
    while view:
        view = view[os.write(fd, view) :]


def pull(
    repo_id: str,
    model: RemoteModelFile,
    commit: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Download every part of `model` (reusing what the cache already holds); returns the snapshot paths."""
    cancel = cancel or CancelToken()
    cache = RepoCache(repo_id)
    if any(part.sha256 is None for part in model.parts):
        raise client.HubError(
            f"The Hub lists no checksum for {model.filename}: it cannot be verified, so it is not downloaded."
        )
    check_commit(repo_id, commit)  # everything from the listing that becomes a path, before the disk is touched
    sha256 = {part.filename: check_sha256(repo_id, part.filename, part.sha256 or "") for part in model.parts}
    for part in model.parts:
        check_filename(repo_id, part.filename)
    missing = [p for p in model.parts if not cache.blob(sha256[p.filename]).is_file()]
    needed = sum(p.size_bytes - _partial_size(cache, sha256[p.filename]) for p in missing)
    if missing:
        client.require_online()
        check_disk_space(cache.blobs, needed)
    paths = []
    for part in model.parts:
        if part in missing:
            with exclusive(cache, sha256[part.filename]):
                if not cache.blob(sha256[part.filename]).is_file():
                    url = client.file_url(repo_id, part.filename, commit)
                    _Transfer(cache, part, sha256[part.filename], url, progress, cancel).run()
        elif progress:
            progress(Progress(part.filename, part.size_bytes, part.size_bytes, 0.0, part.size_bytes))
        with _on_disk(cache.folder):
            paths.append(cache.link(commit, part.filename, sha256[part.filename]))
    return paths


def _partial_size(cache: RepoCache, sha256: str) -> int:
    partial = cache.partial(sha256)
    return partial.stat().st_size if partial.exists() else 0
