"""Tools Roundtable itself offers, granted like an MCP server's (`roundtable.calculator`, `roundtable.documents`):
what a finance crew needs and small models lack — exact arithmetic, and looking things up in the workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.tools import calculator
from app.core.tools.mcp import RESULT_LIMIT, McpTool, ToolResult

if TYPE_CHECKING:
    from app.core.knowledge.embedding import KnowledgeEmbedder
    from app.core.store import Store

SERVER = "roundtable"  # the name copilots are granted them under; no registered server may take it
_SEARCH_CHARS = 3000  # of passages returned by one documents search

_DOCUMENTS = McpTool(
    SERVER,
    "documents",
    "Search this workspace's documents; returns the best passages with their source (document, page).",
    {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "what to look for, in a few words"}},
        "required": ["query"],
    },
)
TOOLS = {
    "calculator": McpTool(SERVER, "calculator", calculator.DESCRIPTION, calculator.PARAMETERS),
    "documents": _DOCUMENTS,
}


def call(
    tool: str, arguments: dict[str, Any], store: Store, workspace_id: str, embedder: KnowledgeEmbedder | None = None
) -> ToolResult:
    """Run a built-in tool; a bad argument is a result with is_error (the model reads it and may try again)."""
    if tool == "calculator":
        expression = arguments.get("expression")
        if not isinstance(expression, str):
            return ToolResult('Give the expression as a string, e.g. {"expression": "1250 * 4%"}.', True)
        try:
            return ToolResult(calculator.show(calculator.calculate(expression)), False)
        except calculator.CalculationError as exc:
            return ToolResult(str(exc), True)
    if tool == "documents":
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            return ToolResult('Give what to look for as a string, e.g. {"query": "coupon rate"}.', True)
        from app.core.knowledge.retrieval import passages_for

        hits = passages_for(store, workspace_id, query, _SEARCH_CHARS, embedder)  # hybrid, as the copilots read
        if not hits:
            return ToolResult("No passage in this workspace's documents matches that.", False)
        listing = "\n\n".join(f"[{hit.title}{f', {hit.location}' if hit.location else ''}]\n{hit.text}" for hit in hits)
        return ToolResult(listing[:RESULT_LIMIT], False)
    return ToolResult(f"Roundtable has no built-in tool '{tool}'.", True)
