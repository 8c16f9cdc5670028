"""The conversation engine: routing, mentions, handoffs, tasks and the hop limit."""

import json

import pytest

from app.core.crew.engine import CrewRun
from app.core.crew.events import HandoffEvent, MessageEvent, PlanEvent, RouteDecision, RunDone, TaskEvent
from app.core.crew.runs import ask, run_task
from app.core.errors import UsageError
from tests.conftest import run_cli
from tests.core.crew.remote import ScriptedRemote, add_remote

DEMO = "Summarise what a bond is, then have the Writer turn it into a tweet"


def of_type(events, kind):
    return [e for e in events if isinstance(e, kind)]


def run_with(ctx, text, participants, max_hops=6):
    thread = ctx.store.create_thread(text)
    run = CrewRun(ctx, thread.id, [ctx.copilot(p) for p in participants], max_hops=max_hops)
    return thread, list(run.handle(text))


def test_the_demo_run_plans_the_analyst_then_the_writer_on_the_real_model(home) -> None:
    result = run_cli("run", DEMO, "--copilots", "analyst,writer", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    # the router chooses who summarises; the writer, named in the request, is pinned to the last step (were the
    # router to choose the writer too, its two steps would be one, shown as a route decision)
    planned = [e for e in events if e["type"] == "plan"]
    routed = [(e["copilot"], e["by"]) for e in events if e["type"] == "route"]
    steps = [(s["copilot"], s["by"]) for s in planned[0]["steps"]] if planned else routed
    chosen = ("router", "skills", "default")
    assert steps in [[("analyst", by), ("writer", "named")] for by in chosen] + [[("writer", by)] for by in chosen]
    authors = [e["author"] for e in events if e["type"] == "message" and e["status"] == "complete"]
    assert authors == [copilot for copilot, _ in steps]
    statuses = [e["status"] for e in events if e["type"] == "task"]
    assert statuses == (["pending"] * 2 + ["working", "done"] * 2 if planned else [])
    done = events[-1]
    assert done["type"] == "done" and done["hops"] == 0

    tasks = json.loads(run_cli("tasks", "ls", "--json").stdout)
    assert sorted((t["from_copilot"], t["to_copilot"], t["status"]) for t in tasks) == [
        ("user", copilot, "done") for copilot, _ in sorted(steps) if planned
    ]
    shown = run_cli("threads", "show", done["thread_id"], "--trace").stdout
    assert ("[plan: 1. analyst: " in shown and "why=step 1 of the plan" in shown) or "[router → writer" in shown


def test_the_router_picks_a_participant_and_stores_its_rationale(ctx) -> None:
    thread, events = run_with(
        ctx, "Check this draft for mistakes: 'Bonds is loans.'", ["analyst", "reviewer"], max_hops=0
    )
    (route,) = of_type(events, RouteDecision)
    assert route.by in ("router", "skills", "default") and route.copilot in ("analyst", "reviewer") and route.reason
    stored = [e for e in ctx.store.events(thread.id) if e["type"] == "route"]
    assert stored[0]["data"]["copilot"] == route.copilot
    assert of_type(events, MessageEvent)[-1].author == route.copilot


def test_a_router_answer_that_is_not_a_choice_falls_back_to_the_default_copilot(ctx) -> None:
    add_remote(ctx, "oracle", [{"text": "I think the analyst, probably."}], [])
    add_remote(ctx, "helper", [{"text": "Done."}], [])
    ctx.settings.default_copilot = "oracle"
    ctx.settings.skill_routing = False  # the router model chooses among all of them
    thread, events = run_with(ctx, "Hello", ["oracle", "helper"])
    (route,) = of_type(events, RouteDecision)
    assert route.by == "fallback" and route.copilot == "oracle" and "not a valid choice" in route.reason


def test_mentions_pick_the_copilots_in_order(ctx) -> None:
    events = list(ask(ctx, "@writer and @Analyst: say hi, each of you."))
    authors = [e.author for e in of_type(events, MessageEvent) if e.status == "complete"]
    assert authors == ["writer", "analyst"]
    (planned,) = of_type(events, PlanEvent)
    assert [(s["copilot"], s["by"]) for s in planned.steps] == [("writer", "mention"), ("analyst", "mention")]


def test_an_unknown_mention_stores_nothing(ctx) -> None:
    with pytest.raises(UsageError, match="No copilot called @bob.*@analyst"):
        list(ask(ctx, "@bob what's up?"))
    assert ctx.store.list_threads() == []
    result = run_cli("run", "@bob summarise bonds")
    assert result.returncode == 2 and "No copilot called @bob" in result.stderr
    assert run_cli("threads", "ls", "--json").stdout.strip() == "[]"


def test_an_email_address_is_not_a_mention(ctx) -> None:
    events = list(ask(ctx, "Write to jane@example.com about bonds, briefly."))
    assert of_type(events, RunDone)[0].status == "complete"


def test_the_hop_limit_ends_a_runaway_chain_visibly(ctx) -> None:
    add_remote(
        ctx, "ping", [{"text": "Over to pong.", "calls": [{"to": "pong", "task": "answer", "context": ""}]}], ["pong"]
    )
    add_remote(
        ctx, "pong", [{"text": "Over to ping.", "calls": [{"to": "ping", "task": "answer", "context": ""}]}], ["ping"]
    )
    thread, events = run_with(ctx, "@ping start", ["ping", "pong"], max_hops=3)
    handoffs = of_type(events, HandoffEvent)
    assert [h.status for h in handoffs] == ["accepted"] * 3 + ["rejected"]
    assert "hop limit of 3" in handoffs[-1].reason
    assert [m.author for m in of_type(events, MessageEvent) if m.status == "complete"] == [
        "ping",
        "pong",
        "ping",
        "pong",
    ]
    assert of_type(events, RunDone)[0].hops == 3
    stored = [e["data"] for e in ctx.store.events(thread.id) if e["type"] == "handoff"]
    assert stored[-1]["kind"] == "hop_limit"


def test_max_hops_on_the_command_line(ctx) -> None:
    add_remote(ctx, "ping", [{"text": "Over.", "calls": [{"to": "pong", "task": "go", "context": ""}]}], ["pong"])
    add_remote(ctx, "pong", [{"text": "Over.", "calls": [{"to": "ping", "task": "go", "context": ""}]}], ["ping"])
    events = list(run_task(ctx, "@ping go", copilot_ids=["ping", "pong"], max_hops=1))
    assert [h.status for h in of_type(events, HandoffEvent)] == ["accepted", "rejected"]


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ({"to": "nobody-here", "task": "x", "context": ""}, "there is no copilot 'nobody-here'"),
        ({"to": "reviewer", "task": "x", "context": ""}, "may not hand off to reviewer (allowed: writer, ping)"),
        ({"to": "ping", "task": "x", "context": ""}, "cannot hand off to itself"),
        ({"to": "writer", "task": "", "context": ""}, "gives no task"),
        ({"task": "x"}, "names no copilot"),
        ('{"to": "writer", "task": "turn this into a tw', "not valid JSON"),
    ],
)
def test_bad_handoffs_are_refused_with_the_reason(ctx, call, reason) -> None:
    add_remote(ctx, "ping", [{"text": "Here you go.", "calls": [call]}], ["writer", "ping"])
    thread, events = run_with(ctx, "@ping start", ["ping", "writer", "reviewer"])
    (handoff,) = of_type(events, HandoffEvent)
    assert handoff.status == "rejected" and reason in handoff.reason
    assert ctx.store.tasks(thread_id=thread.id) == []
    assert [m.author for m in of_type(events, MessageEvent) if m.status == "complete"] == ["ping"]


