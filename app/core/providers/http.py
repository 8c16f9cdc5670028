"""HTTP for remote copilots: JSON requests and server-sent event streams over one `httpx.Client` (a keep-alive
pool; proxies and the CA bundle from the environment, as httpx's `trust_env` reads them), with connect and read
timeouts, bounded retries on 429, redirects within the same origin only, cancellation from another thread, and
errors that say what to do. Only the remote providers import this module, when a remote copilot is first built
(they are entry points): the CLI and the overlay start without httpx.

A remote server is untrusted input: every read is bounded (line, event and JSON body sizes), every reply runs
under a `ReplyGuard` (an overall deadline and a stall clock that only reply content resets), and nothing (the
conversation, the key's Authorization header) goes to an origin other than the one the user configured, unless
the user agreed (`trust_card_origins`): an agent card or agents.json may not send the thread to a host the user
never named, and a redirect may not either."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

# WORKAROUND for httpx-sse's `EventSource.iter_sse` reading lines through httpx's line decoder, which holds a line
# of any length: its decoder is fed our lines instead, each already bounded by `_lines`
from httpx_sse._decoders import SSEDecoder

from app import __version__
from app.core.errors import ExitCode, RoundtableError
from app.core.providers.base import CancelToken
from app.core.secrets import auth_headers

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0  # a stream with no reply content this long has stalled (keep-alives do not count)
REPLY_DEADLINE_S = 600.0  # a whole reply, when the settings give no `remote_reply_timeout_s`
MAX_ATTEMPTS = 3  # on 429, and on 503 with Retry-After
MAX_RETRY_WAIT_S = 20.0
MAX_LINE_BYTES = 1 << 20  # one SSE line; real servers send a few KiB at most
MAX_EVENT_BYTES = 8 << 20  # one SSE event's data lines together
MAX_JSON_BYTES = 8 << 20  # a whole JSON answer: an agent card, agents.json, a non-streamed reply
MAX_REDIRECTS = 5  # within one origin; a server that redirects more is going round in circles
_ERROR_BODY_LIMIT = 2000


class RemoteError(RoundtableError):
    """A remote copilot's request failed; `kind` is the Error event's stable word."""

    exit_code = ExitCode.REMOTE

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

    @classmethod
    def for_agent(
        cls, endpoint: str, key_name: str | None, *, trust_card_origins: bool, deadline_s: float, copilot_id: str | None
    ) -> Remote:
        """An agent server (OpenBB, A2A): requests, and the key, go to the endpoint's origin only; another origin
        its agent card or agents.json names needs `trust_card_origins`."""
        return cls(
            endpoint,
            auth_headers(key_name),
            key_name,
            deadline_s=deadline_s,
            trust_other_origins=trust_card_origins,
            copilot_id=copilot_id,
        )

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
        with self.open("GET", path, None, None, timeout=timeout, guard=guard) as reading:
            return _parse_json(reading.json_bytes(guard), self.url(path))

    def post_json(
        self,
        path: str,
        body: Any,
        cancel: CancelToken | None = None,
        guard: ReplyGuard | None = None,
        timeout: float | None = None,
    ) -> Any:
        """POST `body` and read the JSON answer; `timeout` replaces the read timeout (a whole reply takes longer)."""
        guard = guard or self.guard()
        with self.open("POST", path, body, cancel, guard=guard, timeout=timeout) as reading:
            return _parse_json(reading.json_bytes(guard), self.url(path))

    def stream_lines(self, path: str, body: Any, cancel: CancelToken, guard: ReplyGuard | None = None) -> Iterator[str]:
        """POST `body` and yield the response's lines as they arrive (without line endings), each at most
        MAX_LINE_BYTES, under `guard`'s clocks."""
        guard = guard or self.guard()
        with self.open("POST", path, body, cancel, accept="text/event-stream", guard=guard) as reading:
            try:
                for line in _lines(reading.pieces(guard), self.base_url):
                    if cancel.cancelled:
                        return
                    guard.check()  # keep-alives arrive in time yet are no content: the stall clock runs on
                    yield line.decode("utf-8", errors="replace").rstrip("\r")
            except httpx.TransportError as exc:
                if cancel.cancelled:
                    return  # Stop shut the socket down under the read
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
        guard: ReplyGuard | None = None,
    ) -> Iterator[_Reading]:
        """Send the request (retrying 429 a bounded number of times, following redirects within its origin) and
        yield a 2xx response to read. Stop, from any thread, breaks off the response being read."""
        url = self.url(path)
        self._check_origin(url)
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise RemoteError(f"'{url}' is not an http(s) URL.", "rejected")
        # httpx holds one read timeout for a whole response: the guard's clocks as they stand when it is sent
        wait = min(timeout or self.read_timeout, guard.wait_s() if guard else self.read_timeout)
        headers = {"Accept": accept, "Accept-Encoding": "identity", **self.headers}  # no gzip: bounds hold on bytes
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = _client().build_request(
            method,
            url,
            content=None if body is None else json.dumps(body).encode(),
            headers=headers,
            timeout=httpx.Timeout(wait, connect=min(CONNECT_TIMEOUT_S, wait)),
        )
        stop = _Stop()
        forget = cancel.on_cancel(stop) if cancel is not None else _nothing
        try:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                response = self._send(request, url, stop, cancel)
                try:
                    if response.status_code < 300:
                        yield _Reading(response, url)
                        return
                    detail = _start_of(response)
                finally:
                    stop.close(response)
                retry = _retry_after(response)
                if response.status_code in (429, 503) and retry is not None and attempt < MAX_ATTEMPTS:
                    if _sleep(min(retry, MAX_RETRY_WAIT_S), cancel):
                        raise RemoteError("Stopped.", "cancelled")
                    continue
                raise self._explain(response.status_code, detail, url)
        finally:
            forget()  # the token outlives this request: it must not keep (or later break) this response
        raise AssertionError("unreachable: the loop returns or raises")

    def _send(self, request: httpx.Request, url: str, stop: _Stop, cancel: CancelToken | None) -> httpx.Response:
        """One attempt: the response to `request` once its headers are in, redirects within `url`'s origin
        followed; transport failures as RemoteErrors that say what to do."""
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                response = _client().send(request, stream=True)
                stop.watch(response)
                if cancel is not None and cancel.cancelled:  # after `watch`: a later Stop reaches the socket
                    stop.close(response)
                    raise RemoteError("Stopped.", "cancelled")
                if response.next_request is None:
                    return self._plain(response, stop)
                stop.close(response)
                request = response.next_request
                if origin(str(request.url)) != origin(url):
                    raise self._redirected(url, str(request.url))
            raise RemoteError(f"{url} redirected more than {MAX_REDIRECTS} times: check the URL.", "rejected")
        except httpx.TransportError as exc:
            raise self._failed(exc, cancel) from exc

    def _plain(self, response: httpx.Response, stop: _Stop) -> httpx.Response:
        """The response, unless its body is compressed: sizes are bounded on the bytes that arrive, and a
        compressed body would expand past them unseen (identity was asked for)."""
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            return response
        stop.close(response)
        raise RemoteError(
            f"{self.base_url} sent a compressed answer ({encoding[:20]}) although none was asked for: refused.",
            "protocol",
        )

    def _redirected(self, url: str, target: str) -> RemoteError:
        withheld = f"your messages and your key '{self.key_name}' were" if self.key_name else "your messages were"
        return RemoteError(
            f"{url} redirected to another origin, {origin(target)}: {withheld} not sent there. "
            "Point the copilot at the URL the server redirects to if you trust it.",
            "rejected",
        )

    def _failed(self, exc: Exception, cancel: CancelToken | None) -> RemoteError:
        """What a transport failure before the answer means to the user."""
        if cancel is not None and cancel.cancelled:
            return RemoteError("Stopped.", "cancelled")
        if isinstance(exc, httpx.ProxyError):
            return RemoteError(
                f"The proxy refused to reach {self.base_url} ({exc}): check HTTPS_PROXY, HTTP_PROXY and NO_PROXY."
            )
        if isinstance(exc, httpx.ConnectError) and _caused_by(exc, ssl.SSLError):
            return RemoteError(
                f"{self.base_url} could not be verified ({exc}): behind a company proxy or with your own "
                "certificate authority, point SSL_CERT_FILE at its CA bundle."
            )
        if isinstance(exc, httpx.ConnectError):
            return RemoteError(f"Cannot reach {self.base_url} ({exc}): is the server running?")
        if isinstance(exc, httpx.TimeoutException):
            return RemoteError(f"{self.base_url} did not answer in time.", "timeout")
        return RemoteError(f"The connection to {self.base_url} failed ({exc}).")

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
        """How long a read may wait from now before one of the clocks runs out."""
        now = time.monotonic()
        return max(0.01, min(self.started + self.deadline_s, self.last_content + self.stall_s) - now)


