"""The one protocol every copilot backend speaks: a chat request in, a stream of events out, cancellable.

Local model hosts, OpenAI-compatible servers, OpenBB agents and A2A agents all implement `Provider`.
The crew engine only ever sees these types.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from typing import (
    Any,
    ClassVar,
    Literal,
    Protocol,
    Self,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    runtime_checkable,
)

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
    # against repetition (OpenAI's presence and frequency penalties; llama.cpp's repeat penalty and min-p)
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    min_p: float = 0.05


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
    """Something a provider or a crew run reports; `type` names it on the wire and in JSON output.

    `to_dict` and `from_dict` are each other's inverse, so an event written anywhere (a JSON line, the event
    log, an archive) reads back as the same typed object.
    """

    type: ClassVar[str] = "event"
    # field -> its JSON name, where a Python keyword is in the way (`from`)
    json_names: ClassVar[dict[str, str]] = {}

    def fields(self) -> dict[str, Any]:
        """The event's fields under their JSON names, without `type`."""
        return {self.json_names.get(name, name): value for name, value in asdict(self).items()}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.fields()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The event whose fields `data` holds (under their JSON names; `type` and unknown keys are ignored).

        Raises FieldError when a field without a default is missing or a value is not of its field's type:
        the data may come from an imported archive.
        """
        values: dict[str, Any] = {}
        owner: type[Event] = cls
        required = _required(owner)
        for name, hint in _field_hints(owner).items():
            key = cls.json_names.get(name, name)
            if key in data:
                values[name] = _typed(key, hint, data[key], name in required)
            elif name in required:
                raise FieldError(key, f"missing or not {_word(hint)}")
        return cls(**values)


class FieldError(ValueError):
    """A stored or received event's field that is missing or of the wrong type; `key` is its path."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"'{key}' is {problem}")
        self.key = key
        self.problem = problem


_HINTS: dict[type[Event], dict[str, Any]] = {}  # resolved once per class: a thread's timeline reads many events


def _field_hints(cls: type[Event]) -> dict[str, Any]:
    if cls not in _HINTS:
        hints = get_type_hints(cls)
        _HINTS[cls] = {f.name: hints[f.name] for f in dataclass_fields(cls)}
    return _HINTS[cls]


def _required(cls: type[Event]) -> set[str]:
    return {f.name for f in dataclass_fields(cls) if f.default is MISSING and f.default_factory is MISSING}


_WORDS: dict[type, str] = {str: "text", list: "a list", dict: "an object", int: "a number", float: "a number"}


def _word(hint: Any) -> str:
    """What a field of type `hint` holds, in words (the first of a union's types that is not None)."""
    options = [option for option in get_args(hint) if option is not type(None)] or [hint]
    first = get_origin(options[0]) or options[0]
    if isinstance(first, type) and issubclass(first, Event):
        return "an object"
    return _WORDS.get(first, "true or false" if first is bool else str(first))


def _typed(key: str, hint: Any, value: Any, required: bool = True) -> Any:
    """`value` as a field of type `hint` (an event inside is rebuilt from its dict); FieldError if it is not one."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return _typed(key, option, value)
            except FieldError as exc:
                if exc.key != key:  # the value was of this type, but something inside it is wrong
                    raise
    elif hint is type(None):
        if value is None:
            return None
    elif isinstance(hint, type) and issubclass(hint, Event):
        if isinstance(value, hint):
            return value
        if isinstance(value, dict):
            try:
                return hint.from_dict(value)
            except FieldError as exc:
                raise FieldError(f"{key}.{exc.key}", exc.problem) from None
    elif origin is list and isinstance(value, list):
        return [_typed(f"{key}.{n}", args[0], item) for n, item in enumerate(value)] if args else list(value)
    elif origin is dict and isinstance(value, dict):
        return value
    elif hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif isinstance(hint, type) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise FieldError(key, f"{'missing or ' if required else ''}not {_word(hint)}")


# -- provider events ----------------------------------------------------------------------------------------


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
    """A passage a reply rests on: from the agent itself, or a workspace document the request carried.

    `number` is the [n] the answer may name, `cited` whether it did; `chunk_id` points into the document index;
    `query` is the question the passage was found for (a view highlights its words in the passage).
    """

    type: ClassVar[str] = "citation"
    source: str
    passage: str = ""
    location: str | None = None
    number: int | None = None
    chunk_id: int | None = None
    cited: bool | None = None
    query: str | None = None


@dataclass
class Usage(Event):
    type: ClassVar[str] = "usage"
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None = None
    decode_tokens_per_s: float | None = None


@dataclass
class Confidence(Event):
    """The reply's token confidence: each generated token's probability and its most likely alternatives, as
    `app.core.confidence.pack` packs them, base64-encoded (`packed`); or none, and `missing` says why.

    Sent once, before Done; a provider that never sends one has no confidence data (the reply is marked so).
    """

    type: ClassVar[str] = "confidence"
    packed: str = ""
    missing: str | None = None


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

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` on cancel (at once if already cancelled); what it returns takes the callback back, for
        work that ends before the token does (one request of a reply)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        callback()
        return lambda: None

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks = [c for c in self._callbacks if c is not callback]


@runtime_checkable
class Provider(Protocol):
    """A copilot backend. `stream` yields events and ends with exactly one Done or Error.

    Every capability the crew reads is declared here, and every provider sets each one: the engine reads them
    as attributes, never with a default.

    Attributes:
        supports_tools: whether it emits ToolCall events for `request.tools` (native tool calling); for one
            that does not, the crew asks for decisions such as handoffs with a `json_schema` request instead.
        supports_json_schema: whether it honours `request.json_schema` (constrained output); for one that does
            not, the crew asks a local judge model (`AppContext.judge`) to route and to decide handoffs.
        pins_named_tools: whether the crew calls the tools a request names (and, without native tool calls,
            decides the others) with `json_schema` steps before the reply: local models, small ones above all.
        replayable: whether the same request with the same seed gives the same reply (a local model): its
            replies get a seed of their own, and `threads replay` asks them again (`provenance()["replay"]`).
    """

    supports_tools: bool
    supports_json_schema: bool
    pins_named_tools: bool
    replayable: bool

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]: ...

    def describe(self) -> dict[str, Any]:
        """What this backend is (model, endpoint) for traces; never holds secrets."""
        ...

    def provenance(self) -> dict[str, Any]:
        """The files behind its replies, with their sha256, for a reply's provenance (`app.core.provenance`); a
        remote backend's are its own: {} (`describe` names the endpoint)."""
        ...
