"""The MCP tools a copilot may call in a run: their specs for the model, the user's consent per workspace,
and each call run, shown in the transcript, and fed back to the model."""

from __future__ import annotations

import enum
import json
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from app.core.crew.copilots import Copilot
from app.core.crew.events import CrewStatus, ToolEvent, statuses_as
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Event, Provider, ToolCall, ToolSpec

if TYPE_CHECKING:  # the tool servers' modules are imported in a run, when tools are listed: the window starts without
    from app.core.knowledge.embedding import KnowledgeEmbedder
    from app.core.store import Store
    from app.core.tools.mcp import McpServer, McpTool

SEPARATOR = "__"  # server__tool: a function name every OpenAI-compatible server accepts
MAX_TOOL_ROUNDS = 4  # replies that may call tools before the copilot must answer


class Consent(enum.Enum):
    """The user's answer when a copilot wants a tool it has not been allowed always in this workspace."""

    ONCE = "once"  # this call only: nothing is saved (`--yes` answers this for every call of its run)
    ALWAYS = "always"  # saved for this copilot, tool and workspace, until revoked
    DENY = "deny"


# approve(workspace id, copilot id, tool, arguments) -> the user's answer; anything but a Consent is a denial
Approver = Callable[[str, str, str, dict[str, Any]], Consent]

# What json.dumps(ensure_ascii=False) leaves raw that a terminal or a text widget would act on instead of show:
# DEL and C1 controls (a terminal's escape parser takes \x9b as CSI), bidi and zero-width format characters
# that reorder or hide text, and line separators: an argument must read as exactly what the tool gets.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n]")  # in JSON text a raw newline is layout, never data
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def _escape_hidden(match: re.Match[str]) -> str:
    char = match.group()
    if unicodedata.category(char) not in _HIDDEN_CATEGORIES:
        return char
    # JSON's own escape: one \uXXXX per UTF-16 unit (a surrogate pair above U+FFFF)
    return "".join(f"\\u{unit}" for unit in char.encode("utf-16-be", "surrogatepass").hex(" ", 2).split())


def reveal(text: str) -> str:
    """A name from a tool server or a manifest with its hidden characters (newlines too) written as \\uXXXX."""
    return _NOT_PRINTABLE.sub(_escape_hidden, text)


def format_arguments(arguments: dict[str, Any] | None) -> str:
    """A tool call's arguments as pretty JSON for a consent prompt: everything shown, nothing able to act.

    json.dumps already writes C0 controls (ESC, CR, ...) as \\u escapes; the other hidden characters are
    escaped the same way, which keeps the text valid JSON and shows the exact value the tool will get.
    """
    return _NOT_PLAIN.sub(_escape_hidden, json.dumps(arguments, indent=2, ensure_ascii=False))


def qualified(tool: McpTool) -> str:
    return f"{tool.server}{SEPARATOR}{tool.name}"


