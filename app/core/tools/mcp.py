"""A minimal MCP client: list a server's tools and call one, over a session kept while Roundtable runs.

A server is reached over stdio (a command line we start) or Streamable HTTP (a URL, with a bearer token read
from the keychain by name). Sessions live in `sessions.SESSIONS`: started on first use, restarted with back-off
after a crash, closed at quit. Timeouts end a hung server (its session is closed and its process killed).
A stdio server's own stderr (its logs, warnings, tracebacks) goes to `<data folder>/logs/mcp.log`, never to the
user's terminal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from app.core.errors import ExitCode, RoundtableError
from app.core.paths import Paths
from app.core.private import make_private_dir
from app.core.providers.speakers import sentence

if TYPE_CHECKING:  # the sessions' module brings asyncio (~20 ms, 4 MB): imported when a server is first made
    from app.core.tools.sessions import SessionPool

_T = TypeVar("_T")

TIMEOUT_S = 30.0
RESULT_LIMIT = 8000  # characters of a tool's result kept for the transcript and the model
LOG_NAME = "mcp.log"  # in the data folder's logs/, beside the app's own log
_log = logging.getLogger("roundtable.mcp")
_INHERITED = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


class ToolError(RoundtableError):
    """An MCP server could not be started, answered wrongly, timed out or exited."""

    exit_code = ExitCode.TOOL


@dataclass
class McpTool:
    """One tool of a server: its name there, what it does, and its arguments' JSON schema."""

    server: str
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ToolResult:
    text: str
    is_error: bool


