"""Plans: a request cut into steps, names pinned, the router choosing the rest, the crew working it in order."""

import json
from pathlib import Path

import pytest

from app.core.crew.copilots import load_manifest_file
from app.core.crew.engine import CrewRun
from app.core.crew.events import LimitEvent, MessageEvent, PlanEvent, RouteDecision, RunDone, TaskEvent
from app.core.crew.plan import MAX_STEPS, pinned_steps, plan, plan_schema
from app.core.crew.runs import run_task
from app.core.providers.base import CancelToken
from tests.conftest import run_cli
from tests.core.crew.remote import add_remote

CREW = [load_manifest_file(p) for p in sorted(Path("resources/crew").glob("*.toml"))]


def steps_of(text: str) -> list[tuple[str | None, str]]:
    return [(copilot.id if copilot else None, task) for task, copilot, _ in pinned_steps(text, CREW)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Explain what a bond coupon is, then have the writer turn it into a tweet.",
            [(None, "Explain what a bond coupon is"), ("writer", "have the writer turn it into a tweet.")],
        ),
        ("What is a bond? Keep it short.", [(None, "What is a bond? Keep it short.")]),
        ("If rates rise, then bond prices fall. Why?", [(None, "If rates rise, then bond prices fall. Why?")]),
        (
            "I am a writer like Orwell; how do I thank someone?",
            [(None, "I am a writer like Orwell; how do I thank someone?")],
        ),
        (
            "Writer, draft a thank-you email. Then our reviewer checks it.",
            [("writer", "Writer, draft a thank-you email."), ("reviewer", "our reviewer checks it.")],
        ),
        (
            "Summarise index funds; after that write a tweet; finally have the reviewer check it.",
            [(None, "Summarise index funds"), (None, "write a tweet"), ("reviewer", "have the reviewer check it.")],
        ),
        (
            "@analyst what is EBITDA, then @writer a haiku",
            [("analyst", "@analyst what is EBITDA"), ("writer", "@writer a haiku")],
        ),
    ],
)
def test_a_request_is_cut_into_steps_where_its_words_move_on(text, expected) -> None:
    assert steps_of(text) == expected


def test_someone_elses_part_begins_at_and_have_or_get() -> None:
    assert [c for c, _ in steps_of("Work out the payment, and get the reviewer to double-check it.")] == [
        None,
        "reviewer",
    ]
    assert len(steps_of("Find out what the rule of 72 is, have it written up as a tweet.")) == 2


def test_the_skills_are_matched_with_the_instruction_not_the_quoted_text() -> None:
    from app.core.crew.matching import instruction

    assert instruction("Fact-check this for me: 'The Great Wall is visible from the Moon'") == "Fact-check this for me"
    assert instruction("What's the capital of Australia?") == "What's the capital of Australia?"
    assert instruction("'Only a quote, nothing asked of it'") == "'Only a quote, nothing asked of it'"


def test_several_names_in_one_step_are_a_step_each_and_neighbours_with_one_copilot_join() -> None:
    assert [c for c, _ in steps_of("@writer and @analyst: say hi, each of you.")] == ["writer", "analyst"]
    assert [c for c, _ in steps_of("Ask the analyst about bonds, then have the analyst add a figure.")] == ["analyst"]
    many = ", then ".join(f"step {n}" for n in range(MAX_STEPS + 3))
    assert len(steps_of(many)) == MAX_STEPS


def test_the_plan_schema_pins_named_steps_and_offers_the_participants_elsewhere() -> None:
    schema = plan_schema([["writer"], ["analyst", "writer"]])
    items = schema["properties"]["steps"]["prefixItems"]
    assert [item["properties"]["copilot"]["enum"] for item in items] == [["writer"], ["analyst", "writer"]]
    assert schema["properties"]["steps"]["items"] is False


def test_the_router_model_fills_in_the_open_steps_of_a_plan(ctx) -> None:
    participants = [ctx.copilot(c) for c in ("generalist", "analyst", "writer", "reviewer")]
    provider = ctx.provider_for(participants[0])
    text = "Explain what a bond coupon is, then have the writer turn it into a tweet, then our reviewer checks it."
    *statuses, steps = plan(provider, text, participants, participants, participants[0], CancelToken())
    assert [s.by for s in steps] == ["router", "named", "named"]
    assert steps[0].copilot in participants and [s.copilot.id for s in steps[1:]] == ["writer", "reviewer"]
    assert steps[0].task == "Explain what a bond coupon is" and statuses


def test_the_copilots_skills_decide_where_they_clearly_match_and_the_default_takes_the_rest(ctx) -> None:
    participants = [ctx.copilot(c) for c in ("analyst", "generalist", "reviewer", "writer")]
    default = ctx.copilot("generalist")
    matcher = ctx.skill_matcher().scores

    def first_step(text: str):
        *_, steps = plan(None, text, participants, participants, default, CancelToken(), matcher)
        return steps[0].copilot.id, steps[0].by

    assert first_step("Write a haiku about the first frost of autumn.") == ("writer", "skills")
    assert first_step("How long should I boil an egg?") == ("generalist", "default")
    scores = matcher("Proofread this sentence for typos", participants)
    assert set(scores) == {"analyst", "generalist", "reviewer", "writer"}
    assert max(scores, key=scores.get) == "reviewer"