@dataclass
class _Reading:
    """A 2xx response, read in pieces as they arrive, under a reply's clocks."""

    response: httpx.Response
    url: str

    def pieces(self, guard: ReplyGuard) -> Iterator[bytes]:
        """The body as it arrives (what one socket read returned, up to 64 KiB); RemoteError when a clock runs
        out. The read timeout the request was sent with bounds a silent server; the clocks are checked as each
        piece arrives, so a server trickling bytes cannot outlast them either."""
        raw = self.response.iter_raw()
        while True:
            guard.check()
            try:
                piece = next(raw, b"")
            except httpx.ReadTimeout as exc:
                guard.check()
                raise guard.stalled() from exc
            if not piece:
                return
            yield piece

    def json_bytes(self, guard: ReplyGuard) -> bytes:
        """The whole body, refused past MAX_JSON_BYTES (before reading it when the server says its length)."""
        too_big = RemoteError(
            f"{self.url} answered with more than {MAX_JSON_BYTES >> 20} MiB of JSON: refused (is this the right URL?).",
            "protocol",
        )
        length = self.response.headers.get("Content-Length") or ""
        if length.strip().isdigit() and int(length) > MAX_JSON_BYTES:
            raise too_big
        body = bytearray()
        try:
            for piece in self.pieces(guard):
                guard.progressed()  # a JSON body has no keep-alives: bytes are progress, the deadline holds
                body += piece
                if len(body) > MAX_JSON_BYTES:
                    raise too_big
        except httpx.TransportError as exc:
            raise RemoteError(f"The connection to {self.url} broke mid-answer ({exc}).") from exc
        return bytes(body)


