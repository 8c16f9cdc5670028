"""One Roundtable per user and data folder: a later launch hands its command to the running one.

The running desktop app listens on a local socket (in `app/ui/single_instance.py`); this is
the other end, in plain Python, so that `roundtable overlay` (which users bind to a key on Wayland) answers
without loading Qt. A command is one line of text; the answer is one line back.
"""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from app.core.paths import Paths
from app.core.private import PRIVATE_DIR_MODE, is_private_dir

# What a running instance understands. `status` answers with a JSON object; the others with "ok".
COMMANDS = ("show", "overlay", "status", "quit")
_REPLY_LIMIT = 64 * 1024
_MAX_SOCKET_PATH = 100  # bytes: sun_path holds 104 (macOS) or 108 (Linux) with its terminating NUL
_RUNTIME_FOLDER = "roundtable"


def instance_address(paths: Paths) -> str | None:
    """Where the instance for these folders listens: a socket in a folder only this user can enter (POSIX), or a
    pipe name (Windows); None when no such folder can be had (then every launch runs on its own).

    The socket never lives straight in a shared folder such as /tmp: there another local user could bind the
    name first (and block Roundtable) or answer in its place (and be sent its commands).
    """
    data_dir = os.fsencode(paths.data_dir.resolve())
    # a name per data folder, not a secret (the folder is private): zlib's checksums need no OpenSSL (3.5 MB)
    digest = f"{zlib.crc32(data_dir):08x}{zlib.adler32(data_dir):08x}"
    if os.name == "nt":
        return f"roundtable-{os.environ.get('USERNAME', 'user')}-{digest}"
    for folder in _socket_folders(paths):
        address = folder / f"{digest}.sock"
        if len(os.fsencode(address)) <= _MAX_SOCKET_PATH and _claim_private_folder(folder):
            return str(address)
    return None


def _socket_folders(paths: Paths) -> list[Path]:
    """Where the socket may live, best first; client and server walk the same list, so they meet at one place."""
    folders = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and is_private_dir(Path(runtime)):
        folders.append(Path(runtime) / _RUNTIME_FOLDER)
    # the uid in the name keeps users apart; someone else squatting on it only moves us on to the data folder
    folders.append(Path(tempfile.gettempdir()) / f"{_RUNTIME_FOLDER}-{os.getuid()}")
    folders.append(paths.data_dir / "run")
    return folders


def _claim_private_folder(folder: Path) -> bool:
    """Make `folder` ours and private: create it 0700, or accept it only when it is our own real folder.

    A link, or a folder someone else owns, is refused. Our own folder with a loose mode (made with the umask, or
    by hand) is tightened, and whatever others left in it while it was open is removed.
    """
    try:
        folder.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        folder.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False  # a link, a file, or someone else's folder -> not ours to use
        if stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
            os.chmod(folder, PRIVATE_DIR_MODE)
            _remove_strangers(folder)
    except OSError:
        return False
    return is_private_dir(folder)


def _remove_strangers(folder: Path) -> None:
    """Remove what other users put in our folder while it was open to them (a socket that would answer for us)."""
    for entry in os.scandir(folder):
        if entry.stat(follow_symlinks=False).st_uid != os.getuid():
            _remove(Path(entry.path))


def clear_address(address: str) -> None:
    """Remove whatever is at the socket path, so that a new instance can listen there.

    Call only after `send_command` found no Roundtable answering: a socket left by a crashed instance, a file, a
    folder, or a socket of some other program of ours is in the way, and it lies in our private folder.
    """
    if os.name == "nt":
        return
    try:
        _remove(Path(address))
    except OSError:
        return  # listening then fails, and the caller says so


def _remove(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        import shutil

        shutil.rmtree(path)
    else:
        path.unlink()


def send_command(paths: Paths, command: str, timeout: float = 5.0) -> str | None:
    """Send `command` to the running instance; its answer, or None when no Roundtable answers.

    Nobody listening, a file that is not a socket, a listener that hangs, or one that answers something other
    than a line of text all mean "no Roundtable here": the caller then starts one, which takes the place over.
    """
    address = instance_address(paths)
    if address is None:
        return None
    try:
        if os.name == "nt":
            return _send_pipe(address, command)
        return _send_socket(address, command, timeout)
    except OSError:  # not there, refused, not a socket, timed out, reset: a crashed instance or something else
        return None


def _send_socket(address: str, command: str, timeout: float) -> str | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(address)
        connection.sendall(command.encode() + b"\n")
        return _read_reply(lambda: connection.recv(4096))


def _send_pipe(name: str, command: str) -> str | None:
    with open(rf"\\.\pipe\{name}", "r+b", buffering=0) as pipe:
        pipe.write(command.encode() + b"\n")
        return _read_reply(lambda: pipe.read(1))


def _read_reply(read: Callable[[], bytes]) -> str | None:
    """The one-line answer; None when what comes back is not one line of text within the size limit."""
    reply = bytearray()
    while not reply.endswith(b"\n"):
        chunk = read()
        if not chunk:
            return None  # closed before the end of the line
        reply += chunk
        if len(reply) > _REPLY_LIMIT:
            return None
    try:
        text = reply[:-1].decode()
    except UnicodeDecodeError:
        return None
    if reply_line(text) != text:
        return None  # several lines, or control characters: not what a Roundtable answers
    return text


def reply_line(text: str) -> str:
    """`text` as the one printable line the running instance answers with: every character that is not
    printable (line breaks and control characters included) becomes a space. The server sends this; the client
    takes anything else for "no Roundtable here" and would start another."""
    return "".join(c if c.isprintable() else " " for c in text)
