"""Copilots on any OpenAI-compatible server: llama.cpp's server, llama-cpp-python's, vLLM, Ollama, LM Studio,
OpenAI. Chat completions streamed over SSE; tool calls assembled from their deltas by index."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.core.confidence import NO_DATA
from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Confidence,
    Done,
    Error,
    Event,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from app.core.providers.bounds import guarded, reply_char_cap
from app.core.providers.http import (
    REPLY_DEADLINE_S,
    Remote,
    RemoteError,
    ReplyGuard,
    one_line,
    parse_event_json,
    reply_deadline,
    sse_events,
)
from app.core.providers.logprobs import TOP_LOGPROBS, LogprobReader
from app.core.secrets import auth_headers

MAX_TOOL_CALLS = 64  # in one reply; a server naming more is misbehaving


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

    def add(self, fragment: dict[str, Any], guard: ReplyGuard) -> None:
        """Take one delta's piece; its arguments count against the reply's character budget."""
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        self.id = self.id or str(fragment.get("id") or "")
        self.name = self.name or str(function.get("name") or "")
        arguments = function.get("arguments")
        if arguments:  # a string to concatenate; Ollama sends the whole object at once
            piece = arguments if isinstance(arguments, str) else json.dumps(arguments)
            guard.spend(len(piece))
            self.arguments.append(piece)


class OpenAICompatProvider:
    """A copilot served by an OpenAI-compatible endpoint.

    Attributes:
        remote: the server, with the key's header.
        model: the model name the server knows.
    """

    supports_tools = True
    supports_json_schema = True
    pins_named_tools = False  # a remote model calls tools natively
    replayable = False

    def __init__(
        self, endpoint: str, model: str, key_name: str | None = None, deadline_s: float = REPLY_DEADLINE_S
    ) -> None:
        self.remote = Remote(api_base(endpoint), auth_headers(key_name), key_name, deadline_s=deadline_s)
        self.model = model

    @classmethod
    def from_config(cls, config: dict[str, Any], services: Any) -> OpenAICompatProvider:
        if not config.get("endpoint"):
            raise RemoteError(f"Copilot '{config.get('id')}' has no endpoint: set one with --openai URL.", "rejected")
        model = config.get("model") or "default"
        return cls(config["endpoint"], model, config.get("api_key_name"), reply_deadline(services))

    def provenance(self) -> dict[str, Any]:

        return {}  # a remote agent's model and files are its own


    def describe(self) -> dict[str, Any]:
        return {"provider": "openai", "endpoint": self.remote.base_url, "model": self.model}

    def models(self) -> list[str]:
        """The model names the server offers (GET /v1/models)."""
        listing = self.remote.get_json("models")
        return [m.get("id", "?") for m in listing.get("data", []) if isinstance(m, dict)]

    def body(self, request: ChatRequest, logprobs: bool = False) -> dict[str, Any]:
        """The request as the server reads it; with `logprobs`, each token's probability and its alternatives
        are asked for (the reply's token confidence)."""
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
        if logprobs:
            body.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.presence_penalty:  # the penalties only where a manifest sets them
            body["presence_penalty"] = sampling.presence_penalty
        if sampling.frequency_penalty:
            body["frequency_penalty"] = sampling.frequency_penalty
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            # OpenAI's default when tools are offered, but some servers (llama-cpp-python's) take a missing
            # tool_choice as "none" and leave the tools out of the prompt: say it
            body["tool_choice"] = "auto"
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema, "strict": True},
            }
        return body

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        max_tokens = request.sampling.max_tokens
        guard = self.remote.guard(reply_char_cap(max_tokens), f", far beyond the {max_tokens} tokens asked for")
        return guarded(self._stream(request, cancel, guard), cancel, guard, self.remote.secrets())

    def _stream(self, request: ChatRequest, cancel: CancelToken, guard: ReplyGuard) -> Iterator[Event]:
        if request.tools and self.remote.base_url in _NO_STREAMED_TOOLS:
            yield from self._whole(request, cancel, guard)
            return
        started = time.monotonic()
        first: float | None = None
        calls: dict[int, _PartialCall] = {}
        usage: dict[str, Any] = {}
        finish = None
        pieces = 0
        where = self.remote.base_url
        events, head, logprobs, failure = self._open(request, cancel, guard)
        if failure is not None and (not request.tools or cancel.cancelled):
            raise failure
        if head is None and request.tools and not cancel.cancelled:
            # a server that cannot stream a reply that offers tools (llama-cpp-python's function-calling formats
            # end such a stream at once, or drop the connection): this reply, and the next with tools from this
            # server, are asked for whole
            _NO_STREAMED_TOOLS.add(where)
            yield from self._whole(request, cancel, guard)
            return
        tokens = LogprobReader(where)
        for _name, data in itertools.chain([head] if head is not None else [], events):
            if data.strip() == "[DONE]":
                finish = finish or "stop"
                break
            chunk = parse_event_json(data, where)
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:  # some servers report a failure inside the stream
                error = chunk["error"]
                said = error.get("message", error) if isinstance(error, dict) else error
                said = one_line(said)
                raise RemoteError(f"{where} failed mid-reply: {said}", "server")
            usage = _typed(chunk.get("usage"), dict, "usage", where) or usage
            for choice in _typed(chunk.get("choices"), list, "choices", where):
                choice = _typed(choice, dict, "choices[]", where)
                tokens.add(choice.get("logprobs"))
                delta = _typed(choice.get("delta"), dict, "delta", where)
                reasoning = _typed(delta.get("reasoning_content") or delta.get("reasoning"), str, "reasoning", where)
                if reasoning:
                    yield ReasoningDelta(reasoning)
                content = _typed(delta.get("content"), str, "content", where)
                if content:
                    first = first or time.monotonic()
                    pieces += 1
                    yield TextDelta(content)
                for fragment in _typed(delta.get("tool_calls"), list, "tool_calls", where):
                    fragment = _typed(fragment, dict, "tool_calls[]", where)
                    index = fragment.get("index", len(calls))
                    if not isinstance(index, int) or (index not in calls and len(calls) >= MAX_TOOL_CALLS):
                        raise RemoteError(
                            f"{where} sent a tool call with a bad index ({str(index)[:20]}) or more than "
                            f"{MAX_TOOL_CALLS} calls: the reply was stopped; the server is misbehaving.",
                            "protocol",
                        )
                    guard.progressed()
                    calls.setdefault(index, _PartialCall()).add(fragment, guard)
                finish = _typed(choice.get("finish_reason"), str, "finish_reason", where) or finish
        if cancel.cancelled:
            return
        if finish is None:
            yield Error(
                f"{self.remote.base_url} ended the reply mid-stream (no finish): what arrived is kept.", "network"
            )
            return
        for index in sorted(calls):
            yield _tool_call(calls[index], index)
        yield self._confidence(tokens, logprobs)
        elapsed = time.monotonic() - (first or started)
        yield Usage(
            _count(usage.get("prompt_tokens"), 0),
            _count(usage.get("completion_tokens"), pieces),
            ttft_s=(first - started) if first else None,
            decode_tokens_per_s=(pieces / elapsed) if first and elapsed > 0 else None,
        )
        yield Done("tool_calls" if calls else finish)

    def _open(
        self, request: ChatRequest, cancel: CancelToken, guard: ReplyGuard
    ) -> tuple[Iterator[tuple[str, str]], tuple[str, str] | None, bool, RemoteError | None]:
        """Send the streamed request, asking for token probabilities where the server has not refused them:
        (its events, the first of them or None, whether they were asked for, the failure before any event).

        A server may refuse `logprobs` with an error status, or end its stream at once (llama-cpp-python's
        without logits_all fails on them after its headers): then it is asked once more without them, and not
        asked for them again while this process runs. A stream that offered tools and ended at once is the
        server not streaming tools: the whole reply is asked for instead (with them, where they are refused
        there too, again without).
        """
        asked = self._logprobs_offered()
        for logprobs in (True, False) if asked else (False,):
            events: Iterator[tuple[str, str]] = iter(())
            head, failure = None, None
            try:
                lines = self.remote.stream_lines("chat/completions", self.body(request, logprobs), cancel, guard)
                events = sse_events(lines, self.remote.base_url)
                head = next(events, None)
            except RemoteError as exc:
                failure = exc
            if head is not None or cancel.cancelled or not logprobs:
                break
            if failure is not None and not _may_refuse_logprobs(failure):
                break
            if failure is None and request.tools:
                break  # an empty stream that offered tools: taken for the tools (`_stream` asks whole), not these
        if asked and not logprobs and head is not None:
            _NO_LOGPROBS.add((self.remote.base_url, self.model))  # it answers without them
        return events, head, logprobs, failure

    def _logprobs_offered(self) -> bool:
        """Whether to ask this server for token probabilities: yes, until it refused a request for them."""
        return (self.remote.base_url, self.model) not in _NO_LOGPROBS

    def _confidence(self, tokens: LogprobReader, asked: bool) -> Confidence:
        if not asked:
            return Confidence(missing=f"{NO_DATA}: {self.remote.base_url} does not give token probabilities")
        return tokens.event(self.remote.secrets())

    def _whole(self, request: ChatRequest, cancel: CancelToken, guard: ReplyGuard) -> Iterator[Event]:
        """The reply as one JSON response (not streamed): its text, tool calls and usage as events."""
        started = time.monotonic()
        guard.stall_s = guard.deadline_s  # nothing arrives before the whole reply: only the deadline applies
        where = self.remote.base_url
        logprobs = self._logprobs_offered()
        try:
            answer = self._post_whole(request, cancel, guard, logprobs)
        except RemoteError as exc:
            if not (logprobs and _may_refuse_logprobs(exc)) or cancel.cancelled:
                raise
            logprobs = False
            answer = self._post_whole(request, cancel, guard, logprobs)
            _NO_LOGPROBS.add((where, self.model))
        reply = _typed(answer, dict, "response", where)
        if cancel.cancelled:
            return
        choices = _typed(reply.get("choices"), list, "choices", where)
        choice = _typed(choices[0] if choices else {}, dict, "choices[]", where)
        message = _typed(choice.get("message"), dict, "message", where)
        content = _typed(message.get("content"), str, "content", where)
        if content:
            guard.spend(len(content))
            yield TextDelta(content)
        calls: dict[int, _PartialCall] = {}
        for index, fragment in enumerate(_typed(message.get("tool_calls"), list, "tool_calls", where)[:MAX_TOOL_CALLS]):
            calls.setdefault(index, _PartialCall()).add(_typed(fragment, dict, "tool_calls[]", where), guard)
        for index in sorted(calls):
            yield _tool_call(calls[index], index)
        tokens = LogprobReader(where)
        tokens.add(choice.get("logprobs"))
        yield self._confidence(tokens, logprobs)
        usage = _typed(reply.get("usage"), dict, "usage", where)
        yield Usage(
            _count(usage.get("prompt_tokens"), 0),
            _count(usage.get("completion_tokens"), 0),
            ttft_s=time.monotonic() - started,
            decode_tokens_per_s=None,
        )
        finish = _typed(choice.get("finish_reason"), str, "finish_reason", where) or "stop"
        yield Done("tool_calls" if calls else finish)

    def _post_whole(self, request: ChatRequest, cancel: CancelToken, guard: ReplyGuard, logprobs: bool) -> Any:
        body = {**self.body(request, logprobs), "stream": False}
        body.pop("stream_options", None)
        try:
            return self.remote.post_json("chat/completions", body, cancel, guard, timeout=guard.deadline_s)
        except RemoteError as exc:
            if exc.kind != "network" or cancel.cancelled:
                raise
            # after a stream the server broke off, the pooled connection may be one it has closed: once more
            return self.remote.post_json("chat/completions", body, cancel, guard, timeout=guard.deadline_s)


