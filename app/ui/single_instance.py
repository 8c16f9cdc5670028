"""The running app's end of the single-instance socket: later launches send it one-line commands.

On Linux and macOS it is a plain Unix socket watched by a QSocketNotifier on the GUI thread: QtNetwork, which
QLocalServer would bring in, costs the running app about 6 MB for this one small job. Windows has no Unix
sockets in Python, so there the named pipe is QtNetwork's QLocalServer.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

from app.core.instance import clear_address, instance_address, reply_line
from app.core.paths import Paths
from app.ui.qt import QObject, QSocketNotifier, QTimer

_MAX_COMMAND = 256
_REPLY_TIMEOUT_S = 1.0  # a reply is one short line: a client that does not take it is dropped


class InstanceServer(QObject):
    """Listens where `app.core.instance.send_command` connects; answers each command with `handle(command)`.

    Attributes:
        address: the socket path (POSIX) or pipe name (Windows) it listens on; None when this user has no
            private folder to put a socket in (then it never listens).
    """

    def __init__(self, paths: Paths, handle: Callable[[str], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.address = instance_address(paths)
        self.handle = handle
        self._listener: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None
        self._open: dict[socket.socket, QSocketNotifier] = {}  # connections waiting for their command's line
        self._retired: list[QSocketNotifier] = []  # dropped connections' notifiers, let go of after their signal
        self._pipe: Any = None  # Windows: the QLocalServer

    def listen(self) -> bool:
        """Start listening. Call only after `send_command` found no Roundtable answering: whatever is at the
        address (a crashed instance's socket, a stray file or folder, a program that is not Roundtable) lies in
        our private folder and is in the way, so it is removed first."""
        if self.address is None:
            return False
        clear_address(self.address)
        if os.name == "nt":
            return self._listen_on_pipe(self.address)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.address)
            os.chmod(self.address, 0o600)  # the folder is private already; the socket says so too
            listener.listen(8)
            listener.setblocking(False)
        except OSError:
            listener.close()
            return False
        self._listener = listener
        self._notifier = QSocketNotifier(listener.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._accept)
        return True

    def close(self) -> None:
        """Stop listening and drop every open connection; the socket file goes with the listener."""
        for connection in list(self._open):
            self._drop(connection)
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            if self.address is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.address)
        if self._pipe is not None:
            self._pipe.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # BlockingIOError: none waiting any more
                return
            connection.setblocking(False)
            # no parent: owned here, let go of in `_drop` (a parent's deletion and a deleteLater would both free it)
            notifier = QSocketNotifier(connection.fileno(), QSocketNotifier.Type.Read)
            self._open[connection] = notifier
            buffer = bytearray()
            notifier.activated.connect(lambda *_, c=connection, b=buffer: self._read(c, b))

    def _read(self, connection: socket.socket, buffer: bytearray) -> None:
        try:
            chunk = connection.recv(_MAX_COMMAND + 1)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        buffer += chunk
        if b"\n" not in buffer:
            if not chunk or len(buffer) > _MAX_COMMAND:  # gone before the end of the line, or not a command
                self._drop(connection)
            return
        reply = self._answer(bytes(buffer.split(b"\n", 1)[0]))
        with contextlib.suppress(OSError):
            connection.settimeout(_REPLY_TIMEOUT_S)
            connection.sendall(reply)
        self._drop(connection)

    def _answer(self, line: bytes) -> bytes:
        command = line.decode(errors="replace").strip()
        try:
            reply = self.handle(command)
        except Exception as exc:  # a bad command must not take the app down
            reply = f"error: {type(exc).__name__}: {exc}"
        return reply_line(reply).encode() + b"\n"

    def _drop(self, connection: socket.socket) -> None:
        notifier = self._open.pop(connection, None)
        if notifier is not None:
            notifier.setEnabled(False)
            # it may be emitting right now (`_read`): freed from the event loop, once its signal has returned
            self._retired.append(notifier)
            QTimer.singleShot(0, self._retired.clear)
        connection.close()

    # -- Windows: a named pipe, through QtNetwork ---------------------------------------------------------------

    def _listen_on_pipe(self, name: str) -> bool:
        from app.ui.qt import QLocalServer

        self._pipe = QLocalServer(self)
        self._pipe.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._pipe.newConnection.connect(self._accept_pipe)
        return bool(self._pipe.listen(name))

    def _accept_pipe(self) -> None:
        while self._pipe.hasPendingConnections():
            connection = self._pipe.nextPendingConnection()
            connection.readyRead.connect(lambda c=connection: self._read_pipe(c))
            connection.disconnected.connect(connection.deleteLater)

    def _read_pipe(self, connection: Any) -> None:
        if not connection.canReadLine():
            if connection.bytesAvailable() > _MAX_COMMAND:
                connection.abort()
            return
        connection.write(self._answer(bytes(connection.readLine().data())))
        connection.flush()
        connection.disconnectFromServer()