@dataclass(frozen=True)
class RemoteServer:
    """How to reach a Streamable HTTP server: its URL, plain headers, and the keychain key of its bearer token."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    token_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "headers": self.headers, "token_key": self.token_key}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RemoteServer:
        return cls(
            str(data["url"]), {str(k): str(v) for k, v in (data.get("headers") or {}).items()}, data.get("token_key")
        )


# a registered server: the command line of a stdio server, or a remote one
ServerSpec = list[str] | RemoteServer


def server_spec(stored: list[str] | dict[str, Any] | RemoteServer) -> ServerSpec:
    """A server as the store keeps it (a command line, or a remote server's JSON) as a `ServerSpec`."""
    return RemoteServer.from_json(stored) if isinstance(stored, dict) else stored


def check_remote(name: str, server: RemoteServer) -> RemoteServer:
    """Refuse a URL that is not http(s), and a token that would cross the network unencrypted."""
    from urllib.parse import urlsplit

    from app.core.loopback import is_loopback

    parts = urlsplit(server.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError(f"Tool server '{name}': '{server.url}' is not an http(s) URL, e.g. https://host/mcp.")
    if parts.scheme == "http" and server.token_key and not is_loopback(parts.hostname):
        raise ToolError(
            f"Tool server '{name}': its token would cross the network unencrypted to {parts.hostname}: use https."
        )
    return server


class McpServer:
    """A registered MCP server.

    Attributes:
        name: the user's name for it (what copilots are granted).
        spec: the command line (program and arguments) of a stdio server, or a `RemoteServer`.
        timeout: seconds a start, a listing or a call may take.
    """

    def __init__(
        self,
        name: str,
        spec: list[str] | dict[str, Any] | RemoteServer,
        timeout: float = TIMEOUT_S,
        log_file: Path | None = None,
        sessions: SessionPool | None = None,
    ) -> None:
        if not spec:
            raise ToolError(
                f"Tool server '{name}' has no command: register it with `roundtable tools add {name} -- CMD`."
            )
        self.name = name
        self.spec: ServerSpec = server_spec(spec)
        self.timeout = timeout
        self.log_file = log_file or Paths.from_environment().data_dir / "logs" / LOG_NAME
        if sessions is None:
            from app.core.tools.sessions import SESSIONS  # imported when first used: start-up time

            sessions = SESSIONS
        self.sessions = sessions

    @property
    def key(self) -> tuple[str, str]:
        """What identifies its session: the name and how it is reached (a changed command is a new session)."""
        how = self.spec.to_json() if isinstance(self.spec, RemoteServer) else self.spec
        return self.name, json.dumps(how, sort_keys=True)

    @property
    def where(self) -> str:
        """The command line or URL, for messages and listings."""
        return self.spec.url if isinstance(self.spec, RemoteServer) else " ".join(self.spec)

    def list_tools(self) -> list[McpTool]:
        """The server's tools, listed once per session and again after it says its list changed."""

        async def listing(live: Any) -> list[McpTool]:
            if live.tools is None:
                result = await live.client.list_tools()
                live.tools = [
                    McpTool(self.name, t.name, t.description or "", t.input_schema or {"type": "object"})
                    for t in result.tools
                ]
            return list(live.tools)

        return self._run(listing, "list its tools")

    def call(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        async def calling(live: Any) -> ToolResult:
            result = await live.client.call_tool(tool, arguments)
            parts = []
            for item in result.content:
                text = getattr(item, "text", None)
                parts.append(text if isinstance(text, str) else f"[{getattr(item, 'type', 'content')}]")
            if not parts and result.structured_content is not None:
                parts.append(json.dumps(result.structured_content))
            return ToolResult("\n".join(parts)[:RESULT_LIMIT], bool(result.is_error))

        return self._run(calling, f"run '{tool}'")

    def stop(self) -> None:
        """End this server's session (removed, or registered again): the next use starts it afresh."""
        self.sessions.close(lambda key: isinstance(key, tuple) and key[:1] == (self.name,))

    def _run(self, work: Callable[[Any], Awaitable[_T]], what: str) -> _T:
        try:
            return self.sessions.run(self.key, self._connect, work, self.timeout)
        except TimeoutError as exc:
            raise ToolError(
                f"Tool server '{self.name}' did not {what} within {self.timeout:.0f} s (it was stopped)."
            ) from exc
        except FileNotFoundError as exc:
            raise ToolError(
                f"Tool server '{self.name}': {self.where.split()[0]} was not found; fix it with `roundtable tools add`."
            ) from exc
        except RoundtableError:
            raise
        except BaseException as exc:  # the SDK's own errors, and task groups of them when a server dies
            if isinstance(exc, KeyboardInterrupt):
                raise
            reason = _first_reason(exc)
            _log.warning("Tool server '%s' failed to %s: %s", self.name, what, reason)
            failed = sentence(f"Tool server '{self.name}' failed to {what}: {reason}")
            if isinstance(self.spec, RemoteServer):
                raise ToolError(f"{failed} Check its URL and token (`roundtable tools ls`).") from exc
            raise ToolError(f"{failed} Its own output is in {self.log_file}.") from exc

    @contextlib.asynccontextmanager
    async def _connect(self, on_message: Callable[[Any], Awaitable[None]]) -> AsyncIterator[Any]:
        """Open a client to the server (run on the sessions' loop); closing it ends the session."""
        from mcp import Client

        options: dict[str, Any] = {"read_timeout_seconds": self.timeout, "message_handler": on_message}
        if isinstance(self.spec, RemoteServer):
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            from app.core.secrets import auth_headers

            headers = {**self.spec.headers, **auth_headers(self.spec.token_key)}  # the token: read now, kept nowhere
            async with (
                httpx2.AsyncClient(headers=headers, timeout=self.timeout) as http,
                Client(streamable_http_client(self.spec.url, http_client=http), **options) as client,
            ):
                yield client
            return
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        environment = {k: v for k, v in os.environ.items() if k in _INHERITED}
        parameters = StdioServerParameters(command=self.spec[0], args=self.spec[1:], env=environment)
        with self._errlog() as errlog:
            async with Client(stdio_client(parameters, errlog=errlog), **options) as client:
                yield client

    def _errlog(self) -> TextIO:
        """The log file, opened to append this server's stderr under a line that says which server started."""
        make_private_dir(self.log_file.parent)
        errlog = self.log_file.open("a", encoding="utf-8")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        errlog.write(f"--- {stamp} tool server '{self.name}' ({self.where}) started\n")
        errlog.flush()  # before the server writes to the same file through its own descriptor
        return errlog


def _first_reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