_NO_STREAMED_TOOLS: set[str] = set()  # endpoints that cannot stream a reply with tools, learnt in this process
# (endpoint, model) pairs that refused a request for token probabilities, learnt in this process: llama-cpp-python's
# server without logits_all, models that give none (OpenAI's reasoning models)
_NO_LOGPROBS: set[tuple[str, str]] = set()
# HTTP statuses with which a server may refuse `logprobs` (a bad request, or its handler failing on them)
_REFUSAL_STATUSES = {400, 422, 500, 501}


def _may_refuse_logprobs(exc: RemoteError) -> bool:
    """Whether this failure may be the server refusing token probabilities: asked once more without them."""
    return exc.status in _REFUSAL_STATUSES


_NAMES: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


def _typed(value: Any, kind: type, field_name: str, where: str) -> Any:
    """`value` when it has the JSON type the protocol gives `field_name` (absent = empty); RemoteError if not."""
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise RemoteError(
            f"{where} sent a chunk whose '{field_name}' is not {_NAMES[kind]}: it does not speak the OpenAI "
            "streaming format; check the endpoint.",
            "protocol",
        )
    return value


def _count(value: Any, default: int) -> int:
    """A token count from the usage object; the default when the server sent something else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def _tool_call(partial: _PartialCall, index: int) -> ToolCall:
    raw = "".join(partial.arguments)
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        arguments = None
    return ToolCall(partial.id or f"call_{index}", partial.name, arguments, raw)
