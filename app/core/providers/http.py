"""HTTP for remote copilots: JSON requests and server-sent event streams, with timeouts, bounded retries on
429, cancellation from another thread, and errors that say what to do. Plain `http.client`: the socket is
ours to close when the user presses Stop.

A remote server is untrusted input: every read is bounded (line, event and JSON body sizes), every reply runs
under a `ReplyGuard` (an overall deadline and a stall clock that only reply content resets), and nothing (the
conversation, the key's Authorization header) goes to an origin other than the one the user configured, unless
the user agreed (`trust_card_origins`): an agent card or agents.json may not send the thread to a host the user
never named."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from app.core.errors import RoundtableError
from app.core.providers.base import CancelToken

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0  # a stream with no reply content this long has stalled (keep-alives do not count)
REPLY_DEADLINE_S = 600.0  # a whole reply, when the settings give no `remote_reply_timeout_s`
MAX_ATTEMPTS = 3  # on 429, and on 503 with Retry-After
MAX_RETRY_WAIT_S = 20.0
MAX_LINE_BYTES = 1 << 20  # one SSE line; real servers send a few KiB at most
MAX_EVENT_BYTES = 8 << 20  # one SSE event's data lines together
MAX_JSON_BYTES = 8 << 20  # a whole JSON answer: an agent card, agents.json, a non-streamed reply
_READ_CHUNK = 64 * 1024  # what one socket read may return; lines are split from these pieces
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
        read_timeout: seconds without reply content after which a reply counts as stalled.
        deadline_s: seconds a whole reply may take.
        key_origin: the origin (scheme://host:port) the user configured: requests (and the key) go only there.
        trust_other_origins: the user agreed that requests (and the key) may go to other origins the server names.
        copilot_id: the copilot this serves, for the command that changes its settings.
    """

    base_url: str
    headers: dict[str, str]
    key_name: str | None = None
    read_timeout: float = READ_TIMEOUT_S
    deadline_s: float = REPLY_DEADLINE_S
    key_origin: str = ""
    trust_other_origins: bool = False
    copilot_id: str | None = None

    def __post_init__(self) -> None:
        self.key_origin = self.key_origin or origin(self.base_url)

    def url(self, path: str) -> str:
        """`path` relative to the base URL (an absolute URL is kept as it is)."""
        if not path:
            return self.base_url
        return urljoin(self.base_url.rstrip("/") + "/", path.lstrip("/")) if "://" not in path else path

    def at(self, url: str, extra_headers: dict[str, str] | None = None) -> Remote:
        """The same server's settings for a URL it named (an agent card's `url`); requests stay bound to the
        origin the user configured."""
        return replace(self, base_url=url, headers={**self.headers, **(extra_headers or {})})

    def secrets(self) -> list[str]:
        """The key values this remote sends, so that a reply quoting them can be masked."""
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return [token] if token else []

    def guard(self, max_chars: int | None = None, why: str = "") -> ReplyGuard:
        """The clocks and character budget of one reply from this server."""
        return ReplyGuard(self.base_url, self.read_timeout, self.deadline_s, max_chars, why)

    def get_json(self, path: str, timeout: float = CONNECT_TIMEOUT_S, guard: ReplyGuard | None = None) -> Any:
        guard = guard or ReplyGuard(self.base_url, timeout, self.deadline_s)
        with self.open("GET", path, None, None, timeout=timeout) as reading:
            return _parse_json(reading.json_bytes(guard, self.url(path)), self.url(path))

    def post_json(
        self, path: str, body: Any, cancel: CancelToken | None = None, guard: ReplyGuard | None = None
    ) -> Any:
        guard = guard or self.guard()
        with self.open("POST", path, body, cancel) as reading:
            return _parse_json(reading.json_bytes(guard, self.url(path)), self.url(path))

    def stream_lines(self, path: str, body: Any, cancel: CancelToken, guard: ReplyGuard | None = None) -> Iterator[str]:
        """POST `body` and yield the response's lines as they arrive (without line endings), each at most
        MAX_LINE_BYTES, under `guard`'s clocks."""
        guard = guard or self.guard()
        with self.open("POST", path, body, cancel, accept="text/event-stream") as reading:
            try:
                for line in _lines(reading.pieces(guard), self.base_url):
                    if cancel.cancelled:
                        return
                    guard.check()  # keep-alives arrive in time yet are no content: the stall clock runs on
                    yield line.decode("utf-8", errors="replace").rstrip("\r")
            except (OSError, http.client.HTTPException) as exc:
                if cancel.cancelled:
                    return
                raise RemoteError(f"The connection to {self.base_url} broke mid-reply ({exc}).") from exc

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
    ) -> Iterator[_Reading]:
        """Send the request (retrying 429 a bounded number of times) and yield a 2xx response to read."""
        url = self.url(path)
        self._check_origin(url)
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": accept, **self.headers}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            connection = _connection(url, timeout or self.read_timeout)
            try:
                connection.connect()
                # kept here: http.client lets go of `connection.sock` once a response will close the connection,
                # and Stop and the reply's clocks must still reach the socket then
                sock = connection.sock
                sock.settimeout(timeout or self.read_timeout)
                if cancel is not None:
                    cancel.on_cancel(lambda s=sock: _abort(s))
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
                    yield _Reading(response, sock)
                finally:
                    response.close()
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

    def _check_origin(self, url: str) -> None:
        """Requests go only to the origin the user configured, unless they agreed to more.

        With or without a key: the conversation itself is what a card's `url` (or agents.json's query endpoint)
        would hand to a host the user never named, and a copilot from an imported archive, which has no key, was
        confirmed for its endpoint's origin only."""
        elsewhere = origin(url)
        if elsewhere == self.key_origin or self.trust_other_origins:
            return
        copilot = self.copilot_id or "COPILOT"
        withheld = f"your messages and your key '{self.key_name}' are" if self.key_name else "your messages are"
        raise RemoteError(
            f"{self.key_origin} told Roundtable to send this conversation to another origin, {elsewhere}: "
            f"{withheld} not sent there. If you trust {elsewhere}, allow it with "
            f"`roundtable copilots edit {copilot} --trust-card-origins` (trust_card_origins = true), "
            f"or point the copilot at {elsewhere} itself.",
            "rejected",
        )

    def _explain(self, status: int, detail: str, url: str) -> RemoteError:
        from app.core.providers.bounds import mask  # bounds builds on this module: imported when needed

        said = mask(_server_message(detail), self.secrets())  # some servers quote the key they refused
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


