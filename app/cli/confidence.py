"""`threads show --confidence`: a reply's low-probability tokens marked on the terminal, and listed with their
alternatives under it; replies without token confidence say so."""

from __future__ import annotations

import json
from typing import Any

from app.cli.output import terminal_safe
from app.core.confidence import LOW, NO_DATA, ReplyConfidence, TokenConfidence, spans

# On a terminal a low-probability span is underlined; in a pipe or file it is put between these markers.
OPEN, CLOSE = "[[", "]]"
_UNDERLINE, _PLAIN = "\x1b[4m", "\x1b[24m"


def marked(text: str, tokens: list[TokenConfidence], tty: bool) -> str:
    """The reply's text, terminal-safe, with each run of tokens under LOW marked (underlined on a terminal,
    else between OPEN and CLOSE)."""
    start, end = (_UNDERLINE, _PLAIN) if tty else (OPEN, CLOSE)
    out: list[str] = []
    at = 0
    low_run = False
    for begin, finish, token in spans(text, tokens):
        if token.low != low_run:
            out.append(start if token.low else end)
            low_run = token.low
        out.append(terminal_safe(text[begin:finish]))
        at = finish
    if low_run:
        out.append(end)
    out.append(terminal_safe(text[at:]))
    return "".join(out)


def details(reply: ReplyConfidence, trace: Any) -> list[str]:
    """The lines under a reply: the trace's summary, then each token under LOW with its alternatives."""
    if reply.missing is not None or not reply.tokens:
        return [f"confidence: {terminal_safe(reply.missing or NO_DATA)}"]
    entry = trace.get("confidence") if isinstance(trace, dict) else None
    names = ("tokens", "mean_p", "min_p", "under_half")
    numbers = isinstance(entry, dict) and all(isinstance(entry.get(name), int | float) for name in names)
    figures = entry if numbers else None
    lines = []
    if figures is not None:
        lines.append(
            f"confidence: {figures['tokens']} tokens, mean p {figures['mean_p']:.2f}, min p {figures['min_p']:.2f}, "
            f"{figures['under_half']:.0%} under {LOW}"
        )
    low = [token for token in reply.tokens if token.low]
    lines.append(f"tokens under p {LOW}: {len(low)}" + (":" if low else ""))
    for token in low:
        others = ", ".join(f"{_quoted(choice.text)} {choice.p:.2f}" for choice in token.alternatives)
        lines.append(f"  {_quoted(token.text)} {token.p:.2f}  (alternatives: {others})")
    return lines


def as_json(reply: ReplyConfidence) -> dict[str, Any]:
    """A reply's confidence for `threads show --json --confidence`."""
    if reply.missing is not None:
        return {"missing": reply.missing}
    return {
        "tokens": [
            {"text": t.text, "p": t.p, "alternatives": [{"text": c.text, "p": c.p} for c in t.alternatives]}
            for t in reply.tokens
        ]
    }


def _quoted(text: str) -> str:
    """A token's text quoted, its spaces and line breaks visible and its control characters inert."""
    return terminal_safe(json.dumps(text, ensure_ascii=False))
