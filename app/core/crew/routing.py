"""Who answers: the copilots a message @mentions, or the router's schema-constrained choice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from app.core.crew.copilots import Copilot, find_copilot
from app.core.errors import UsageError
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Error, Provider, Sampling, TextDelta

# an @ at the start or after a space or bracket: e-mail addresses do not count
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z][\w-]*)")
_ROUTER_TOKENS = 120

ROUTER_PROMPT = (
    "You route a user's message to the copilot who should act on it first. The copilots:\n{}\n"
    'Reply with JSON: {{"copilot": one id from the list, "reason": one short sentence}}.'
)


def mentions(text: str, copilots: list[Copilot]) -> list[Copilot]:
    """The copilots a message @mentions, in order, each once; an unknown mention is a UsageError."""
    found: list[Copilot] = []
    for name in _MENTION.findall(text):
        copilot = find_copilot(copilots, name)
        if copilot is None:
            known = ", ".join(f"@{c.id}" for c in copilots)
            raise UsageError(f"No copilot called @{name} (known: {known}).")
        if copilot not in found:
            found.append(copilot)
    return found


def route_schema(copilots: list[Copilot]) -> dict[str, Any]:
    """The JSON schema of the router's answer: one of `copilots`' ids and a short reason."""
    return {
        "type": "object",
        "properties": {
            "copilot": {"type": "string", "enum": [c.id for c in copilots]},
            "reason": {"type": "string", "maxLength": 160},
        },
        "required": ["copilot", "reason"],
        "additionalProperties": False,
    }


def route(
    provider: Provider, text: str, copilots: list[Copilot], fallback: Copilot, cancel: CancelToken
) -> Iterator[tuple[Copilot, str, bool]]:
    """Ask `provider` to pick among `copilots` for `text`; yields once: (copilot, reason, valid).

    The answer is constrained to the schema, so even a small local model names a real copilot; a backend
    that ignores the schema and answers something else falls back to `fallback`, and says so.
    """
    listing = "\n".join(f"- {c.id}: {c.name}. {c.description} Skills: {', '.join(c.skills) or '-'}." for c in copilots)
    request = ChatRequest(
        messages=[ChatMessage("system", ROUTER_PROMPT.format(listing)), ChatMessage("user", text)],
        sampling=Sampling(temperature=0.0, top_p=1.0, max_tokens=_ROUTER_TOKENS),
        json_schema=route_schema(copilots),
    )
    parts: list[str] = []
    problem = None
    for event in provider.stream(request, cancel):
        if isinstance(event, TextDelta):
            parts.append(event.delta)
        elif isinstance(event, Error):
            problem = event.message
    raw = "".join(parts).strip()
    try:
        answer = json.loads(raw)
        chosen = find_copilot(copilots, str(answer["copilot"]))
        reason = str(answer.get("reason", "")).strip() or "no reason given"
    except (json.JSONDecodeError, KeyError, TypeError):
        chosen, reason = None, ""
    if chosen is None:
        why = problem or f"the router's answer was not a valid choice: {raw[:80]!r}"
        yield fallback, f"{why}; {fallback.name} answers by default", False
        return
    yield chosen, reason, True
