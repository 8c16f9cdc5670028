"""Tool calls in a model's own format, for local models whose chat template knows tools (Qwen 2.5/3 and Hermes
write `<tool_call>{…}</tool_call>`, Llama 3.1+ a bare `{"name": …, "parameters": …}` or `<|python_tag|>`,
Mistral `[TOOL_CALLS][…]`): which format a template uses, the conversation as those templates read it, and a
scanner that shows a reply's text as it streams while holding back, then parsing, the calls it makes.

A model's output is untrusted: calls are bounded in number and size, and text that only looks like a call
(not valid JSON, or no name) is shown as the text it is."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from app.core.providers.base import ChatMessage, ToolCall, ToolSpec

HERMES = "hermes"
LLAMA3 = "llama3"
MISTRAL = "mistral"
MAX_CALLS = 8  # per reply
MAX_CALL_CHARS = 64_000  # the held-back text of a reply's calls

# where a reply's calls begin, per format; Llama 3 may also open its reply with a bare JSON object
_MARKERS = {HERMES: "<tool_call>", LLAMA3: "<|python_tag|>", MISTRAL: "[TOOL_CALLS]"}
_HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(6)


def native_format(chat_template: str | None) -> str | None:
    """The tool-call format a chat template was written for, or None: it renders no tools (most small models'
    templates), or in a way we do not know, and the crew's schema-constrained decision step is used instead."""
    if not chat_template or not re.search(r"\btools\b", chat_template):
        return None
    if "<tool_call>" in chat_template:
        return HERMES
    if "[TOOL_CALLS]" in chat_template:
        return MISTRAL
    if "<|python_tag|>" in chat_template or "ipython" in chat_template:
        return LLAMA3
    return None


def template_tools(specs: list[ToolSpec]) -> list[dict[str, Any]]:
    """The tools as chat templates expect them (OpenAI's shape)."""
    return [
        {"type": "function", "function": {"name": s.name, "description": s.description, "parameters": s.parameters}}
        for s in specs
    ]


def template_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """The conversation in OpenAI's shape, as tool-aware chat templates read it: an assistant turn keeps its
    calls (arguments as an object: the templates write them with `tojson`), a result is a `tool` turn."""
    shaped: list[dict[str, Any]] = []
    for message in messages:
        data: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            data["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or {}}}
                for c in message.tool_calls
            ]
        if message.role == "tool":
            data["tool_call_id"] = message.tool_call_id or ""
            data["name"] = message.name or ""
        shaped.append(data)
    return shaped


class CallScanner:
    """Splits a streamed reply into the text to show and the tool calls to make.

    `feed` returns the text that can be shown now: everything before a call marker, less a tail that might be
    the start of one. From the marker on, text is held (up to MAX_CALL_CHARS) and `finish` parses it."""

    def __init__(self, format_: str, call_id: Any = new_call_id) -> None:
        self.format = format_
        self.marker = _MARKERS[format_]
        self.new_id = call_id
        self.shown = False  # some text has been shown: a Llama 3 bare-JSON call can only open a reply
        self.pending = ""  # text not yet shown (a possible marker's start)
        self.held: str | None = None  # the calls' text, once a marker was seen
        self.opened_with = ""  # the marker that began it ("" for a bare JSON call)

    def feed(self, delta: str) -> str:
        if self.held is not None:
            self.held = (self.held + delta)[:MAX_CALL_CHARS]
            return ""
        text = self.pending + delta
        if self.format == LLAMA3 and not self.shown and text.lstrip().startswith("{"):
            self.held = text.lstrip()[:MAX_CALL_CHARS]
            self.pending = ""
            return ""
        at = text.find(self.marker)
        if at >= 0:
            self.held = text[at + len(self.marker) :][:MAX_CALL_CHARS]
            self.opened_with = self.marker
            self.pending = ""
            return self._show(text[:at])
        keep = _partial_marker(text, self.marker)
        if self.format == LLAMA3 and not self.shown and not text.strip():
            keep = len(text)  # only whitespace so far: a bare JSON call may still follow
        self.pending = text[len(text) - keep :] if keep else ""
        return self._show(text[: len(text) - keep])

    def finish(self) -> tuple[str, list[ToolCall]]:
        """The text still to show and the calls, once the reply ended. Held text that holds no valid call is
        given back as text."""
        if self.held is None:
            rest, self.pending = self.pending, ""
            return rest, []
        calls = self._parse(self.held)
        return ("", calls) if calls else (self.opened_with + self.held, [])

    def _show(self, text: str) -> str:
        if text.strip():
            self.shown = True
        return text

    def _parse(self, held: str) -> list[ToolCall]:
        if self.format == HERMES:
            bodies = [match.group(1) for match in _HERMES_CALL.finditer(self.marker + held)]
        elif self.format == MISTRAL:
            value = _json(held.strip())
            bodies = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        else:  # Llama 3: one object, or several separated by ';'
            bodies = [part for part in held.split(";") if part.strip()]
        calls: list[ToolCall] = []
        for body in bodies[:MAX_CALLS]:
            value = _json(body) if isinstance(body, str) else body
            if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
                continue
            arguments = value.get("arguments", value.get("parameters", {}))
            if isinstance(arguments, str):  # some models write the arguments as a JSON string
                arguments = _json(arguments)
            raw = body if isinstance(body, str) else json.dumps(body)
            calls.append(
                ToolCall(self.new_id(), value["name"], arguments if isinstance(arguments, dict) else None, raw)
            )
        return calls


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None


def _partial_marker(text: str, marker: str) -> int:
    """How many characters at the end of `text` could begin `marker`."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:size]):
            return size
    return 0
