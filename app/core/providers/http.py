"""HTTP for remote copilots: JSON requests and server-sent event streams, with timeouts, bounded retries on
429, cancellation from another thread, and errors that say what to do. Plain `http.client`: the socket is
ours to close when the user presses Stop."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from app.core.errors import RoundtableError
from app.core.providers.base import CancelToken, Done, Error, Event

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0  # a stream silent this long has stalled
MAX_ATTEMPTS = 3  # on 429, and on 503 with Retry-After
MAX_RETRY_WAIT_S = 20.0
_ERROR_BODY_LIMIT = 2000


class RemoteError(RoundtableError):
    """A remote copilot's request failed; `kind` is the Error event's stable word."""

    exit_code = 8

    def __init__(self, message: str, kind: str = "network", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status


@dataclass
class Remote:
    """Where a remote copilot lives and how to talk to it.

    Attributes:
        base_url: the endpoint the user gave.
        headers: sent with every request (the key's Authorization header, built by core.secrets).
        key_name: the key's *name*, for error messages.
        read_timeout: seconds of silence after which a stream counts as stalled.
    """

    base_url: str
    headers: dict[str, str]
    key_name: str | None = None
    read_timeout: float = READ_TIMEOUT_S

    def url(self, path: str) -> str:
        """`path` relative to the base URL (an absolute URL is kept as it is)."""
        if not path:
            return self.base_url
        return urljoin(self.base_url.rstrip("/") + "/", path.lstrip("/")) if "://" not in path else path

    def get_json(self, path: str, timeout: float = CONNECT_TIMEOUT_S) -> Any:
        with self.open("GET", path, None, None, timeout=timeout) as response:
            return _parse_json(response.read(), self.url(path))

    def post_json(self, path: str, body: Any, cancel: CancelToken | None = None) -> Any:
        with self.open("POST", path, body, cancel) as response:
            return _parse_json(response.read(), self.url(path))

    def stream_lines(self, path: str, body: Any, cancel: CancelToken) -> Iterator[str]:
        """POST `body` and yield the response's lines as they arrive (without line endings)."""
        with self.open("POST", path, body, cancel, accept="text/event-stream") as response:
            while not cancel.cancelled:
                try:
                    line = response.readline()
                except TimeoutError as exc:
                    raise RemoteError(
                        f"{self.base_url} stopped sending for {self.read_timeout:.0f} s: the reply was cut off.",
                        "timeout",
                    ) from exc
                except (OSError, http.client.HTTPException) as exc:
                    if cancel.cancelled:
                        return
                    raise RemoteError(f"The connection to {self.base_url} broke mid-reply ({exc}).") from exc
                if not line:
                    return
                yield line.decode("utf-8", errors="replace").rstrip("\r\n")

    @contextmanager
    def open(
        self,
        method: str,
        path: str,
        body: Any,
        cancel: CancelToken | None,
        *,
        accept: str = "application/json",
        timeout: float | None = None,
    ) -> Iterator[http.client.HTTPResponse]:
        """Send the request (retrying 429 a bounded number of times) and yield a 2xx response."""
        url = self.url(path)
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": accept, **self.headers}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            connection = _connection(url, timeout or self.read_timeout)
            if cancel is not None:
                cancel.on_cancel(lambda c=connection: _abort(c))
            try:
                connection.connect()
                connection.sock.settimeout(timeout or self.read_timeout)
                parts = urlsplit(url)
                target = parts.path or "/"
                if parts.query:
                    target += "?" + parts.query
                connection.request(method, target, body=payload, headers=headers)
                response = connection.getresponse()
            except (ConnectionRefusedError, socket.gaierror) as exc:
                connection.close()
                raise RemoteError(
                    f"Cannot reach {self.base_url} ({exc.strerror or exc}): is the server running?"
                ) from exc
            except TimeoutError as exc:
                connection.close()
                raise RemoteError(f"{self.base_url} did not answer in time.", "timeout") from exc
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if cancel is not None and cancel.cancelled:
                    raise RemoteError("Stopped.", "cancelled") from exc
                raise RemoteError(f"The connection to {self.base_url} failed ({exc}).") from exc
            if response.status < 300:
                try:
                    yield response
                finally:
                    connection.close()
                return
            detail = response.read(_ERROR_BODY_LIMIT).decode("utf-8", errors="replace")
            connection.close()
            wait = _retry_after(response)
            if response.status in (429, 503) and wait is not None and attempt < MAX_ATTEMPTS:
                if _sleep(min(wait, MAX_RETRY_WAIT_S), cancel):
                    raise RemoteError("Stopped.", "cancelled")
                continue
            raise self._explain(response.status, detail, url)
        raise AssertionError("unreachable: the loop returns or raises")

    def _explain(self, status: int, detail: str, url: str) -> RemoteError:
        said = _server_message(detail)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token:  # some servers quote the key they refused: never let it into a message
            said = said.replace(token, "***")
        if status in (401, 403):
            key = (
                f"the key '{self.key_name}'"
                if self.key_name
                else "no key (this copilot has none: add one with --api-key-name)"
            )
            fix = f"`roundtable keys set {self.key_name}`" if self.key_name else "`roundtable copilots edit`"
            return RemoteError(
                f"{self.base_url} refused {key} (HTTP {status}{said}): check it with {fix}.", "auth", status
            )
        if status == 404:
            return RemoteError(
                f"{url} was not found (HTTP 404{said}): check the URL and the model name.", "not_found", status
            )
        if status == 429:
            return RemoteError(
                f"{self.base_url} is rate-limiting requests (HTTP 429{said}): try again later.", "rate_limit", status
            )
        if status >= 500:
            return RemoteError(
                f"{self.base_url} had an internal error (HTTP {status}{said}): try again later.", "server", status
            )
        return RemoteError(f"{self.base_url} rejected the request (HTTP {status}{said}).", "rejected", status)


def guarded(events: Iterator[Event], cancel: CancelToken) -> Iterator[Event]:
    """A remote reply's events: a RemoteError ends them with its Error event, and Stop with Done("cancelled").

    `events` yields its own last Done or Error only when it ran to the end without being stopped.
    """
    try:
        yield from events
    except RemoteError as exc:
        if not cancel.cancelled:
            yield Error(exc.message, exc.kind)
            return
    if cancel.cancelled:
        yield Done("cancelled")


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Server-sent events as (event name, data); the name is "message" when the server gives none."""
    name, data = "", []
    for line in lines:
        if not line:
            if data:
                yield name or "message", "\n".join(data)
            name, data = "", []
        elif line.startswith(":"):
            continue  # a comment / keep-alive
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    if data:  # a stream that ends without the blank line still delivered its last event
        yield name or "message", "\n".join(data)


def parse_event_json(data: str, where: str) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise RemoteError(f"{where} sent an event that is not valid JSON ({data[:80]!r}).", "protocol") from exc


def _parse_json(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RemoteError(f"{url} did not answer with JSON ({raw[:80]!r}).", "protocol") from exc


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"'{url}' is not an http(s) URL.", "rejected")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return kind(parts.hostname, parts.port, timeout=min(CONNECT_TIMEOUT_S, timeout))


def _abort(connection: http.client.HTTPConnection) -> None:
    """Break a request off from another thread: the reader's next read ends at once."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _retry_after(response: http.client.HTTPResponse) -> float | None:
    value = response.getheader("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None


def _sleep(seconds: float, cancel: CancelToken | None) -> bool:
    """Wait, waking early on cancel; True when cancelled."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cancel is not None and cancel.cancelled:
            return True
        time.sleep(min(0.05, deadline - time.monotonic()))
    return bool(cancel and cancel.cancelled)


def _server_message(detail: str) -> str:
    """The server's own error text, briefly, for the message."""
    text = detail.strip()
    try:
        parsed = json.loads(text)
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
        text = error.get("message", "") if isinstance(error, dict) else str(error)
    except (json.JSONDecodeError, AttributeError):
        pass
    text = " ".join(str(text).split())[:160]
    return f": {text}" if text else ""