class ReplyGuard:
    """One reply's bounds: an overall deadline, a stall clock that only reply content resets (a server
    sending keep-alive comments or empty events forever has stalled), and a budget of characters.

    Attributes:
        where: the server, for messages.
        stall_s: seconds without content after which the reply has stalled.
        deadline_s: seconds the whole reply may take.
        max_chars: characters of text the reply may hold; None = unbounded (the deadline still holds).
        why: what the character budget follows from, for the message (", 4x the 64 tokens asked for").
    """

    def __init__(
        self, where: str, stall_s: float, deadline_s: float, max_chars: int | None = None, why: str = ""
    ) -> None:
        self.where, self.stall_s, self.deadline_s = where, stall_s, deadline_s
        self.max_chars, self.why = max_chars, why
        self.started = self.last_content = time.monotonic()
        self.chars = 0

    def progressed(self) -> None:
        """Reply content arrived: the stall clock starts again."""
        self.last_content = time.monotonic()

    def spend(self, chars: int) -> None:
        """Count `chars` of reply text; RemoteError once the budget is spent."""
        self.chars += chars
        if self.max_chars is not None and self.chars > self.max_chars:
            raise RemoteError(
                f"{self.where} sent more than {self.max_chars:,} characters{self.why}: the reply was stopped "
                "(what arrived is kept); check that the server honours max_tokens.",
                "protocol",
            )

    def check(self) -> None:
        """RemoteError when the reply has run past its deadline or has stalled."""
        now = time.monotonic()
        if now - self.started >= self.deadline_s:
            raise RemoteError(
                f"{self.where} was still replying after {self.deadline_s:.0f} s, the limit for a remote reply: "
                "the reply was stopped (what arrived is kept); raise remote_reply_timeout_s in the settings "
                "for slow agents.",
                "timeout",
            )
        if now - self.last_content >= self.stall_s:
            raise self.stalled()

    def stalled(self) -> RemoteError:
        return RemoteError(
            f"{self.where} stopped sending reply content for {self.stall_s:.0f} s (silence or keep-alives only): "
            "the reply was cut off; try again later.",
            "timeout",
        )

    def wait_s(self) -> float:
        """How long the next socket read may wait before one of the clocks runs out."""
        now = time.monotonic()
        return max(0.01, min(self.started + self.deadline_s, self.last_content + self.stall_s) - now)


