"""Decisions a model makes in JSON constrained by a schema, for backends without native tool calls (local models):
which tool to call, if any, before answering; the handoff decision after it (handoff.py) uses the same step."""

from __future__ import annotations

import json
import re
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
from app.core.providers.tool_format import new_call_id

NO_TOOL = "none"
_TOOL_DECISION_TOKENS = 256
# the JSON-schema words llama.cpp's grammar converter follows; the rest (descriptions, formats) is left out
_SCHEMA_WORDS = (
    "type",
    "properties",
    "required",
    "enum",
    "const",
    "items",
    "minimum",
    "maximum",
    "anyOf",
    "minLength",
    "maxLength",
)
_MAX_STRING = 500  # characters in a string argument: a small model that never closes its quote stops here
_ASK_TOOL = (
    "Before you answer: does the last request need one of these tools? Tools:\n{listing}\n"
    'Reply in JSON: {{"tool": the tool\'s name, "arguments": its arguments}}, or {{"tool": "{none}"}} '
    "if no tool is needed."
)
_ASK_PINNED = (
    "Before you answer, call this tool for the last request:\n{listing}\n"
    'Reply in JSON: {{"tool": the tool\'s name, "arguments": its arguments}}.'
)


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
    if kept.get("type") == "string":  # a required text is never empty; any text ends
        kept["minLength"] = max(1, min(int(kept.get("minLength") or 1), _MAX_STRING))
        kept["maxLength"] = min(int(kept.get("maxLength") or _MAX_STRING), _MAX_STRING)
    return kept


def tool_decision_schema(tools: list[ToolSpec], optional: bool = True) -> dict[str, Any]:
    """One tool with arguments that fit its schema, or (when `optional`) no tool."""
    choices: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": _argument_schema(tool.parameters)},
            "required": ["tool", "arguments"],
        }
        for tool in tools
    ]
    if optional:
        choices.append({"type": "object", "properties": {"tool": {"const": NO_TOOL}}, "required": ["tool"]})
    return {"anyOf": choices}


def _spoken_names(tool: ToolSpec) -> list[str]:
    """How a message may name a tool: `server__tool` as offered, `server.tool` as granted, the tool's own name,
    and that name with `_` and `-` read as spaces ("get current time")."""
    own = tool.name.rpartition("__")[2]
    names = {tool.name, tool.name.replace("__", "."), own, re.sub(r"[_-]+", " ", own).strip()}
    return [name for name in names if len(name) >= 3]


def named_tools(text: str, tools: list[ToolSpec]) -> list[ToolSpec]:
    """The offered tools the message names in words, in the order it names them ("use the calculator")."""
    found: list[tuple[int, ToolSpec]] = []
    for tool in tools:
        places = [
            match.start()
            for name in _spoken_names(tool)
            for match in re.finditer(rf"(?<![\w.]){re.escape(name)}(?![\w])", text, re.IGNORECASE)
        ]
        if places:
            found.append((min(places), tool))
    return [tool for _, tool in sorted(found, key=lambda pair: pair[0])]


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


def _listing(tools: list[ToolSpec]) -> str:
    """The offered tools, a line each, as the decision question lists them."""
    return "\n".join(f"- {tool.name}: {tool.description}{_arguments_hint(tool)}" for tool in tools)


def decide_tool(
    provider: Provider,
    request: ChatRequest,
    tools: list[ToolSpec],
    cancel: CancelToken,
    pinned: ToolSpec | None = None,
) -> Generator[Event, None, ToolCall | None]:
    """Ask, constrained by a JSON schema, whether a tool is needed before answering; returns the ToolCall or None.

    For backends without native tool calls: any chat template can do it, and even the starter model's JSON is
    valid. The question is not kept in the thread; only the call (and its result) go into the request.
    `pinned`: the request names this tool, so it is called; only it is offered, and the model fills in its
    arguments."""
    if pinned is not None:
        yield Status(f"Filling in the arguments for {pinned.name}, which the request names")
        schema = tool_decision_schema([pinned], optional=False)
        question = ChatMessage("user", _ASK_PINNED.format(listing=_listing([pinned])))
    else:
        yield Status("Deciding whether a tool is needed")
        schema = tool_decision_schema(tools)
        question = ChatMessage("user", _ASK_TOOL.format(listing=_listing(tools), none=NO_TOOL))
    raw, decision = yield from constrained_json(
        provider, [*request.messages, question], schema, _TOOL_DECISION_TOKENS, cancel
    )
    if not isinstance(decision, dict) or decision.get("tool") in (None, NO_TOOL):
        return None
    name = decision["tool"]
    if name not in {tool.name for tool in tools}:
        return None  # the schema allows only the offered names; a backend that ignored it gets no call
    arguments = decision.get("arguments")
    return ToolCall(new_call_id(), str(name), arguments if isinstance(arguments, dict) else None, raw)
