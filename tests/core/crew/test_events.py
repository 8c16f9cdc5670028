"""One typed conversation: every event reads back from the store as the object it was written from, and every
view (thread view live and reloaded, `threads show`, `threads export`) draws it with the same words."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.crew.events import (
    CrewError,
    CrewStatus,
    CrewText,
    HandoffEvent,
    MessageEvent,
    RouteDecision,
    RunDone,
    TaskEvent,
    ToolEvent,
    events_from_row,
    message_end_data,
)
from app.core.crew.runs import ask
from app.core.crew.transcript import card, citation_label
from app.core.providers.base import (
    CancelToken,
    ChatRequest,
    Citation,
    Done,
    Error,
    Event,
    FieldError,
    ReasoningDelta,
    Status,
    TextDelta,
    ToolCall,
    Usage,
)
from app.core.store import STATUS_STREAMING
from tests.conftest import run_cli

USAGE = Usage(prompt_tokens=12, completion_tokens=40, ttft_s=0.25, decode_tokens_per_s=80.0)
CITED = Citation("q3.pdf", "Coupon 4%.", "page 2", number=1, chunk_id=7, cited=True)
CARDS: list[Any] = [
    RouteDecision("router", "analyst", "knows bonds", "router"),
    ToolEvent("analyst", "bonds.coupon", "c1", "called", {"isin": "X1", "nested": {"n": [1, 2.5, None]}}),
    ToolEvent("analyst", "bonds.coupon", "c1", "done", {"isin": "X1", "nested": {"n": [1, 2.5, None]}}, "4.00"),
    HandoffEvent("analyst", "analyst", "writer", "Draft it", "accepted", task_id="t1", context="Q3 numbers"),
    HandoffEvent("analyst", "analyst", "ghost", "", "rejected", "no such copilot", refusal="rejected", raw="{}"),
]


def test_every_logged_event_reads_back_from_the_store_as_the_same_object(ctx) -> None:
    thread = ctx.store.create_thread("Bonds")
    for event in CARDS:
        ctx.store.record(thread.id, event)
    assert ctx.store.timeline(thread.id) == CARDS


def test_a_stored_message_reads_back_as_the_events_its_run_reported(ctx) -> None:
    thread = ctx.store.create_thread("Bonds")
    message_id = ctx.store.start_message(thread.id, "analyst")
    ctx.store.append_text(message_id, "The coupon ")
    ctx.store.append_text(message_id, "is 4% [1].")
    final = MessageEvent("analyst", message_id, "interrupted", USAGE, [CITED, Citation("agent", "From the web.")])
    error = CrewError("analyst", "The model process crashed.", "crashed", thread.id, message_id, "interrupted")
    ctx.store.finish_message(message_id, final.status, message_end_data(final, {"copilot": "analyst"}, error))

    assert ctx.store.timeline(thread.id) == [
        MessageEvent("analyst", message_id, STATUS_STREAMING),
        CrewText("analyst", message_id, "The coupon is 4% [1]."),
        error,
        final,
    ]


@pytest.mark.parametrize(
    "event",
    [
        *CARDS,
        MessageEvent("analyst", "m1", "complete", USAGE, [CITED]),
        CrewText("analyst", "m1", "Hi"),
        CrewStatus("router", "Choosing a copilot"),
        TaskEvent("analyst", "t1", "pending", "analyst", "writer"),
        CrewError("analyst", "Refused.", "auth", "th", None, "failed"),
        RunDone("router", "th", "m1", "complete", USAGE, ["m1"], 2),
        TextDelta("Hi"),
        ReasoningDelta("Hm"),
        ToolCall("c1", "coupon", {"isin": "X1"}, '{"isin": "X1"}'),
        Status("loading"),
        CITED,
        USAGE,
        Done("stop"),
        Error("gone", "network"),
    ],
    ids=lambda event: type(event).__name__,
)
def test_every_event_type_reads_back_from_its_json(event: Event) -> None:
    assert type(event).from_dict(event.to_dict()) == event


def test_the_json_event_contract_keeps_its_documented_fields() -> None:
    """README / docs/architecture.md section 5: fields may be added, never renamed or dropped."""
    handoff = CARDS[3].to_dict()
    assert {"type", "author", "from", "to", "task", "status", "reason", "task_id"} <= set(handoff)
    assert handoff["type"] == "handoff" and handoff["from"] == "analyst"
    done = RunDone("router", "th", "m1", "complete", USAGE, ["m1"], 0).to_dict()
    assert done["usage"] == {"prompt_tokens": 12, "completion_tokens": 40, "ttft_s": 0.25, "decode_tokens_per_s": 80.0}
    assert {"thread_id", "message_id", "status", "messages", "hops"} <= set(done)


def test_a_malformed_stored_event_says_which_field() -> None:
    with pytest.raises(FieldError, match="'from' is missing or not text"):
        HandoffEvent.from_row({"type": "handoff", "author": "a", "data": {"to": "b", "task": "", "status": "accepted"}})
    row = {"type": "message.end", "message_id": "m", "data": {"status": "complete", "citations": [{"passage": "p"}]}}
    with pytest.raises(FieldError, match="'citations.0.source' is missing or not text"):
        events_from_row(row)
    with pytest.raises(FieldError, match="'citations.0.source' is missing or not text"):
        MessageEvent.from_dict({"author": "a", "message_id": "m", "status": "complete", "citations": [{}]})


class ScriptedProvider:
    """A backend that answers with a fixed script of events: the reply path is real, the tokens are not."""

    supports_tools = False
    supports_json_schema = True
    pins_named_tools = False
    replayable = False

    def __init__(self, script: list[Event]) -> None:
        self.script = script

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        yield from self.script

    def provenance(self) -> dict[str, Any]:

        return {}  # a remote agent's model and files are its own


    def describe(self) -> dict[str, Any]:
        return {"provider": "scripted"}


def _run(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[Event]]:
    """A real `ask` whose backend is scripted (a cited reply with usage), then the cards a crew run logs."""
    script: list[Event] = [TextDelta("The coupon is "), TextDelta("4% [1]."), CITED, USAGE, Done("stop")]
    monkeypatch.setattr(ctx, "provider_for", lambda copilot, model=None: ScriptedProvider(script))
    live: list[Event] = list(ask(ctx, "What is the coupon?", copilot_id="analyst", cancel=CancelToken()))
    thread_id = live[-1].thread_id
    for event in CARDS:
        ctx.store.record(thread_id, event)
        live.append(event)
    return thread_id, live


def test_the_reply_path_reports_what_it_stores(ctx, monkeypatch) -> None:
    thread_id, live = _run(ctx, monkeypatch)
    final = next(e for e in live if isinstance(e, MessageEvent) and e.status == "complete")
    assert final.citations == [CITED] and final.usage == USAGE
    assert final in ctx.store.timeline(thread_id)


@pytest.mark.gui
def test_the_live_and_the_reloaded_thread_view_draw_the_same_thread(qtbot, ctx, monkeypatch) -> None:
    from app.ui.link_card import LinkCard
    from app.ui.message_card import Card
    from app.ui.qt import QWidget
    from app.ui.thread_view import ThreadView

    thread_id, live = _run(ctx, monkeypatch)
    shown = []
    for feed in ("live", "load"):
        view = ThreadView({})
        qtbot.addWidget(view)
        if feed == "live":
            view.add_message("pending", "user", "What is the coupon?")  # as the window shows the question
            for event in live:
                view.handle(event)
        else:
            view.load(ctx.store.timeline(thread_id))
        replies = [(w.author, w.status, w.text, w.sources.text()) for w in view.messages.values() if w.author != "user"]
        between = [w for w in view.container.findChildren(QWidget) if isinstance(w, Card | LinkCard)]
        states = [w.state for w in between if isinstance(w, LinkCard)]  # the links' tasks end alike too
        shown.append((replies, [c.text() for c in between], states))
    assert shown[0] == shown[1]
    replies, cards, _states = shown[0]
    assert replies[0][2] == "The coupon is 4% [1]." and html.escape(citation_label(CITED, 1)) in replies[0][3]
    assert cards == [f"{c.symbol} {c.text}" for e in CARDS if (c := card(e)) is not None] and len(cards) == 4


def test_the_cli_and_the_export_use_the_same_words_as_the_window(ctx, monkeypatch) -> None:
    thread_id, _ = _run(ctx, monkeypatch)
    label = citation_label(CITED, 1)
    shown = run_cli("threads", "show", thread_id)
    exported = run_cli("threads", "export", thread_id)
    assert shown.returncode == 0 and exported.returncode == 0, shown.stderr + exported.stderr
    for event in CARDS:
        words = card(event)
        if words is not None:
            assert f"*{words.text}*" in exported.stdout, (words, exported.stdout)
            # `threads show` adds a tool's arguments: the words before them are the window's
            assert words.text.split(" {")[0].split(":")[0] in shown.stdout, (words, shown.stdout)
    assert f"  {label}" in shown.stdout and f"> {label}" in exported.stdout
    assert "The coupon is 4% [1]." in shown.stdout and "The coupon is 4% [1]." in exported.stdout
