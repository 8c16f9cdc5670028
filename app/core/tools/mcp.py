"""A minimal MCP client: list a server's tools and call one, each over a fresh stdio session.

A fresh session per call costs a process start (under a second for a Python server) but means a server that
crashed or hung last time cannot poison the next call. Timeouts end a hung server; its process is killed.
A server's own stderr (its logs, warnings, tracebacks) goes to `<data folder>/logs/mcp.log`, never to the
user's terminal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeVar

from app.core.errors import ExitCode, RoundtableError
from app.core.private import make_private_dir
from app.core.providers.speakers import sentence
from app.core.settings import Paths

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


class McpServer:
    """A registered MCP server: `command` is the program and its arguments.

    Attributes:
        name: the user's name for it (what copilots are granted).
        timeout: seconds a start, a listing or a call may take.
    """

    def __init__(self, name: str, command: list[str], timeout: float = TIMEOUT_S, log_file: Path | None = None) -> None:
        if not command:
            raise ToolError(
                f"Tool server '{name}' has no command: register it with `roundtable tools add {name} -- CMD`."
            )
        self.name = name
        self.command = command
        self.timeout = timeout
        self.log_file = log_file or Paths.from_environment().data_dir / "logs" / LOG_NAME

    def list_tools(self) -> list[McpTool]:
        async def listing(client: Any) -> list[McpTool]:
            result = await client.list_tools()
            return [
                McpTool(self.name, t.name, t.description or "", t.input_schema or {"type": "object"})
                for t in result.tools
            ]

        return self._run(listing, "list its tools")

    def call(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        async def calling(client: Any) -> ToolResult:
            result = await client.call_tool(tool, arguments)
            parts = []
            for item in result.content:
                text = getattr(item, "text", None)
                parts.append(text if isinstance(text, str) else f"[{getattr(item, 'type', 'content')}]")
            if not parts and result.structured_content is not None:
                parts.append(json.dumps(result.structured_content))
            return ToolResult("\n".join(parts)[:RESULT_LIMIT], bool(result.is_error))

        return self._run(calling, f"run '{tool}'")

    def _run(self, work: Callable[[Any], Awaitable[_T]], what: str) -> _T:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client

        environment = {k: v for k, v in os.environ.items() if k in _INHERITED}
        parameters = StdioServerParameters(command=self.command[0], args=self.command[1:], env=environment)

        async def session(errlog: TextIO) -> _T:
            async with Client(stdio_client(parameters, errlog=errlog), read_timeout_seconds=self.timeout) as client:
                return await work(client)

        try:
            with self._errlog(what) as errlog:
                return asyncio.run(asyncio.wait_for(session(errlog), self.timeout))
        except TimeoutError as exc:
            raise ToolError(
                f"Tool server '{self.name}' did not {what} within {self.timeout:.0f} s (it was stopped)."
            ) from exc
        except FileNotFoundError as exc:
            raise ToolError(
                f"Tool server '{self.name}': {self.command[0]} was not found; fix it with `roundtable tools add`."
            ) from exc
        except ToolError:
            raise
        except BaseException as exc:  # the SDK's own errors, and task groups of them when a server dies
            if isinstance(exc, KeyboardInterrupt):
                raise
            reason = _first_reason(exc)
            _log.warning("Tool server '%s' failed to %s: %s", self.name, what, reason)
            failed = sentence(f"Tool server '{self.name}' failed to {what}: {reason}")
            raise ToolError(f"{failed} Its own output is in {self.log_file}.") from exc

    def _errlog(self, what: str) -> TextIO:
        """The log file, opened to append this server's stderr under a line that says which server and why."""
        make_private_dir(self.log_file.parent)
        errlog = self.log_file.open("a", encoding="utf-8")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        errlog.write(f"--- {stamp} tool server '{self.name}' ({' '.join(self.command)}): {what}\n")
        errlog.flush()  # before the server writes to the same file through its own descriptor
        return errlog


def _first_reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