@dataclass
class _Reading:
    """A 2xx response and its socket, read in pieces whose waits the reply's clocks bound."""

    response: http.client.HTTPResponse
    sock: socket.socket | None

    def pieces(self, guard: ReplyGuard) -> Iterator[bytes]:
        """The body as it arrives, at most _READ_CHUNK bytes a piece; RemoteError when a clock runs out."""
        while True:
            guard.check()
            if self.sock is not None:
                self.sock.settimeout(guard.wait_s())
            try:
                piece = self.response.read1(_READ_CHUNK)
            except TimeoutError as exc:
                guard.check()
                raise guard.stalled() from exc
            if not piece:
                return
            yield piece

    def json_bytes(self, guard: ReplyGuard, url: str) -> bytes:
        """The whole body, refused past MAX_JSON_BYTES (before reading it when the server says its length)."""
        too_big = RemoteError(
            f"{url} answered with more than {MAX_JSON_BYTES >> 20} MiB of JSON: refused (is this the right URL?).",
            "protocol",
        )
        length = self.response.getheader("Content-Length") or ""
        if length.strip().isdigit() and int(length) > MAX_JSON_BYTES:
            raise too_big
        body = bytearray()
        try:
            for piece in self.pieces(guard):
                guard.progressed()  # a JSON body has no keep-alives: bytes are progress, the deadline holds
                body += piece
                if len(body) > MAX_JSON_BYTES:
                    raise too_big
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(f"The connection to {url} broke mid-answer ({exc}).") from exc
        return bytes(body)


def _lines(pieces: Iterator[bytes], where: str) -> Iterator[bytes]:
    """Lines split from the pieces, never holding more than one MAX_LINE_BYTES line (and a piece) in memory."""
    pending = bytearray()
    for piece in pieces:
        pending += piece
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            if end - start > MAX_LINE_BYTES:
                break
            yield bytes(pending[start:end])
            start = end + 1
        del pending[:start]
        if len(pending) > MAX_LINE_BYTES and pending.find(b"\n", 0, MAX_LINE_BYTES + 1) < 0:
            raise RemoteError(
                f"{where} sent a stream line over {MAX_LINE_BYTES >> 20} MiB: the reply was stopped (what arrived "
                "is kept); the server is misbehaving, check the endpoint.",
                "protocol",
            )
    if pending:
        yield bytes(pending)


def sse_events(lines: Iterator[str], where: str = "The server") -> Iterator[tuple[str, str]]:
    """Server-sent events as (event name, data); the name is "message" when the server gives none.
    One event's data may hold at most MAX_EVENT_BYTES (characters, as decoded)."""
    name, data, size = "", [], 0
    for line in lines:
        if not line:
            if data:
                yield name or "message", "\n".join(data)
            name, data, size = "", [], 0
        elif line.startswith(":"):
            continue  # a comment / keep-alive
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                size += len(value) + 1
                if size > MAX_EVENT_BYTES:
                    raise RemoteError(
                        f"{where} sent one event over {MAX_EVENT_BYTES >> 20} MiB: the reply was stopped (what "
                        "arrived is kept); the server is misbehaving, check the endpoint.",
                        "protocol",
                    )
                data.append(value)
    if data:  # a stream that ends without the blank line still delivered its last event
        yield name or "message", "\n".join(data)


def one_line(text: Any, limit: int = 300) -> str:
    """What a server said, for a one-line message: its whitespace (line breaks included) collapsed, cut short."""
    return " ".join(str(text).split())[:limit]


def reply_deadline(services: Any) -> float:
    """Seconds a whole remote reply may take: the settings' `remote_reply_timeout_s` (the default without them)."""
    return services.settings.remote_reply_timeout_s if services is not None else REPLY_DEADLINE_S


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


def origin(url: str) -> str:
    """scheme://host:port of a URL, the port spelled out, so that two spellings of one origin compare equal."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"'{url}' is not an http(s) URL.", "rejected")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return kind(parts.hostname, parts.port, timeout=min(CONNECT_TIMEOUT_S, timeout))


def _abort(sock: socket.socket) -> None:
    """Break a request off from another thread: the reader's read (a waiting one too) ends at once."""
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
    text = one_line(text, 160)
    return f": {text}" if text else ""
