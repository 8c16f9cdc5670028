"""Copilots on any OpenAI-compatible server: llama.cpp's server, llama-cpp-python's, vLLM, Ollama, LM Studio,
OpenAI. Chat completions streamed over SSE; tool calls assembled from their deltas by index."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Done,
    Error,
    Event,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from app.core.providers.http import Remote, RemoteError, guarded, parse_event_json, sse_events
from app.core.secrets import auth_headers


def api_base(url: str) -> str:
    """The `/v1` base of a server, whether the user gave `http://host:8080` or `http://host:8080/v1`."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def wire_message(message: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.raw or json.dumps(c.arguments)},
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    return data


@dataclass
class _PartialCall:
    """A tool call as its deltas arrive: the id and name come once (or never), the arguments in pieces."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add(self, fragment: dict[str, Any]) -> None:
        function = fragment.get("function") or {}
        self.id = self.id or fragment.get("id") or ""
        self.name = self.name or function.get("name") or ""
        arguments = function.get("arguments")
        if arguments:  # a string to concatenate; Ollama sends the whole object at once
            self.arguments.append(arguments if isinstance(arguments, str) else json.dumps(arguments))


class OpenAICompatProvider:
    """A copilot served by an OpenAI-compatible endpoint.

    Attributes:
        remote: the server, with the key's header.
        model: the model name the server knows.
    """

    supports_tools = True
    supports_json_schema = True

    def __init__(self, endpoint: str, model: str, key_name: str | None = None) -> None:
        self.remote = Remote(api_base(endpoint), auth_headers(key_name), key_name)
        self.model = model

    @classmethod
    def from_config(cls, config: dict[str, Any], _services: Any) -> OpenAICompatProvider:
        if not config.get("endpoint"):
            raise RemoteError(f"Copilot '{config.get('id')}' has no endpoint: set one with --openai URL.", "rejected")
        return cls(config["endpoint"], config.get("model") or "default", config.get("api_key_name"))

    def describe(self) -> dict[str, Any]:
        return {"provider": "openai", "endpoint": self.remote.base_url, "model": self.model}

    def models(self) -> list[str]:
        """The model names the server offers (GET /v1/models)."""
        listing = self.remote.get_json("models")
        return [m.get("id", "?") for m in listing.get("data", []) if isinstance(m, dict)]

    def body(self, request: ChatRequest) -> dict[str, Any]:
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [wire_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema, "strict": True},
            }
        return body

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        return guarded(self._stream(request, cancel), cancel)

    def _stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        started = time.monotonic()
        first: float | None = None
        calls: dict[int, _PartialCall] = {}
        usage: dict[str, Any] = {}
        finish = None
        pieces = 0
        for _name, data in sse_events(self.remote.stream_lines("chat/completions", self.body(request), cancel)):
            if data.strip() == "[DONE]":
                finish = finish or "stop"
                break
            chunk = parse_event_json(data, self.remote.base_url)
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:  # some servers report a failure inside the stream
                error = chunk["error"]
                said = error.get("message", error) if isinstance(error, dict) else error
                raise RemoteError(f"{self.remote.base_url} failed mid-reply: {said}", "server")
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning:
                    yield ReasoningDelta(reasoning)
                if delta.get("content"):
                    first = first or time.monotonic()
                    pieces += 1
                    yield TextDelta(delta["content"])
                for fragment in delta.get("tool_calls") or []:
                    calls.setdefault(fragment.get("index", len(calls)), _PartialCall()).add(fragment)
                finish = choice.get("finish_reason") or finish
        if cancel.cancelled:
            return
        if finish is None:
            yield Error(
                f"{self.remote.base_url} ended the reply mid-stream (no finish): what arrived is kept.", "network"
            )
            return
        for index in sorted(calls):
            yield _tool_call(calls[index], index)
        elapsed = time.monotonic() - (first or started)
        yield Usage(
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or pieces),
            ttft_s=(first - started) if first else None,
            decode_tokens_per_s=(pieces / elapsed) if first and elapsed > 0 else None,
        )
        yield Done("tool_calls" if calls else finish)


def _tool_call(partial: _PartialCall, index: int) -> ToolCall:
    raw = "".join(partial.arguments)
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        arguments = None
    return ToolCall(partial.id or f"call_{index}", partial.name, arguments, raw)
