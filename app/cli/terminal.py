"""Conversations on a terminal: one `Renderer` for a live run (`ask`, `run`) and a stored thread (`threads show`)."""

from __future__ import annotations

import sys
from typing import Any

from app.cli.output import terminal_safe
from app.core.crew.events import CrewError, CrewEvent, CrewStatus, CrewText, MessageEvent, RouteDecision
from app.core.crew.transcript import Card, Renderer, citation_label, status_word


class TerminalRenderer(Renderer):
    """A conversation on the terminal, live or stored: text as it comes, cards in brackets, sources below.

    Everything printed quotes a model, agent, tool, document or copilot manifest: it goes through terminal_safe.
    `headers` puts each author above its message and lists a reply's sources under it (crew runs, stored
    threads); a plain `ask` prints only the answer. `stored` is a thread read back: its errors are part of it
    (a live run's go to standard error). `traces` (message id -> trace) adds each reply's trace.
    """

    def __init__(self, headers: bool, stored: bool = False, traces: dict[str, Any] | None = None) -> None:
        self.headers = headers
        self.stored = stored
        self.traces = traces

    def say(self, text: str) -> None:
        sys.stdout.write(terminal_safe(text))
        sys.stdout.flush()

    def on_message_started(self, event: MessageEvent) -> None:
        if self.headers:
            self.say(f"\n── {event.author} ──\n")

    def on_text(self, event: CrewText) -> None:
        self.say(event.delta)

    def on_message_finished(self, event: MessageEvent) -> None:
        word = status_word(event.status)
        self.say(f"\n[{word}]\n" if word else "\n")
        if self.headers:
            for position, citation in enumerate(event.citations, 1):
                self.say(f"  {citation_label(citation, position)}\n")
        trace = (self.traces or {}).get(event.message_id)
        if self.traces is not None and isinstance(trace, dict):
            fields = ", ".join(f"{k}={v}" for k, v in trace.items() if v is not None and k != "sampling")
            self.say(f"  trace: {fields}; sampling={trace.get('sampling')}\n")

    def on_error(self, event: CrewError) -> None:
        if self.stored:
            self.say(f"(error: {event.message})\n")

    def on_card(self, event: CrewEvent, shown: Card) -> None:
        if self.headers or not isinstance(event, RouteDecision):
            self.say(f"[{shown.text}]\n")

    def on_status(self, event: CrewStatus) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"[{terminal_safe(event.message)}…]\r")
