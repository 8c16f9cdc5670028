"""Consults: a copilot asks another one a question and gets the answer back as a tool result, keeping its turn."""

import json
import os
import shutil
import threading

import pytest

from app.core.crew.consult import consulted
from app.core.crew.engine import CrewRun
from app.core.crew.events import ConsultEvent, CrewStatus, HandoffEvent, MessageEvent, RunDone
from app.core.crew.parallel import can_run_together
from app.core.crew.plan import named_in_words, pinned_steps
from app.core.crew.transcript import card
from tests.conftest import run_cli
from tests.core.crew.remote import ScriptedRemote, add_remote


def of_type(events, kind):
    return [e for e in events if isinstance(e, kind)]


def run_with(ctx, text, participants, **options):
    thread = ctx.store.create_thread(text)
    run = CrewRun(ctx, thread.id, [ctx.copilot(p) for p in participants], **{"max_hops": 6, **options})
    return thread, list(run.handle(text))


def test_a_consult_is_asked_for_in_words_and_does_no_step_of_the_plan(ctx) -> None:
    everyone = ctx.copilots()
    assert [c.id for c in consulted("Draft a tweet, consulting the analyst on the rate", everyone)] == ["analyst"]
    assert [c.id for c in consulted("Check with our Reviewer, then post it", everyone)] == ["reviewer"]
    assert [c.id for c in consulted("get a second opinion from @writer", everyone)] == ["writer"]
    assert consulted("The analyst's fee for a consult is high", everyone) == []
    text = "Have the writer draft a tweet about coupons, checking with the reviewer on the tone"
    assert [c.id for c in named_in_words(text, everyone)] == ["writer"]
    assert [(task, c.id if c else None) for task, c, _ in pinned_steps(text, everyone)] == [(text, "writer")]


def test_a_local_copilot_consults_where_the_request_asks_on_the_real_model(ctx) -> None:
    text = "@writer Write a tweet about bond coupons, checking with the reviewer first."
    thread, events = run_with(ctx, text, ["writer"], max_tokens=24)
    asked, answered = of_type(events, ConsultEvent)
    assert (asked.from_, asked.to, asked.status) == ("writer", "reviewer", "asked") and asked.question.strip()
    assert (answered.status, answered.to) == ("answered", "reviewer")
    replies = [(e.author, e.message_id) for e in of_type(events, MessageEvent) if e.status == "complete"]
    # the reviewer answers the question first; the writer keeps its turn and answers the user (the writer's
    # handoff decision after its answer may still pass the work on: a handoff of its own, not the consult)
    handoffs = [e.to for e in of_type(events, HandoffEvent) if e.status == "accepted"]
    assert [author for author, _ in replies] == ["reviewer", "writer", *handoffs]
    assert answered.message_id == replies[0][1]
    done = events[-1]
    assert isinstance(done, RunDone) and done.hops == 1 + len(handoffs) and done.message_id == replies[-1][1]
    assert done.messages == [message_id for _, message_id in replies]
    stored = [e for e in ctx.store.timeline(thread.id) if isinstance(e, ConsultEvent)]
    assert stored == [asked, answered]
    assert card(asked).text == f"writer consults reviewer: {asked.question}"
    ends = {e["message_id"]: e["data"] for e in ctx.store.events(thread.id) if e["type"] == "message.end"}
    assert ends[replies[0][1]]["trace"]["why"].startswith("consulted by writer: ")


def test_a_consult_the_manifest_does_not_allow_is_refused_and_the_copilot_answers_itself(ctx) -> None:
    thread, events = run_with(ctx, "@writer Write a tweet on rates, consulting the analyst.", ["writer"], max_tokens=16)
    (refused,) = of_type(events, ConsultEvent)
    assert refused.status == "rejected" and refused.refusal == "rejected"
    assert refused.reason == "writer may not consult analyst (allowed: reviewer)"
    assert [e.author for e in of_type(events, MessageEvent) if e.status == "complete"] == ["writer"]
    assert events[-1].hops == 0
    assert card(refused).text == "writer could not consult analyst: writer may not consult analyst (allowed: reviewer)"


@pytest.fixture
def lead_and_expert(ctx):
    ScriptedRemote.requests.clear()
    ask = {"tool": "consult", "to": "expert", "question": "What coupon does a 10-year bond pay?"}
    add_remote(
        ctx,
        "lead",
        [{"text": "", "calls": [ask]}, {"text": "", "calls": [ask]}, {"text": "4%, says Expert."}],
        ["expert"],
    )
    add_remote(ctx, "expert", [{"text": "About 4 percent."}], [])
    return ctx


