"""Running the local API: the bearer token in the keychain, and uvicorn on a socket bound here first."""

from __future__ import annotations

import errno
import secrets
import socket
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from app.core.errors import UsageError
from app.core.secrets import ensure_key
from app.core.serve.app import create_app

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.store import Store

TOKEN_KEY = "roundtable-local-api"  # the keychain entry of the API's bearer token: stored on disk, never change
LOOPBACK = "127.0.0.1"
_SHUTDOWN_GRACE_S = 5  # open streams get this long after Stop; their runs are cancelled, then stored as such


def api_token(store: Store, *, new: bool = False) -> str:
    """The local API's bearer token, made (32 random bytes, URL-safe) and kept in the keychain on first use;
    `new` replaces it. Raises KeychainError when there is no usable keychain."""
    return ensure_key(store, TOKEN_KEY, lambda: secrets.token_urlsafe(32), replace=new)


class ApiServer:
    """The local API on `host`:`port` (0: any free port), bound when made; `serve()` blocks, `start()` runs it in
    a thread of its own until `stop()`.

    Attributes:
        host, port: where it listens (the real port, when 0 was asked for).
        url: its base URL, `/v1` included.
    """

    def __init__(self, ctx: AppContext, token: str, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self.socket = _bind(host, port)
        self.port = int(self.socket.getsockname()[1])
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/v1"
        config = uvicorn.Config(
            create_app(ctx, token),
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=_SHUTDOWN_GRACE_S,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        """Serve until Ctrl+C (uvicorn handles the signal in the main thread and shuts down gracefully)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start(self) -> None:
        """Serve in a background thread; returns once it accepts connections (UsageError if it could not start)."""
        self._thread = threading.Thread(target=self.serve, name="roundtable-local-api", daemon=True)
        self._thread.start()
        while not self.server.started:  # uvicorn says so with a flag only
            if not self._thread.is_alive():
                raise UsageError(f"The local API could not start on {self.host}:{self.port}: see Roundtable's log.")
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30) -> None:
        """Stop serving: open streams are cancelled after a grace period; returns when the thread has ended."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port`; UsageError in one line when the port is taken or the host unknown."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"Cannot listen on '{host}': {exc.strerror}; give an address such as 127.0.0.1.") from exc
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart right after a stop may reuse the port
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"Port {port} on {host} is in use (another program, or another `roundtable serve`): "
                "choose another with --port."
            ) from exc
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    sock.set_inheritable(True)
    return sock
