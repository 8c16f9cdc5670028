"""How a conversation is drawn: the one renderer contract, and the one wording of each thing between messages.

Every view of a thread (the window's thread view, live and reloaded; the overlay; `ask`/`run` on a terminal;
`threads show`; the Markdown export) is a `Renderer` fed typed events by `render`, whether they come from a
running crew or from `Store.timeline`. Citations, cards (route, handoff, tool), message headings and usage are
worded here only; a renderer only decorates the words for its medium (a Qt label, brackets, Markdown italics),
and escapes them for it (`terminal_safe`, plain-text labels).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from app.core.crew.events import (
    ConsultEvent,
    CrewError,
    CrewEvent,
    CrewStatus,
    CrewText,
    HandoffEvent,
    LimitEvent,
    MessageEvent,
    PlanEvent,
    RoundtableEvent,
    RouteDecision,
    RunDone,
    ToolEvent,
)
from app.core.providers.base import Citation, Event, Usage

STREAMING = "streaming"
_RESULT_CHARS = 200  # a tool result on a card: its first words only; the whole result went to the model
_STATUS_WORDS = {STREAMING: "writing…", "interrupted": "interrupted", "failed": "failed"}


@dataclass(frozen=True)
class Card:
    """A line between messages: `symbol` for views that show one, `text` in words (it quotes models and tools)."""

    symbol: str
    text: str


def citation_label(citation: Citation, position: int, copilot: str | None = None) -> str:
    """`[n] source, location (copilot)`: how every view names a source; `position` (from 1) stands in for a missing
    n; `copilot` names who used it, where a view says so (the window always, a terminal once several cited)."""
    number = citation.number if citation.number is not None else position
    label = f"[{number}] {citation.source}" + (f", {citation.location}" if citation.location else "")
    return f"{label} ({copilot})" if copilot else label


def citing_copilots(events: Iterable[Event]) -> set[str]:
    """The copilots whose replies among `events` carry citations (a stored thread's, from `Store.timeline`)."""
    return {e.author for e in events if isinstance(e, MessageEvent) and e.status != STREAMING and e.citations}


def status_word(status: str) -> str:
    """How a message's status reads beside its author ('' for a complete one)."""
    return _STATUS_WORDS.get(status, "")


def heading(author: str, status: str) -> str:
    """A message's heading in text views: its author, and its status unless complete."""
    word = status_word(status)
    return f"{author} ({word})" if word else author


def usage_text(usage: Usage | None) -> str:
    """A reply's figures in one quiet line: tokens, speed, first token; '' when none were reported."""
    if usage is None:
        return ""
    parts = [f"{usage.completion_tokens} tokens"]
    if usage.decode_tokens_per_s:
        parts.append(f"{usage.decode_tokens_per_s:.0f} tokens/s")
    if usage.ttft_s is not None:
        parts.append(f"first token {usage.ttft_s:.2f} s")
    return " · ".join(parts)


def card(event: Event, detail: bool = False) -> Card | None:
    """The card a route decision, plan, roundtable, limit, handoff, consult or finished tool call shows; None for
    events that show none.

    `detail` adds what a reader of a stored thread may want and a live view would not (a tool's arguments).
    """
    if isinstance(event, RouteDecision):
        if event.by == "asked":  # the user picked the copilot: nothing to explain
            return None
        if event.by == "mention":
            return Card("→", f"{event.copilot} was mentioned")
        return Card("→", f"router → {event.copilot}: {event.reason}")
    if isinstance(event, PlanEvent):
        steps = "; ".join(f"{n}. {step.get('copilot')}: {step.get('task')}" for n, step in enumerate(event.steps, 1))
        return Card("☰", f"plan: {steps}")
    if isinstance(event, RoundtableEvent):
        return Card("◎", f"roundtable: {', '.join(event.copilots)} answer; {event.moderator} sums up")
    if isinstance(event, LimitEvent):
        return Card("■", event.message)
    if isinstance(event, HandoffEvent):
        if event.status == "accepted":
            return Card("⇢", f"handoff {event.from_} → {event.to}: {event.task}")
        return Card("⇢", f"handoff {event.from_} → {event.to} not followed: {event.reason}")
    if isinstance(event, ConsultEvent):
        if event.status == "asked":
            return Card("⇄", f"{event.from_} consults {event.to}: {event.question}")
        if event.status == "answered":
            return Card("⇄", f"{event.to}'s answer went back to {event.from_}, who goes on")
        return Card("⇄", f"{event.from_} could not consult {event.to}: {event.reason}")
    if isinstance(event, ToolEvent) and event.status != "called":
        outcome = " ".join((event.result or "").split())[:_RESULT_CHARS]
        arguments = f" {json.dumps(event.arguments)}" if detail and event.arguments is not None else ""
        said = f"{event.author} used {event.tool}{arguments}: {event.status}"
        return Card("⚙", f"{said} — {outcome}" if outcome else said)
    return None


class Renderer:
    """What a view of a conversation does with each kind of event; `render` decides which is which.

    Every method does nothing by default, so a view overrides only what it shows.
    """

    def on_message_started(self, event: MessageEvent) -> None:
        """A message begins (status `streaming`)."""

    def on_text(self, event: CrewText) -> None:
        """More of a message's text."""

    def on_message_finished(self, event: MessageEvent) -> None:
        """A message is stored with its final status, usage and citations."""

    def on_error(self, event: CrewError) -> None:
        """A reply failed or was cut off; its final `message` follows."""

    def on_card(self, event: CrewEvent, shown: Card) -> None:
        """A route decision, handoff or tool call, as `card` words it."""

    def on_status(self, event: CrewStatus) -> None:
        """Progress while nothing else arrives."""

    def on_done(self, event: RunDone) -> None:
        """The run ended (always last)."""


def render(renderer: Renderer, event: Event, detail: bool = False) -> None:
    """Hand one event to the renderer method for its kind; events no view shows (tasks) are skipped."""
    if isinstance(event, MessageEvent):
        if event.status == STREAMING:
            renderer.on_message_started(event)
        else:
            renderer.on_message_finished(event)
    elif isinstance(event, CrewText):
        renderer.on_text(event)
    elif isinstance(event, CrewError):
        renderer.on_error(event)
    elif isinstance(event, CrewStatus):
        renderer.on_status(event)
    elif isinstance(event, RunDone):
        renderer.on_done(event)
    elif isinstance(event, CrewEvent) and (shown := card(event, detail)) is not None:
        renderer.on_card(event, shown)


def render_all(renderer: Renderer, events: Iterable[Event], detail: bool = False) -> None:
    """`render` each event in turn (a stored thread, from `Store.timeline`)."""
    for event in events:
        render(renderer, event, detail)


class MarkdownRenderer(Renderer):
    """A conversation as Markdown (`threads export`): `## author` per message, sources quoted (naming the copilot
    when several in `citing` cited), cards in italics."""

    def __init__(self, header: list[str], citing: set[str] | None = None) -> None:
        self.several = len(citing or ()) > 1
        self.lines = list(header)
        self.text: dict[str, list[str]] = {}
        self.authors: dict[str, str] = {}

    def on_message_started(self, event: MessageEvent) -> None:
        self.text[event.message_id] = []
        self.authors[event.message_id] = event.author

    def on_text(self, event: CrewText) -> None:
        self.text.setdefault(event.message_id, []).append(event.delta)

    def on_message_finished(self, event: MessageEvent) -> None:
        author = self.authors.get(event.message_id, event.author)
        body = "".join(self.text.pop(event.message_id, [])).strip() or "*(no text)*"
        self.lines += [f"## {heading(author, event.status)}", "", body, ""]
        who = author if self.several else None
        quoted = [f"> {citation_label(c, position, who)}" for position, c in enumerate(event.citations, 1)]
        self.lines += [*quoted, ""] if quoted else []

    def on_card(self, event: CrewEvent, shown: Card) -> None:
        self.lines += [f"*{shown.text}*", ""]

    def document(self) -> str:
        """The Markdown so far, ending in one newline; a message still being written is shown as it stands."""
        for message_id in list(self.text):
            streaming = MessageEvent(self.authors.get(message_id, ""), message_id, STREAMING)
            self.on_message_finished(streaming)
        return "\n".join(self.lines).rstrip() + "\n"


def markdown(events: Iterable[Event], header: list[str]) -> str:
    """A stored thread's events (`Store.timeline`) as one Markdown document under `header`."""
    stored = list(events)
    renderer = MarkdownRenderer(header, citing_copilots(stored))
    render_all(renderer, stored)
    return renderer.document()