def test_a_remote_copilot_consults_with_its_tool_and_gets_the_answer_back(lead_and_expert) -> None:
    ctx = lead_and_expert
    _, events = run_with(ctx, "@lead What does a 10-year bond pay?", ["lead", "expert"], max_hops=1)
    first_lead = ScriptedRemote.requests[0][1]
    offered = {tool.name: tool for tool in first_lead.tools}
    assert offered["consult"].parameters["properties"]["to"]["enum"] == ["expert"]
    asked, answered, refused = of_type(events, ConsultEvent)
    assert (asked.status, answered.status, refused.status) == ("asked", "answered", "rejected")
    assert refused.refusal == "hop_limit" and refused.reason == "the hop limit of 1 was reached"
    who = [copilot for copilot, _ in ScriptedRemote.requests]
    assert who == ["lead", "expert", "lead", "lead"]
    expert_request = ScriptedRemote.requests[1][1]
    assert "What coupon does a 10-year bond pay?" in expert_request.messages[-1].content
    # the answer comes back to the lead as the result of its call, and the lead keeps the turn
    results = [m for m in ScriptedRemote.requests[2][1].messages if m.role == "tool"]
    assert [(m.name, m.tool_call_id, m.content.strip()) for m in results] == [("consult", "call_0", "About 4 percent.")]
    refusal = [m for m in ScriptedRemote.requests[3][1].messages if m.role == "tool"][-1]
    assert "not consulted: the hop limit of 1 was reached" in refusal.content
    done = events[-1]
    finals = [e for e in of_type(events, MessageEvent) if e.status == "complete"]
    assert finals[-1].author == "lead" and done.message_id == finals[-1].message_id and done.hops == 1


def test_consults_on_the_command_line_as_json_events(home) -> None:
    task = "@writer Write a tweet about bond coupons, checking with the reviewer."
    result = run_cli("run", task, "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    consults = [(e["from"], e["to"], e["status"]) for e in events if e["type"] == "consult"]
    assert consults == [("writer", "reviewer", "asked"), ("writer", "reviewer", "answered")]
    shown = run_cli("threads", "show", events[-1]["thread_id"]).stdout
    assert "[writer consults reviewer: " in shown and "[reviewer's answer went back to writer, who goes on]" in shown


def test_roundtable_answers_come_at_the_same_time_where_the_backends_allow(ctx) -> None:
    add_remote(ctx, "ping", [{"text": "Rates will rise."}], [])
    add_remote(ctx, "pong", [{"text": "Rates will fall."}], [])
    add_remote(ctx, "chair", [{"text": "They disagree (Ping) (Pong)."}], [])
    thread = ctx.store.create_thread("rates")
    run = CrewRun(ctx, thread.id, [ctx.copilot("ping"), ctx.copilot("pong")], max_hops=6)
    together = threading.Barrier(2)  # neither answers before the other has been asked
    ScriptedRemote.barriers.update(ping=together, pong=together)
    try:
        events = list(run.handle("@all Will rates rise?", moderator=ctx.copilot("chair")))
    finally:
        ScriptedRemote.barriers.clear()
    statuses = [e.message for e in of_type(events, CrewStatus)]
    assert "They answer at the same time: each answers on a backend of its own" in statuses
    # shown one reply after another all the same, the moderator's last
    started = [e.author for e in of_type(events, MessageEvent) if e.status == "streaming"]
    finished = [e.author for e in of_type(events, MessageEvent) if e.status == "complete"]
    assert started == finished == ["ping", "pong", "chair"]
    assert events[-1].messages == [e.message_id for e in of_type(events, MessageEvent) if e.status == "complete"]


def test_roundtable_answers_on_one_model_host_come_one_after_another(ctx) -> None:
    thread = ctx.store.create_thread("rates")
    run = CrewRun(
        ctx, thread.id, [ctx.copilot("analyst"), ctx.copilot("writer")], max_hops=6, max_turns=2, max_tokens=16
    )
    events = list(run.handle("@all Will rates rise?"))
    statuses = [e.message for e in of_type(events, CrewStatus)]
    why = "some of them share a model host, which answers one request at a time"
    assert f"They answer one after another: {why}" in statuses
    assert [e.author for e in of_type(events, MessageEvent) if e.status == "complete"] == ["analyst", "writer"]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two one-thread models need two cores")
def test_local_models_answer_together_only_on_hosts_of_their_own_that_fit(ctx, starter_model, tmp_path) -> None:
    writer, analyst = ctx.copilot("writer"), ctx.copilot("analyst")
    same = [ctx.provider_for(writer), ctx.provider_for(analyst)]
    assert can_run_together(same, ctx.pool) == (
        False,
        "some of them share a model host, which answers one request at a time",
    )
    copy = tmp_path / "other.gguf"
    shutil.copyfile(starter_model, copy)
    other = analyst.model_copy(update={"model": str(copy)})
    ctx.settings.threads = 1
    apart = [ctx.provider_for(writer), ctx.provider_for(other)]
    assert can_run_together(apart, ctx.pool) == (True, "each answers on a backend of its own")
    ctx.settings.threads = 64
    crowded = [ctx.provider_for(writer), ctx.provider_for(other)]
    together, why = can_run_together(crowded, ctx.pool)
    assert not together and why.startswith("their models would share")
    ctx.settings.threads = 1
    ctx.pool.set_budget(50 * 1024 * 1024)
    together, why = can_run_together(apart, ctx.pool)
    assert not together and "over the budget of 50 MB" in why
