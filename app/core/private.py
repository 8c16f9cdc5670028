"""Keeping what Roundtable writes private to the user: its folders 0700, its files 0600.

Every mode Roundtable gives its own files and folders is named here, and only here. Folders and files an older
version made with the umask (often 0755/0644, readable by every local user) are tightened on start: group and
other bits are cleared, the owner's bits are left as they are (a read-only database stays read-only).
On Windows the modes mean nothing (the user's profile folder is already private), so these are no-ops there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE_MODE = 0o600  # the database, its -wal and -shm, settings.toml
PRIVATE_DIR_MODE = 0o700  # the data, config and cache folders, the instance socket's folder
_GROUP_AND_OTHERS = 0o077
_POSIX = os.name != "nt"


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) with its last part private; tighten it when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        pass
    tighten(path)


def create_private_file(path: Path) -> None:
    """Make sure `path` exists and is private, before anything else (SQLite, say) creates it with the umask.

    An existing file is only tightened, never opened for writing (a read-only one stays untouched).
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass
    tighten(path)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """A file descriptor for writing `path`, created private (a new settings file is never readable by others)."""
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        _clear_others(descriptor)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def tighten(path: Path) -> None:
    """Clear the group and other bits of our own file or folder; anything else is left alone.

    A file that is not there, not ours, or on a read-only disk is not an error: the user may have their reasons,
    and opening the file will say what is wrong if it matters.
    """
    if not _POSIX:
        return
    try:
        info = os.stat(path)
        if info.st_uid == os.getuid() and info.st_mode & _GROUP_AND_OTHERS:
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~_GROUP_AND_OTHERS)
    except OSError:
        return


def is_private_dir(path: Path) -> bool:
    """Whether `path` itself (not a link to it) is a folder owned by this user that no one else can enter."""
    if not _POSIX:
        return path.is_dir()
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) & _GROUP_AND_OTHERS == 0
    )


def _clear_others(descriptor: int) -> None:
    if not _POSIX:
        return
    info = os.fstat(descriptor)
    if info.st_mode & _GROUP_AND_OTHERS:
        os.fchmod(descriptor, stat.S_IMODE(info.st_mode) & ~_GROUP_AND_OTHERS)
