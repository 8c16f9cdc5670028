"""Asking a copilot: store the question, stream the reply into the event log, and say how it ended."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from app.core.confidence import NO_DATA, ConfidenceError, missing, summary, unpack
from app.core.crew.copilots import Copilot
from app.core.crew.events import CrewError, CrewStatus, CrewText, MessageEvent, message_end_data
from app.core.crew.loops import LoopGuard
from app.core.knowledge.retrieval import citations
from app.core.provenance import pack_request, reply_provenance
from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Citation,
    Confidence,
    Done,
    Error,
    Event,
    Provider,
    ReasoningDelta,
    Sampling,
    Status,
    TextDelta,
    ToolCall,
    Usage,
)
from app.core.providers.speakers import from_copilot
from app.core.store import STATUS_COMPLETE, STATUS_FAILED, STATUS_INTERRUPTED, STATUS_STREAMING, Store
from app.core.store.knowledge import Hit

# A local reply's sampling against repetition, where its manifest sets none: chosen with bench/crew_eval.py and
# bench/sampling_sweep.py on the starter model (see the README's "Replies that don't loop").
ANTI_REPEAT: dict[str, float] = {
    "repeat_penalty": 1.1,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "min_p": 0.05,
}
REPEATING = "repeating"  # the error kind of a reply the loop guard stopped
REPEATING_MESSAGE = "Stopped: the reply was repeating itself."
# Streamed text reaches the database this often: a kill -9 loses at most this much of a reply.
CHECKPOINT_S = 0.25


def build_request(
    store: Store,
    thread_id: str,
    copilot: Copilot,
    default_max_tokens: int,
    brief: str | None = None,
    anti_repeat: bool = True,
    until: str | None = None,
) -> ChatRequest:
    """The thread as this copilot sees it: its own system prompt, the transcript with authors named, and
    last the task it was handed (`brief`), if any. With `anti_repeat`, a local copilot samples with
    `ANTI_REPEAT` where its manifest sets no penalty of its own. `until`: the transcript ends with that message
    (a roundtable's answers are each given the thread as it was when the question was asked)."""
    messages: list[ChatMessage] = []
    if copilot.system_prompt:
        messages.append(ChatMessage("system", copilot.system_prompt))
    for message in store.messages(thread_id):
        if not message.text or message.status == STATUS_FAILED:
            continue
        if message.role == "user":
            messages.append(ChatMessage("user", message.text, name=message.author))
        elif message.author == copilot.id:
            messages.append(ChatMessage("assistant", message.text, name=copilot.id))
        else:
            messages.append(from_copilot(message.author, message.text))
        if message.id == until:
            break
    if brief:
        messages.append(ChatMessage("user", brief))
    return ChatRequest(messages=messages, sampling=reply_sampling(copilot, default_max_tokens, anti_repeat))


def reply_sampling(copilot: Copilot, default_max_tokens: int, anti_repeat: bool = True) -> Sampling:
    """How `copilot` samples a reply: its manifest's values, and for a local one the anti-repetition defaults
    (`ANTI_REPEAT`, with `anti_repeat`) where the manifest leaves them unset."""
    config = copilot.sampling
    defaults = ANTI_REPEAT if anti_repeat and copilot.provider == "local" else {}
    penalties = {
        name: value if (value := getattr(config, name)) is not None else defaults.get(name, getattr(Sampling, name))
        for name in ("repeat_penalty", "presence_penalty", "frequency_penalty", "min_p")
    }
    return Sampling(
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_tokens or default_max_tokens,
        seed=config.seed,
        **penalties,
    )


@dataclass
class _Outcome:
    text_parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    error: Error | None = None
    first_text_at: float | None = None
    reasoning: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    looped: bool = False
    confidence: Confidence | None = None

    def status(self) -> str:
        if self.looped and self.error is None:
            return STATUS_COMPLETE  # stopped by the loop guard: what it said before looping stands
        if self.error is not None:
            # a crash mid-answer keeps what arrived as an interrupted reply; other errors fail the reply
            return STATUS_INTERRUPTED if self.error.kind == "crashed" else STATUS_FAILED
        if self.finish_reason is None or self.finish_reason == "cancelled":
            return STATUS_INTERRUPTED
        return STATUS_COMPLETE


def run_reply(
    store: Store,
    thread_id: str,
    copilot: Copilot,
    provider: Provider,
    request: ChatRequest,
    cancel: CancelToken,
    why: str = "asked directly",
    sources: list[Hit] | None = None,
    question: str | None = None,
    stop_loops: bool = True,
) -> Iterator[Event]:
    """Stream `provider`'s answer into a new message of the thread, checkpointing as it goes.

    `sources` are the document passages the request carries, found for `question`: they are stored with the reply
    as its citations. With `stop_loops`, a reply that starts repeating itself is stopped there (`LoopGuard`): it
    is kept as complete, with the error kind `repeating` saying why it ended.
    """
    if provider.replayable and request.sampling.seed is None:
        # a seed of its own, recorded in the trace: the same request with it gives the same reply (`replay`)
        request.sampling.seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    message_id = store.start_message(thread_id, copilot.id)
    yield MessageEvent(copilot.id, message_id, STATUS_STREAMING)
    outcome = _Outcome()
    guard = LoopGuard() if stop_loops else None
    own = CancelToken()  # this reply's: the run's cancel stops it, and so does a loop
    forget = cancel.on_cancel(own.cancel)
    pending: list[str] = []
    started = time.perf_counter()
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if pending:
            store.append_text(message_id, "".join(pending))
            pending.clear()
        last_flush = time.monotonic()

    try:
        for event in provider.stream(request, own):
            if isinstance(event, TextDelta):
                if guard is not None and guard.feed(event.delta) and not own.cancelled:
                    outcome.looped = True
                    own.cancel()  # the provider ends within a token; what it sends until then is kept
                outcome.first_text_at = outcome.first_text_at or time.perf_counter()
                pending.append(event.delta)
                outcome.text_parts.append(event.delta)
                if time.monotonic() - last_flush >= CHECKPOINT_S:
                    flush()
            elif isinstance(event, ReasoningDelta):
                outcome.reasoning.append(event.delta)  # kept with the reply, never shown as its answer
            elif isinstance(event, Citation):
                outcome.citations.append(event)
            elif isinstance(event, Usage):
                outcome.usage = event
            elif isinstance(event, Confidence):
                outcome.confidence = event
                continue
            elif isinstance(event, Done):
                outcome.finish_reason = event.finish_reason
                continue
            elif isinstance(event, Error):
                outcome.error = event
                continue
            yield event
    finally:
        forget()
        flush()
        trace = {
            "copilot": copilot.id,
            **provider.describe(),
            "sampling": asdict(request.sampling),
            "finish_reason": "repeating" if outcome.looped else outcome.finish_reason,
            "wall_ttft_s": (outcome.first_text_at - started) if outcome.first_text_at else None,
            "wall_s": time.perf_counter() - started,
            "why": why,
        }
        blob, trace["confidence"] = token_confidence(outcome.confidence)
        trace["provenance"] = reply_provenance(
            copilot.model_dump(), copilot.system_prompt, provider.provenance(), request, sources or []
        )
        found = outcome.citations + [
            Citation.from_dict(hit) for hit in citations(sources or [], "".join(outcome.text_parts), question)
        ]
        status = outcome.status()
        final = MessageEvent(copilot.id, message_id, status, outcome.usage, found)
        error = outcome.error
        if outcome.looped and error is None:
            error = Error(REPEATING_MESSAGE, kind=REPEATING)
        failure = CrewError(copilot.id, error.message, error.kind, thread_id, message_id, status) if error else None
        data = message_end_data(final, trace, failure)
        if outcome.reasoning:
            data["reasoning"] = "".join(outcome.reasoning)
        store.finish_message(message_id, status, data, blob, pack_request(request))
    # the same objects the log now holds: `Store.timeline` rebuilds them from the message.end row
    if failure is not None:
        yield failure
    yield final


def token_confidence(event: Confidence | None) -> tuple[bytes | None, dict[str, Any]]:
    """A reply's token confidence as stored (the blob, checked) and its trace entry: the summary, or why there is
    no data (the provider sent none, or sent data that does not read)."""
    if event is None:
        return None, missing()
    if not event.packed:
        return None, missing(event.missing or NO_DATA)
    try:
        blob = base64.b64decode(event.packed, validate=True)
        tokens = unpack(blob)
    except (ValueError, ConfidenceError) as exc:  # binascii.Error is a ValueError
        return None, missing(f"{NO_DATA}: it did not read ({exc})")
    return blob, summary(tokens)


def relay(
    copilot_id: str, stream: Iterator[Event]
) -> Generator[Event, None, tuple[MessageEvent, str, list[ToolCall], CrewError | None]]:
    """A reply's events (`run_reply`) as a crew run shows them; returns its final MessageEvent (held back: the
    handoff decision and the task update come first), its text, the tool calls it made, and its error."""
    message_id = ""
    answer: list[str] = []
    calls: list[ToolCall] = []
    result: MessageEvent | None = None
    error: CrewError | None = None
    for event in stream:
        if isinstance(event, MessageEvent) and event.status == STATUS_STREAMING:
            message_id = event.message_id
            yield event
        elif isinstance(event, MessageEvent):
            result = event
        elif isinstance(event, CrewError):
            error = event
        elif isinstance(event, TextDelta):
            answer.append(event.delta)
            yield CrewText(copilot_id, message_id, event.delta)
        elif isinstance(event, Status):
            yield CrewStatus(copilot_id, event.message)
        elif isinstance(event, ToolCall):
            calls.append(event)
    assert result is not None
    return result, "".join(answer), calls, error
