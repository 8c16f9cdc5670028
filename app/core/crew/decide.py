"""Decisions a model makes in JSON constrained by a schema, for backends without native tool calls (local models):
which tool to call, if any, before answering; the handoff decision after it (handoff.py) uses the same step."""

from __future__ import annotations

import json
import secrets
from collections.abc import Generator
from typing import Any

from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Error,
    Event,
    Provider,
    Sampling,
    Status,
    TextDelta,
    ToolCall,
    ToolSpec,
)

NO_TOOL = "none"
_TOOL_DECISION_TOKENS = 256
# the JSON-schema words llama.cpp's grammar converter follows; the rest (descriptions, formats) is left out
_SCHEMA_WORDS = ("type", "properties", "required", "enum", "const", "items", "minimum", "maximum", "anyOf")
_ASK_TOOL = (
    "Before you answer: does the last request need one of these tools? Tools:\n{listing}\n"
    'Reply in JSON: {{"tool": the tool\'s name, "arguments": its arguments}}, or {{"tool": "{none}"}} '
    "if no tool is needed."
)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(6)


def constrained_json(
    provider: Provider, messages: list[ChatMessage], schema: dict[str, Any], max_tokens: int, cancel: CancelToken
) -> Generator[Event, None, tuple[str, Any]]:
    """Ask for a reply in JSON matching `schema` (greedy); returns the raw text and its value (None when it is
    not valid JSON: cut off at the token cap). A backend error is yielded as a Status and returns ("", None)."""
    request = ChatRequest(
        messages=messages, sampling=Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens), json_schema=schema
    )
    parts: list[str] = []
    for event in provider.stream(request, cancel):
        if isinstance(event, TextDelta):
            parts.append(event.delta)
        elif isinstance(event, Error):
            yield Status(f"Could not decide the next step: {event.message}")
            return "", None
    raw = "".join(parts).strip()
    try:
        return raw, json.loads(raw)
    except json.JSONDecodeError:
        return raw, None


def _argument_schema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """A tool's argument schema cut down to what a grammar can follow (a server's schema is untrusted)."""
    if not isinstance(schema, dict) or depth > 4:
        return {}
    kept: dict[str, Any] = {}
    for word in _SCHEMA_WORDS:
        if word not in schema:
            continue
        value = schema[word]
        if word == "properties" and isinstance(value, dict):
            kept[word] = {str(k): _argument_schema(v, depth + 1) for k, v in list(value.items())[:32]}
        elif word == "items":
            kept[word] = _argument_schema(value, depth + 1)
        elif word == "anyOf" and isinstance(value, list):
            kept[word] = [_argument_schema(v, depth + 1) for v in value[:8]]
        elif word == "required" and isinstance(value, list):
            kept[word] = [str(v) for v in value if isinstance(v, str)]
        else:
            kept[word] = value
    return kept


def tool_decision_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """One tool with arguments that fit its schema, or no tool."""
    choices: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": _argument_schema(tool.parameters)},
            "required": ["tool", "arguments"],
        }
        for tool in tools
    ]
    choices.append({"type": "object", "properties": {"tool": {"const": NO_TOOL}}, "required": ["tool"]})
    return {"anyOf": choices}


def _arguments_hint(tool: ToolSpec) -> str:
    """`Arguments: name (what it is), ...` from the schema's descriptions: small models need the words."""
    properties = tool.parameters.get("properties") if isinstance(tool.parameters, dict) else None
    if not isinstance(properties, dict) or not properties:
        return ""
    described = []
    for name, schema in list(properties.items())[:12]:
        about = schema.get("description") if isinstance(schema, dict) else None
        described.append(f"{name} ({str(about)[:120]})" if about else str(name))
    return " Arguments: " + ", ".join(described) + "."


def decide_tool(
    provider: Provider, request: ChatRequest, tools: list[ToolSpec], cancel: CancelToken
) -> Generator[Event, None, ToolCall | None]:
    """Ask, constrained by a JSON schema, whether a tool is needed before answering; returns the ToolCall or None.

    For backends without native tool calls: any chat template can do it, and even the starter model's JSON is
    valid. The question is not kept in the thread; only the call (and its result) go into the request."""
    yield Status("Deciding whether a tool is needed")
    listing = "\n".join(f"- {tool.name}: {tool.description}{_arguments_hint(tool)}" for tool in tools)
    question = ChatMessage("user", _ASK_TOOL.format(listing=listing, none=NO_TOOL))
    raw, decision = yield from constrained_json(
        provider, [*request.messages, question], tool_decision_schema(tools), _TOOL_DECISION_TOKENS, cancel
    )
    if not isinstance(decision, dict) or decision.get("tool") in (None, NO_TOOL):
        return None
    name = decision["tool"]
    if name not in {tool.name for tool in tools}:
        return None  # the schema allows only the offered names; a backend that ignored it gets no call
    arguments = decision.get("arguments")
    return ToolCall(new_call_id(), str(name), arguments if isinstance(arguments, dict) else None, raw)