class ToolBox:
    """The tools granted to one copilot. A grant names a server (all its tools) or `server.tool`.

    Attributes:
        tools: qualified name -> tool, once `specs()` has listed the servers.
    """

    def __init__(
        self,
        store: Store,
        copilot: Copilot,
        workspace_id: str,
        approve: Approver | None,
        timeout: float,
        embedder: KnowledgeEmbedder | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder  # for the built-in documents search
        self.timeout = timeout
        self.copilot = copilot
        self.workspace_id = workspace_id
        self.approve = approve
        self.tools: dict[str, McpTool] = {}
        self.servers: dict[str, McpServer] = {}

    def specs(self) -> Generator[Event, None, list[ToolSpec]]:
        """List the granted servers' tools (statuses as it goes); returns their ToolSpecs."""
        from app.core.tools import builtin  # imported when first used: start-up time
        from app.core.tools.mcp import McpServer, ToolError

        registered = self.store.tool_servers()
        wanted: dict[str, set[str] | None] = {}
        for grant in self.copilot.tools:
            server, _, tool = grant.partition(".")
            if tool and wanted.get(server, set()) is not None:
                wanted.setdefault(server, set()).add(tool)  # type: ignore[union-attr]
            elif not tool:
                wanted[server] = None
        for server, only in wanted.items():
            if server == builtin.SERVER:
                listed = list(builtin.TOOLS.values())
                self.tools.update({qualified(t): t for t in listed if only is None or t.name in only})
                continue
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
            for listed_tool in listed:
                if only is None or listed_tool.name in only:
                    self.tools[qualified(listed_tool)] = listed_tool
        return [ToolSpec(name, f"[{t.server}] {t.description}", t.parameters) for name, t in self.tools.items()]

    def use_before_answering(
        self,
        provider: Provider,
        request: ChatRequest,
        specs: list[ToolSpec],
        asked: str,
        thread_id: str,
        cancel: CancelToken,
        named_only: bool = False,
    ) -> Iterator[Event]:
        """For a backend without native tool calls: up to MAX_TOOL_ROUNDS times, decide (constrained by a JSON
        schema) whether a tool is needed and run it; the results go into `request` for the answer that follows.

        A tool the request (`asked`) names in words is called first, whatever a small model would decide: the
        user's words are found deterministically, and the model only fills in the arguments. `named_only`: only
        those (a model that calls tools in its own format decides the rest while it answers)."""
        from app.core.crew.decide import decide_tool, named_tools  # imported when first used: start-up time

        made: set[str] = set()
        named = named_tools(asked, specs)
        for round_ in range(len(named) if named_only else MAX_TOOL_ROUNDS):
            pinned = named[round_] if round_ < len(named) else None
            call = yield from statuses_as(self.copilot.id, decide_tool(provider, request, specs, cancel, pinned))
            if call is None or cancel.cancelled:
                return
            same = f"{call.name} {json.dumps(call.arguments, sort_keys=True)}"
            if same in made:  # a small model asks again for what it has: its answer comes next
                return
            made.add(same)
            request.messages.append(ChatMessage("assistant", "", name=self.copilot.id, tool_calls=[call]))
            yield from self.run([call], request, thread_id)

    def owns(self, call: ToolCall) -> bool:
        return call.name in self.tools

    def run(self, calls: list[ToolCall], request: ChatRequest, thread_id: str) -> Iterator[Event]:
        """Run the calls a reply made (the reply is in `request` already); each result goes into the transcript
        and back to the model."""
        from app.core.tools import builtin  # imported when first used: start-up time
        from app.core.tools.mcp import ToolError

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
                    if tool.server == builtin.SERVER:
                        result = builtin.call(tool.name, call.arguments, self.store, self.workspace_id, self.embedder)
                    else:
                        result = self.servers[tool.server].call(tool.name, call.arguments)
                    status, text = ("failed" if result.is_error else "done"), result.text
                except ToolError as exc:
                    status, text = "failed", str(exc)
            yield self._log(thread_id, ToolEvent(self.copilot.id, label, call.id, status, call.arguments, text))
            request.messages.append(ChatMessage("tool", text, name=label, tool_call_id=call.id))

    def _allowed(self, label: str, arguments: dict[str, Any]) -> bool:
        """Allowed always here, or asked now; only the answer "always" is saved."""
        if self.store.tool_approved(self.workspace_id, self.copilot.id, label):
            return True
        if self.approve is None:
            return False
        consent = self.approve(self.workspace_id, self.copilot.id, label, arguments)
        if consent is Consent.ALWAYS:
            self.store.approve_tool(self.workspace_id, self.copilot.id, label)
        return consent in (Consent.ONCE, Consent.ALWAYS)  # a bool or None from an old approver -> denied

    def _log(self, thread_id: str, event: ToolEvent) -> ToolEvent:
        self.store.record(thread_id, event)
        return event
