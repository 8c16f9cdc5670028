"""The MCP tools a copilot may call in a run: their specs for the model, the user's consent per workspace,
and each call run, shown in the transcript, and fed back to the model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from app.core.crew.copilots import Copilot
from app.core.crew.events import CrewStatus, ToolEvent
from app.core.providers.base import ChatMessage, ChatRequest, Event, ToolCall, ToolSpec
from app.core.tools.mcp import McpServer, McpTool, ToolError

SEPARATOR = "__"  # server__tool: a function name every OpenAI-compatible server accepts
MAX_TOOL_ROUNDS = 4  # replies that may call tools before the copilot must answer

# approve(workspace id, copilot id, tool, arguments) -> whether the user allows it (asked once per workspace)
Approver = Callable[[str, str, str, dict[str, Any]], bool]


def qualified(tool: McpTool) -> str:
    return f"{tool.server}{SEPARATOR}{tool.name}"


class ToolBox:
    """The tools granted to one copilot. A grant names a server (all its tools) or `server.tool`.

    Attributes:
        tools: qualified name -> tool, once `specs()` has listed the servers.
    """

    def __init__(
        self, store: Any, copilot: Copilot, workspace_id: str, approve: Approver | None, timeout: float
    ) -> None:
        self.store = store
        self.timeout = timeout
        self.copilot = copilot
        self.workspace_id = workspace_id
        self.approve = approve
        self.tools: dict[str, McpTool] = {}
        self.servers: dict[str, McpServer] = {}

    def specs(self) -> Iterator[Event]:
        """List the granted servers' tools (statuses as it goes); returns their ToolSpecs."""
        registered = self.store.tool_servers()
        wanted: dict[str, set[str] | None] = {}
        for grant in self.copilot.tools:
            server, _, tool = grant.partition(".")
            if tool and wanted.get(server, set()) is not None:
                wanted.setdefault(server, set()).add(tool)  # type: ignore[union-attr]
            elif not tool:
                wanted[server] = None
        for server, only in wanted.items():
            if server not in registered:
                yield CrewStatus(self.copilot.id, f"Tool server '{server}' is not registered (`roundtable tools ls`)")
                continue
            self.servers[server] = McpServer(server, registered[server], self.timeout)
            yield CrewStatus(self.copilot.id, f"Starting tool server '{server}'")
            try:
                listed = self.servers[server].list_tools()
            except ToolError as exc:
                yield CrewStatus(self.copilot.id, str(exc))
                continue
            for tool in listed:
                if only is None or tool.name in only:
                    self.tools[qualified(tool)] = tool
        return [ToolSpec(name, f"[{t.server}] {t.description}", t.parameters) for name, t in self.tools.items()]

    def owns(self, call: ToolCall) -> bool:
        return call.name in self.tools

    def run(self, calls: list[ToolCall], answer: str, request: ChatRequest, thread_id: str) -> Iterator[Event]:
        """Run the calls a reply made; each result goes into the transcript and back to the model."""
        request.messages.append(ChatMessage("assistant", answer, name=self.copilot.id, tool_calls=calls))
        for call in calls:
            tool = self.tools[call.name]
            label = f"{tool.server}.{tool.name}"
            yield self._log(thread_id, ToolEvent(self.copilot.id, label, call.id, "called", call.arguments))
            if call.arguments is None:
                status, text = "failed", f"The arguments were not valid JSON: {call.raw[:200]}"
            elif not self._allowed(label, call.arguments):
                status, text = "refused", f"The user did not allow {label} in this workspace."
            else:
                try:
                    result = self.servers[tool.server].call(tool.name, call.arguments)
                    status, text = ("failed" if result.is_error else "done"), result.text
                except ToolError as exc:
                    status, text = "failed", str(exc)
            yield self._log(thread_id, ToolEvent(self.copilot.id, label, call.id, status, call.arguments, text))
            request.messages.append(ChatMessage("tool", text, name=label, tool_call_id=call.id))

    def _allowed(self, label: str, arguments: dict[str, Any]) -> bool:
        """Asked the first time a tool is used in a workspace; the answer yes is remembered."""
        if self.store.tool_approved(self.workspace_id, label):
            return True
        if self.approve is None or not self.approve(self.workspace_id, self.copilot.id, label, arguments):
            return False
        self.store.approve_tool(self.workspace_id, label)
        return True

    def _log(self, thread_id: str, event: ToolEvent) -> ToolEvent:
        data = {"tool": event.tool, "call_id": event.call_id, "status": event.status, "result": event.result}
        data["arguments"] = json.loads(json.dumps(event.arguments)) if event.arguments is not None else None
        self.store.add_event(thread_id, "tool", author=event.author, data=data)
        return event