def test_a_plan_is_shown_and_put_on_the_board_before_work_starts_then_worked_in_order(ctx) -> None:
    text = "@analyst Say what a coupon is in one sentence, then have the writer make it a tweet."
    events = list(run_task(ctx, text, copilot_ids=["analyst", "writer"]))  # the writer has nobody to hand to
    (planned,) = [e for e in events if isinstance(e, PlanEvent)]
    assert [(s["copilot"], s["by"]) for s in planned.steps] == [("analyst", "mention"), ("writer", "named")]
    first_message = next(i for i, e in enumerate(events) if isinstance(e, MessageEvent))
    pending = [e for e in events[:first_message] if isinstance(e, TaskEvent) and e.status == "pending"]
    assert [(t.to, t.status) for t in pending] == [("analyst", "pending"), ("writer", "pending")]
    assert not [e for e in events if isinstance(e, RouteDecision)]
    authors = [e.author for e in events if isinstance(e, MessageEvent) and e.status == "complete"]
    assert authors == ["analyst", "writer"]
    done = events[-1]
    assert isinstance(done, RunDone) and done.hops == 0 and done.stopped_by is None
    tasks = ctx.store.tasks(thread_id=done.thread_id)
    assert sorted((t.from_copilot, t.to_copilot, t.status) for t in tasks) == [
        ("user", "analyst", "done"),
        ("user", "writer", "done"),
    ]
    # the writer was asked for its own part, after the analyst's reply
    stored = [e for e in ctx.store.events(done.thread_id) if e["type"] == "plan"]
    assert stored and stored[0]["data"]["steps"][1]["copilot"] == "writer"
    shown = run_cli("threads", "show", done.thread_id, "--trace").stdout
    assert "[plan: 1. analyst:" in shown and "why=step 2 of the plan" in shown


def test_the_plan_in_json_events_on_the_command_line(home) -> None:
    result = run_cli("run", "@writer a two-line poem about bonds, then @reviewer check it", "--json", "--max-hops", "0")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    (planned,) = [e for e in events if e["type"] == "plan"]
    assert [s["copilot"] for s in planned["steps"]] == ["writer", "reviewer"]
    assert all(s["task_id"] for s in planned["steps"])
    assert [e["author"] for e in events if e["type"] == "message" and e["status"] == "complete"] == [
        "writer",
        "reviewer",
    ]


def test_max_turns_stops_a_plan_visibly_and_fails_the_steps_left(ctx) -> None:
    add_remote(ctx, "ping", [{"text": "First part done."}], [])
    add_remote(ctx, "pong", [{"text": "Second part done."}], [])
    thread = ctx.store.create_thread("limits")
    run = CrewRun(ctx, thread.id, [ctx.copilot("ping"), ctx.copilot("pong")], max_hops=6, max_turns=1)
    events = list(run.handle("@ping start, then @pong finish"))
    (limit,) = [e for e in events if isinstance(e, LimitEvent)]
    assert (limit.limit, limit.value, limit.used) == ("max_turns", 1, 1) and "limit of 1 replies" in limit.message
    assert [e.author for e in events if isinstance(e, MessageEvent) and e.status == "complete"] == ["ping"]
    assert [t.status for t in ctx.store.tasks(thread_id=thread.id) if t.to_copilot == "pong"] == ["failed"]
    assert events[-1].stopped_by == "max_turns"
    assert [e["data"]["limit"] for e in ctx.store.events(thread.id) if e["type"] == "limit"] == ["max_turns"]


def test_a_token_budget_stops_the_run_once_spent(ctx) -> None:
    add_remote(ctx, "ping", [{"text": "First part done."}], [])
    add_remote(ctx, "pong", [{"text": "Second part done."}], [])
    events = list(run_task(ctx, "@ping start, then @pong finish", copilot_ids=["ping", "pong"], token_budget=10))
    (limit,) = [e for e in events if isinstance(e, LimitEvent)]
    assert (limit.limit, limit.value, limit.used) == ("token_budget", 10, 15)  # the scripted usage: 10 + 5
    assert events[-1].stopped_by == "token_budget"


def test_limits_on_the_command_line(home) -> None:
    text = "@writer say hello in three words, then @reviewer say goodbye"
    result = run_cli("run", text, "--max-turns", "1", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    (limit,) = [e for e in events if e["type"] == "limit"]
    assert limit["limit"] == "max_turns" and events[-1]["stopped_by"] == "max_turns"
    assert [e["author"] for e in events if e["type"] == "message" and e["status"] == "complete"] == ["writer"]
    refused = run_cli("run", text, "--max-turns", "0")
    assert refused.returncode == 2 and "--max-turns" in refused.stderr and "1 or more" in refused.stderr
