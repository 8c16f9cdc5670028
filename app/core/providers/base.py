"""The one protocol every copilot backend speaks: a chat request in, a stream of events out, cancellable.

Local model hosts, OpenAI-compatible servers, OpenBB agents and A2A agents all implement `Provider`.
The crew engine only ever sees these types.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ChatMessage:
    """One turn of the conversation as a provider sees it; `name` says which copilot or person spoke."""

    role: Role
    content: str
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)  # an assistant turn that called tools
    tool_call_id: str | None = None  # a tool turn: the call it answers


@dataclass
class Sampling:
    """How tokens are chosen; temperature 0 means greedy."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int | None = None


@dataclass
class ToolSpec:
    """A tool the model may call, described by a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ChatRequest:
    """What a copilot is asked: the transcript, how to sample, and optional tools or a JSON schema."""

    messages: list[ChatMessage]
    sampling: Sampling = field(default_factory=Sampling)
    tools: list[ToolSpec] = field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    # passages of the workspace's documents for this question ({source, location, text}); they are in the
    # system message too, for backends that read one
    documents: list[dict[str, Any]] = field(default_factory=list)


# -- events -------------------------------------------------------------------------------------------------


@dataclass
class Event:
    """Something a provider reports while answering; `type` names it on the wire and in JSON output."""

    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass
class TextDelta(Event):
    type: ClassVar[str] = "text"
    delta: str


@dataclass
class ReasoningDelta(Event):
    type: ClassVar[str] = "reasoning"
    delta: str


@dataclass
class ToolCall(Event):
    """The model asks for a tool; `arguments` is None when `raw` was not valid JSON (the caller decides)."""

    type: ClassVar[str] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any] | None
    raw: str = ""


@dataclass
class Status(Event):
    """Progress the user may see ("loading model", "searching documents")."""

    type: ClassVar[str] = "status"
    message: str


@dataclass
class Citation(Event):
    type: ClassVar[str] = "citation"
    source: str
    passage: str
    location: str | None = None


@dataclass
class Usage(Event):
    type: ClassVar[str] = "usage"
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None = None
    decode_tokens_per_s: float | None = None


@dataclass
class Done(Event):
    """The answer ended; finish_reason is `stop`, `length`, `tool_calls` or `cancelled`."""

    type: ClassVar[str] = "done"
    finish_reason: str = "stop"


@dataclass
class Error(Event):
    """The answer failed; `kind` is a stable word (`model_file`, `crashed`, `context`, `network`, ...)."""

    type: ClassVar[str] = "error"
    message: str
    kind: str = "error"


class CancelToken:
    """A flag a caller sets to stop an answer; providers check it between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run `callback` on cancel (at once if already cancelled)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()


@runtime_checkable
class Provider(Protocol):
    """A copilot backend. `stream` yields events and ends with exactly one Done or Error.

    Attributes:
        supports_tools: whether it emits ToolCall events for `request.tools` (native tool calling); for one
            that does not, the crew asks for decisions such as handoffs with a `json_schema` request instead.
    """

    supports_tools: bool

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]: ...

    def describe(self) -> dict[str, Any]:
        """What this backend is (model, endpoint) for traces; never holds secrets."""
        ...
