"""A minimal MCP client: list a server's tools and call one, each over a fresh stdio session.

A fresh session per call costs a process start (under a second for a Python server) but means a server that
crashed or hung last time cannot poison the next call. Timeouts end a hung server; its process is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any

from app.core.errors import RoundtableError

TIMEOUT_S = 30.0
RESULT_LIMIT = 8000  # characters of a tool's result kept for the transcript and the model
_INHERITED = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


class ToolError(RoundtableError):
    """An MCP server could not be started, answered wrongly, timed out or exited."""

    exit_code = 9


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

    def __init__(self, name: str, command: list[str], timeout: float = TIMEOUT_S) -> None:
        if not command:
            raise ToolError(
                f"Tool server '{name}' has no command: register it with `roundtable tools add {name} -- CMD`."
            )
        self.name = name
        self.command = command
        self.timeout = timeout

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

    def _run(self, work: Any, what: str) -> Any:
        from mcp import Client, StdioServerParameters

        environment = {k: v for k, v in os.environ.items() if k in _INHERITED}
        parameters = StdioServerParameters(command=self.command[0], args=self.command[1:], env=environment)

        async def session() -> Any:
            async with Client(parameters, read_timeout_seconds=self.timeout) as client:
                return await work(client)

        try:
            return asyncio.run(asyncio.wait_for(session(), self.timeout))
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
            raise ToolError(f"Tool server '{self.name}' failed to {what}: {reason}") from exc


def _first_reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