def test_a_target_outside_the_run_is_refused(ctx) -> None:
    # offered a handoff to pong, the remote names writer: allowed for ping, but not in this run
    add_remote(
        ctx,
        "ping",
        [{"text": "Writer next.", "calls": [{"to": "writer", "task": "x", "context": ""}]}],
        ["writer", "pong"],
    )
    add_remote(ctx, "pong", [{"text": "Done."}], [])
    _, events = run_with(ctx, "@ping start", ["ping", "pong", "analyst"])
    assert "not taking part in this run" in of_type(events, HandoffEvent)[0].reason


def test_the_first_handoff_in_a_reply_wins(ctx) -> None:
    add_remote(
        ctx,
        "ping",
        [
            {
                "text": "Both!",
                "calls": [
                    {"to": "pong", "task": "first", "context": "c"},
                    {"to": "writer", "task": "second", "context": ""},
                ],
            }
        ],
        ["pong", "writer"],
    )
    add_remote(ctx, "pong", [{"text": "Done."}], [])
    thread, events = run_with(ctx, "@ping start", ["ping", "pong", "writer"])
    handoffs = of_type(events, HandoffEvent)
    assert [(h.to, h.status) for h in handoffs] == [("writer", "rejected"), ("pong", "accepted")]
    assert "only the first handoff" in handoffs[0].reason
    (task,) = ctx.store.tasks(thread_id=thread.id)
    assert (task.to_copilot, task.task, task.context, task.status) == ("pong", "first", "c", "done")


def test_the_target_gets_the_task_its_context_and_the_shared_transcript(ctx) -> None:
    add_remote(
        ctx,
        "ping",
        [
            {
                "text": "Numbers: 4% coupon.",
                "calls": [{"to": "pong", "task": "write the tweet", "context": "coupon is 4%"}],
            }
        ],
        ["pong"],
    )
    add_remote(ctx, "pong", [{"text": "Tweet!"}], [])
    ScriptedRemote.requests.clear()
    run_with(ctx, "@ping bonds please", ["ping", "pong"])
    request = next(r for who, r in ScriptedRemote.requests if who == "pong")
    texts = [m.content for m in request.messages]
    assert "[ping]: Numbers: 4% coupon. " in texts  # the other copilot, named
    assert texts[-1] == "ping handed you this task: write the tweet\nContext from ping: coupon is 4%"
    assert not request.tools  # pong may hand off to nobody


def test_a_failed_target_marks_its_task_failed(ctx, tmp_path) -> None:
    add_remote(
        ctx, "ping", [{"text": "Writer next.", "calls": [{"to": "writer", "task": "x", "context": ""}]}], ["writer"]
    )
    writer = ctx.copilot("writer").model_copy(update={"model": str(tmp_path / "missing.gguf")})
    ctx.store.save_copilot(writer.id, writer.name, writer.model_dump())
    thread, events = run_with(ctx, "@ping start", ["ping", "writer"])
    assert [t.status for t in of_type(events, TaskEvent)] == ["pending", "working", "failed"]
    assert ctx.store.tasks(thread_id=thread.id)[0].status == "failed"
