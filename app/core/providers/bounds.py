"""What a remote reply may be before Roundtable keeps it: on time, not too long, and free of the user's key.

Every remote provider wraps its events in `guarded`: the transport enforces the clocks and sizes
(`http.ReplyGuard`), this module counts the reply's text against its budget, marks content as progress, masks
any key the server quotes (even split across deltas), and turns a RemoteError into the reply's Error event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from app.core.providers.base import (
    CancelToken,
    Citation,
    Done,
    Error,
    Event,
    ReasoningDelta,
    Status,
    TextDelta,
)
from app.core.providers.http import RemoteError, ReplyGuard

MASK = "***"
REPLY_CHARS_PER_TOKEN = 16  # a reply may hold 4x the max_tokens asked for, at a generous 4 characters a token
MIN_REPLY_CHARS = 4096  # so that a tiny max_tokens (a router's decision) still leaves room for odd tokens
AGENT_REPLY_CHARS = 1_000_000  # OpenBB and A2A carry no max_tokens: a cap for one reply of an agent


def reply_char_cap(max_tokens: int) -> int:
    """Characters a reply asked for `max_tokens` tokens may hold before it is stopped as runaway."""
    return max(REPLY_CHARS_PER_TOKEN * max_tokens, MIN_REPLY_CHARS)


class KeyMask:
    """Masks keys in a text that arrives in pieces: holds back the last (longest key - 1) characters so that
    a key split across two pieces is still found whole."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.hold = max((len(s) for s in self.secrets), default=1) - 1
        self.tail = ""

    def feed(self, text: str) -> str:
        """The part of the text so far that is safe to pass on."""
        if not self.secrets:
            return text
        buffer = mask(self.tail + text, self.secrets)
        cut = max(len(buffer) - self.hold, 0)
        self.tail = buffer[cut:]
        return buffer[:cut]

    def flush(self) -> str:
        """What was held back, at the end of the text."""
        rest, self.tail = self.tail, ""
        return rest


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def guarded(events: Iterator[Event], cancel: CancelToken, guard: ReplyGuard, secrets: list[str]) -> Iterator[Event]:
    """A remote reply's events, bounded and masked: a RemoteError ends them with its Error event, and Stop
    with Done("cancelled").

    `events` yields its own last Done or Error only when it ran to the end without being stopped.
    """
    masks = {TextDelta: KeyMask(secrets), ReasoningDelta: KeyMask(secrets)}

    def held() -> Iterator[Event]:
        for kind, key_mask in masks.items():
            rest = key_mask.flush()
            if rest:
                yield kind(rest)

    try:
        for event in events:
            if isinstance(event, TextDelta | ReasoningDelta):
                if not event.delta:
                    continue  # an empty delta is no content: it neither resets the stall clock nor shows
                guard.progressed()
                guard.spend(len(event.delta))
                safe = masks[type(event)].feed(event.delta)
                if safe:
                    yield type(event)(safe)
                continue
            guard.progressed()
            if isinstance(event, Status | Citation):
                guard.spend(sum(len(str(v)) for v in dataclasses.asdict(event).values() if v))
            else:  # tool calls, usage and the end come after the text that is still held back
                yield from held()
            yield _masked(event, secrets)
    except RemoteError as exc:
        if not cancel.cancelled:
            yield from held()
            yield Error(mask(exc.message, secrets), exc.kind)
            return
    yield from held()
    if cancel.cancelled:
        yield Done("cancelled")


def _masked(event: Event, secrets: list[str]) -> Event:
    """The event with every key its strings quote masked (a tool call's raw text and arguments included)."""
    if not secrets:
        return event
    changes = {
        f.name: _mask_value(getattr(event, f.name), secrets)
        for f in dataclasses.fields(event)
        if isinstance(getattr(event, f.name), str | dict | list)
    }
    return dataclasses.replace(event, **changes)


def _mask_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return mask(value, secrets)
    if isinstance(value, dict):
        return {mask(str(k), secrets): _mask_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(v, secrets) for v in value]
    return value
