"""Asking a copilot: store the question, stream the reply into the event log, and say how it ended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from app.core.crew.copilots import Copilot
from app.core.crew.events import CrewError, MessageEvent, message_end_data
from app.core.knowledge.retrieval import citations
from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Citation,
    Done,
    Error,
    Event,
    Provider,
    ReasoningDelta,
    Sampling,
    TextDelta,
    Usage,
)
from app.core.providers.speakers import from_copilot
from app.core.store import STATUS_COMPLETE, STATUS_FAILED, STATUS_INTERRUPTED, STATUS_STREAMING, Store
from app.core.store.knowledge import Hit

# Streamed text reaches the database this often: a kill -9 loses at most this much of a reply.
CHECKPOINT_S = 0.25


def build_request(
    store: Store, thread_id: str, copilot: Copilot, default_max_tokens: int, brief: str | None = None
) -> ChatRequest:
    """The thread as this copilot sees it: its own system prompt, the transcript with authors named, and
    last the task it was handed (`brief`), if any."""
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
    if brief:
        messages.append(ChatMessage("user", brief))
    sampling = Sampling(
        temperature=copilot.sampling.temperature,
        top_p=copilot.sampling.top_p,
        max_tokens=copilot.sampling.max_tokens or default_max_tokens,
        seed=copilot.sampling.seed,
    )
    return ChatRequest(messages=messages, sampling=sampling)


@dataclass
class _Outcome:
    text_parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    error: Error | None = None
    first_text_at: float | None = None
    reasoning: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)

    def status(self) -> str:
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
) -> Iterator[Event]:
    """Stream `provider`'s answer into a new message of the thread, checkpointing as it goes.

    `sources` are the document passages the request carries, found for `question`: they are stored with the reply
    as its citations.
    """
    message_id = store.start_message(thread_id, copilot.id)
    yield MessageEvent(copilot.id, message_id, STATUS_STREAMING)
    outcome = _Outcome()
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
        for event in provider.stream(request, cancel):
            if isinstance(event, TextDelta):
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
            elif isinstance(event, Done):
                outcome.finish_reason = event.finish_reason
                continue
            elif isinstance(event, Error):
                outcome.error = event
                continue
            yield event
    finally:
        flush()
        trace = {
            "copilot": copilot.id,
            **provider.describe(),
            "sampling": asdict(request.sampling),
            "finish_reason": outcome.finish_reason,
            "wall_ttft_s": (outcome.first_text_at - started) if outcome.first_text_at else None,
            "wall_s": time.perf_counter() - started,
            "why": why,
        }
        found = outcome.citations + [
            Citation.from_dict(hit) for hit in citations(sources or [], "".join(outcome.text_parts), question)
        ]
        status = outcome.status()
        final = MessageEvent(copilot.id, message_id, status, outcome.usage, found)
        error = outcome.error
        failure = CrewError(copilot.id, error.message, error.kind, thread_id, message_id, status) if error else None
        data = message_end_data(final, trace, failure)
        if outcome.reasoning:
            data["reasoning"] = "".join(outcome.reasoning)
        store.finish_message(message_id, status, data)
    # the same objects the log now holds: `Store.timeline` rebuilds them from the message.end row
    if failure is not None:
        yield failure
    yield final
