"""A loopback HTTP server for the far side of remote copilots: each test scripts its routes.

A route is `(method, path) -> handler(request) -> Response`; a response can stream server-sent events,
stall, or break off mid-stream, as real servers do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Response:
    """`chunks` (str, or raw bytes) are written one by one with `delay` between them, then the connection closes
    (after `stall`). A `body` of bytes is sent as it is, as a JSON answer."""

    status: int = 200
    body: Any = None
    chunks: Iterable[str | bytes] = ()
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stall: float = 0.0


def sse(event: str | None, data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {text}\n\n"


Handler = Callable[[Request], Response]


class LoopbackServer:
    """Serves `routes` on 127.0.0.1 until closed; `requests` records what arrived, `connections` counts the
    connections it was sent on (HTTP/1.1 keep-alive: a JSON answer leaves its connection open)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self.connections = 0
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                owner.connections += 1

            def log_message(self, *_args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw
                request = Request(self.command, self.path, dict(self.headers), body)
                owner.requests.append(request)
                handler = owner.routes.get((self.command, self.path.split("?")[0]))
                response = handler(request) if handler else Response(404, {"error": {"message": "no such route"}})
                self._write(response)

            def _write(self, response: Response) -> None:
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                if response.body is not None or not response.chunks:
                    payload = response.body if isinstance(response.body, bytes) else b""
                    if response.body is not None and not isinstance(response.body, bytes):
                        payload = json.dumps(response.body).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in response.chunks:
                        self.wfile.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                        self.wfile.flush()
                        time.sleep(response.delay)
                    if response.stall:
                        time.sleep(response.stall)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.close_connection = True

            do_GET = do_POST = _serve  # noqa: N815 (http.server's names)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def add(handler: Handler) -> Handler:
            self.routes[(method, path)] = handler
            return handler

        return add

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
