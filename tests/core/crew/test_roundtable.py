"""Roundtable mode: every participant answers on its own, then a moderator sums up who said what."""

import json

import pytest

from app.core.crew.engine import CrewRun
from app.core.crew.events import HandoffEvent, MessageEvent, RoundtableEvent
from app.core.crew.routing import roundtable_question
from app.core.crew.runs import run_task
from app.core.errors import UsageError
from tests.conftest import run_cli
from tests.core.crew.remote import ScriptedRemote, add_remote


def test_a_roundtable_is_asked_with_at_all_or_the_command() -> None:
    assert roundtable_question("@all what is a bond?") == "what is a bond?"
    assert roundtable_question("/roundtable: rates up or down?") == "rates up or down?"
    assert roundtable_question("@ALL, hi") == "hi"
    assert roundtable_question("what do you @all think?") is None
    assert roundtable_question("@allison hello") is None


def test_every_copilot_answers_on_its_own_then_the_moderator_sums_up(ctx) -> None:
    ScriptedRemote.requests.clear()
    handoff = [{"to": "pong", "task": "more", "context": ""}]
    add_remote(ctx, "ping", [{"text": "Rates will rise.", "calls": handoff}], ["pong"])
    add_remote(ctx, "pong", [{"text": "Rates will fall."}], ["ping"])
    add_remote(ctx, "chair", [{"text": "Ping says rise (Ping); Pong says fall (Pong)."}], [])
    thread = ctx.store.create_thread("roundtable")
    run = CrewRun(ctx, thread.id, [ctx.copilot("ping"), ctx.copilot("pong")], max_hops=6)
    events = list(run.handle("@all Will rates rise?", moderator=ctx.copilot("chair")))
    (opened,) = [e for e in events if isinstance(e, RoundtableEvent)]
    assert (opened.copilots, opened.moderator) == (["ping", "pong"], "chair")
    authors = [e.author for e in events if isinstance(e, MessageEvent) and e.status == "complete"]
    assert authors == ["ping", "pong", "chair"]
    assert not [e for e in events if isinstance(e, HandoffEvent)]  # nobody hands off in a roundtable
    seen = {who: " ".join(m.content for m in request.messages) for who, request in ScriptedRemote.requests}
    assert "Rates will rise" not in seen["pong"]  # each answers as the thread stood when asked
    assert "Rates will rise" in seen["chair"] and "Rates will fall" in seen["chair"]
    assert "Will rates rise?" in seen["chair"]
    stored = [e["data"] for e in ctx.store.events(thread.id) if e["type"] == "roundtable"]
    assert stored == [{"copilots": ["ping", "pong"], "moderator": "chair"}]


def test_an_unknown_moderator_stores_nothing(ctx) -> None:
    with pytest.raises(UsageError, match="nobody-here"):
        list(run_task(ctx, "Rates?", roundtable=True, moderator="nobody-here"))
    assert ctx.store.list_threads() == []


def test_no_copilot_may_be_called_all(ctx) -> None:
    result = run_cli("copilots", "add", "all", "--name", "All")
    assert result.returncode == 2 and "reserved" in result.stderr


def test_a_roundtable_on_the_command_line_on_the_real_model(home) -> None:
    result = run_cli(
        "run", "What is a bond?", "--roundtable", "--copilots", "analyst,writer", "--moderator", "generalist", "--json"
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    (opened,) = [e for e in events if e["type"] == "roundtable"]
    assert opened["copilots"] == ["analyst", "writer"] and opened["moderator"] == "generalist"
    authors = [e["author"] for e in events if e["type"] == "message" and e["status"] == "complete"]
    assert authors == ["analyst", "writer", "generalist"]
    shown = run_cli("threads", "show", events[-1]["thread_id"]).stdout
    assert "[roundtable: analyst, writer answer; generalist sums up]" in shown
