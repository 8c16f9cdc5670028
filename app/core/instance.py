"""One Roundtable per user and data folder: a later launch hands its command to the running one.

The running desktop app listens on a local socket (a QLocalServer, in `app/ui/single_instance.py`); this is
the other end, in plain Python, so that `roundtable overlay` (which users bind to a key on Wayland) answers
without loading Qt. A command is one line of text; the answer is one line back.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from app.core.settings import Paths

# What a running instance understands. `status` answers with a JSON object; the others with "ok".
COMMANDS = ("show", "overlay", "status", "quit")
_REPLY_LIMIT = 64 * 1024


def instance_address(paths: Paths) -> str:
    """Where the instance for these folders listens: a socket path on POSIX, a pipe name on Windows."""
    digest = hashlib.sha256(str(paths.data_dir.resolve()).encode()).hexdigest()[:12]
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    name = f"roundtable-{user}-{digest}"
    if os.name == "nt":
        return name
    # short and fixed: a socket path may not exceed about 100 bytes, and tests' data folders are long
    return str(Path(tempfile.gettempdir()) / f"{name}.sock")


def send_command(paths: Paths, command: str, timeout: float = 5.0) -> str | None:
    """Send `command` to the running instance; its answer, or None when no instance is running."""
    address = instance_address(paths)
    try:
        if os.name == "nt":
            return _send_pipe(address, command)
        return _send_socket(address, command, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return None  # nobody listens there (a crashed instance may leave its socket file behind)


def _send_socket(address: str, command: str, timeout: float) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(address)
        connection.sendall(command.encode() + b"\n")
        return _read_reply(lambda: connection.recv(4096))


def _send_pipe(name: str, command: str) -> str:
    with open(rf"\\.\pipe\{name}", "r+b", buffering=0) as pipe:
        pipe.write(command.encode() + b"\n")
        return _read_reply(lambda: pipe.read(1))


def _read_reply(read: Callable[[], bytes]) -> str:
    """The one-line answer, read until its newline, the end of the connection, or the size limit."""
    reply = b""
    while not reply.endswith(b"\n") and len(reply) < _REPLY_LIMIT:
        chunk = read()
        if not chunk:
            break
        reply += chunk
    return reply.decode(errors="replace").strip()
