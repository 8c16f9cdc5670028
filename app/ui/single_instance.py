"""The running app's end of the single-instance socket: later launches send it one-line commands."""

from __future__ import annotations

from collections.abc import Callable

from app.core.instance import clear_address, instance_address, reply_line
from app.core.settings import Paths
from app.ui.qt import QLocalServer, QLocalSocket, QObject

_MAX_COMMAND = 256


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
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Start listening. Call only after `send_command` found no Roundtable answering: whatever is at the
        address (a crashed instance's socket, a stray file or folder, a program that is not Roundtable) lies in
        our private folder and is in the way, so it is removed first."""
        if self.address is None:
            return False
        clear_address(self.address)
        return self.server.listen(self.address)

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            connection = self.server.nextPendingConnection()
            connection.readyRead.connect(lambda c=connection: self._read(c))  # queued: runs on the GUI thread
            connection.disconnected.connect(connection.deleteLater)

    def _read(self, connection: QLocalSocket) -> None:
        if not connection.canReadLine():
            if connection.bytesAvailable() > _MAX_COMMAND:
                connection.abort()
            return
        command = bytes(connection.readLine().data()).decode(errors="replace").strip()
        try:
            reply = self.handle(command)
        except Exception as exc:  # a bad command must not take the app down
            reply = f"error: {type(exc).__name__}: {exc}"
        connection.write(reply_line(reply).encode() + b"\n")
        connection.flush()
        connection.disconnectFromServer()