class _Stop:
    """What Stop breaks off, from any thread: the socket of the response being read. Shutting it down ends a
    read that waits on a silent server at once; the reading thread then closes the response itself (httpx's
    response is not for two threads to close)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None

    def watch(self, response: httpx.Response) -> None:
        """Stop from now on breaks off `response`."""
        stream = response.extensions.get("network_stream")
        self._sock = stream.get_extra_info("socket") if stream is not None else None

    def close(self, response: httpx.Response) -> None:
        """Close `response` once Stop no longer reaches its socket: the connection may go back to the pool and
        carry another thread's request next."""
        self._sock = None
        response.close()

    def __call__(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


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
    """Server-sent events as (event name, data); the name is "message" when the server gives none. An event
    without data is none (as the SSE spec says). One event's data may hold at most MAX_EVENT_BYTES (characters,
    as decoded)."""
    decoder, size = SSEDecoder(), 0
    for line in _ending(lines):
        field, _, value = line.partition(":")
        if not line:
            size = 0
        elif field == "data":
            size += len(value) + 1
            if size > MAX_EVENT_BYTES:
                raise RemoteError(
                    f"{where} sent one event over {MAX_EVENT_BYTES >> 20} MiB: the reply was stopped (what "
                    "arrived is kept); the server is misbehaving, check the endpoint.",
                    "protocol",
                )
        event = decoder.decode(line)
        if event is not None and event.data:
            yield event.event, event.data


def _ending(lines: Iterator[str]) -> Iterator[str]:
    """The lines and one blank line after them: a stream that ends without the blank line still delivered its
    last event."""
    yield from lines
    yield ""


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


_clients: dict[tuple[tuple[str, str], ...], httpx.Client] = {}
_clients_lock = threading.Lock()
_ENVIRONMENT = ("SSL_CERT_FILE", "SSL_CERT_DIR")  # with every *_proxy variable: what httpx reads at start


def _client() -> httpx.Client:
    """The process's HTTP client: one keep-alive pool for every remote copilot, made when first needed and made
    again when the proxy or CA variables change (httpx reads them once, when a client is made)."""
    environment = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.lower().endswith("_proxy") or k in _ENVIRONMENT)
    )
    with _clients_lock:
        client = _clients.get(environment)
        if client is None:
            _clients.clear()  # the old pool's idle connections close with it; a reply still reading keeps its own
            client = _clients[environment] = httpx.Client(
                trust_env=True, follow_redirects=False, headers={"User-Agent": f"Roundtable/{__version__}"}
            )
        return client


def _nothing() -> None:
    """What there is to take back when no cancel token was given."""


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is somewhere in the chain of causes of `exc` (httpx wraps the ssl error twice)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _start_of(response: httpx.Response) -> str:
    """The start of an error answer's body, for the message; what cannot be read in time is left out."""
    detail = bytearray()
    try:
        for piece in response.iter_raw():
            detail += piece
            if len(detail) >= _ERROR_BODY_LIMIT:
                break
    except httpx.TransportError:
        pass
    return detail[:_ERROR_BODY_LIMIT].decode("utf-8", errors="replace")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
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
