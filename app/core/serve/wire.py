"""The OpenAI wire format as the local API speaks it: bounded request bodies, errors, completions and chunks."""

from __future__ import annotations

import base64
import struct
import time
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.store.records import new_id

# Request bounds: a client is untrusted input (docs/architecture.md, section 7).
MAX_BODY_BYTES = 1024 * 1024  # a bigger body is refused with 413 before it is read whole
MAX_MESSAGES = 256
MAX_MESSAGE_CHARS = 200_000
MAX_REPLY_TOKENS = 32_768
MAX_EMBEDDING_INPUTS = 256


class ApiError(Exception):
    """A request the API refuses: its HTTP status and an OpenAI-shaped `{"error": {...}}` body.

    Attributes:
        status: the HTTP status.
        headers: extra response headers (`Retry-After` on 429, `WWW-Authenticate` on 401).
    """

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


Text = Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]


class _Wire(BaseModel):
    # OpenAI clients send fields this server has no use for (`user`, `logprobs`, ...): ignored, never an error
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Wire):
    type: str
    text: str | None = Field(None, max_length=MAX_MESSAGE_CHARS)


class WireMessage(_Wire):
    """One message of a request's `messages`."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | Annotated[list[ContentPart], Field(max_length=MAX_MESSAGES)] | None = None
    name: str | None = Field(None, max_length=64)

    def text(self) -> str:
        """The message's text; ApiError for content other than text (images, audio)."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.type != "text" or part.text is None:
                found = f"found a '{part.type[:40]}' part"
                raise ApiError(400, f"Only text content is supported ({found}).", param="messages")
            parts.append(part.text)
        return "\n".join(parts)


class StreamOptions(_Wire):
    include_usage: bool = False


class Extension(_Wire):
    """The `roundtable` field of a request: `events` asks for the run's events (README, *Local API*)."""

    events: bool = False


class ChatCompletionRequest(_Wire):
    """`POST /v1/chat/completions`; `model` is `copilot:<id>`, `crew:<workspace>` or `model:<installed id>`."""

    model: str = Field(min_length=1, max_length=200)
    messages: list[WireMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=MAX_REPLY_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_REPLY_TOKENS)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = None
    n: int | None = Field(None, ge=1, le=1)
    roundtable: Extension = Field(default_factory=Extension)

    @property
    def reply_tokens(self) -> int | None:
        """The cap on each reply: `max_completion_tokens` (the newer name), else `max_tokens`."""
        return self.max_completion_tokens or self.max_tokens


class EmbeddingRequest(_Wire):
    """`POST /v1/embeddings`."""

    model: str = Field(min_length=1, max_length=200)
    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)]
    encoding_format: Literal["float", "base64"] | None = None  # OpenAI's client asks for base64 unless told

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input


def embedding_value(vector: list[float], encoding: str | None) -> list[float] | str:
    """A vector as `encoding_format` asks: a list of floats, or base64 of little-endian float32s."""
    if encoding != "base64":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


_Request = TypeVar("_Request", bound=BaseModel)


def parse(model: type[_Request], data: Any) -> _Request:
    """`data` as a `model` request; ApiError 400 naming the first bad field otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # a union's member names its branch in the path (`constrained-str`, `list[ContentPart]`): not a field
        path = [p for p in first["loc"] if isinstance(p, int) or (p.isidentifier() and p not in ("str", "list"))]
        where = ".".join(str(part) for part in path) or "body"
        raise ApiError(400, f"'{where}': {first['msg']}.", param=where) from None


class Completion:
    """One chat completion's identity, and the JSON objects that carry it: chunks, or the whole completion."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{new_id()}"
        self.created = int(time.time())
        self.model = model

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        """A `chat.completion.chunk` with one choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._head("chat.completion.chunk"), "choices": [choice]}

    def side_chunk(self, **fields: Any) -> dict[str, Any]:
        """A chunk with no choices (as OpenAI sends `usage` last), carrying `fields`: usage, or a run event."""
        return {**self._head("chat.completion.chunk"), "choices": [], **fields}

    def whole(self, text: str, finish_reason: str, usage: dict[str, int], **fields: Any) -> dict[str, Any]:
        """The `chat.completion` of a call that did not stream."""
        message = {"role": "assistant", "content": text, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        return {**self._head("chat.completion"), "choices": [choice], "usage": usage, **fields}


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
