"""Asking a copilot through the Python API, on the real starter model."""

import os
import signal
from pathlib import Path

import pytest

from app.core.crew.events import CrewError, CrewText, RunDone
from app.core.crew.runs import ask
from app.core.errors import UsageError
from app.core.providers.base import CancelToken
from app.core.store import STATUS_COMPLETE, STATUS_FAILED, STATUS_INTERRUPTED
from tests.conftest import LONG_PROMPT, write_settings


def last(events):
    return events[-1]


def failure(events) -> CrewError:
    """The reply's error event; the run's final `done` follows it."""
    assert isinstance(events[-1], RunDone)
    return next(e for e in events if isinstance(e, CrewError))


def test_first_run_registers_the_starter_model_and_the_starter_crew(ctx) -> None:
    assert [m["id"] for m in ctx.store.models()] == ["smollm2-135m"]
    assert ctx.store.models()[0]["metadata"]["quant"] == "Q4_1"
    assert ctx.copilot().id == "generalist"
    assert ctx.copilot("Generalist").name == "Generalist"
    assert {c.id for c in ctx.copilots()} == {"generalist", "analyst", "writer", "reviewer"}
    assert set(ctx.store.roster("default")) == {"generalist", "analyst", "writer", "reviewer"}


def test_ask_stores_question_and_streamed_answer(ctx) -> None:
    events = list(ask(ctx, "What is a bond?"))
    done = last(events)
    assert isinstance(done, RunDone) and done.status == STATUS_COMPLETE
    streamed = "".join(e.delta for e in events if isinstance(e, CrewText))
    messages = ctx.store.messages(done.thread_id)
    assert [(m.author, m.status) for m in messages] == [("user", STATUS_COMPLETE), ("generalist", STATUS_COMPLETE)]
    assert messages[1].text == streamed and streamed.strip()
    trace = messages[1].data["trace"]
    assert trace["model_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and trace["quant"] == "Q4_1"
    assert trace["completion_tokens"] > 0 and trace["decode_tokens_per_s"] > 0
    assert done.usage.prompt_tokens == trace["prompt_tokens"]


def test_continuing_a_thread_sends_its_history(ctx) -> None:
    first = last(list(ask(ctx, "My name is Ada. Remember it.")))
    second = last(list(ask(ctx, "What is my name?", thread_id=first.thread_id)))
    assert second.thread_id == first.thread_id
    assert len(ctx.store.messages(first.thread_id)) == 4
    # the second prompt carried the whole history
    assert second.usage.prompt_tokens > first.usage.prompt_tokens + 10


def test_unknown_copilot_or_thread_stores_nothing(ctx) -> None:
    with pytest.raises(UsageError, match="No copilot 'nobody'.*generalist"):
        list(ask(ctx, "Hi", copilot_id="nobody"))
    with pytest.raises(UsageError, match="No thread 'abc'"):
        list(ask(ctx, "Hi", thread_id="abc"))
    with pytest.raises(UsageError, match="No installed model 'nope'"):
        list(ask(ctx, "Hi", model="nope"))
    assert ctx.store.list_threads() == []


def test_cancel_keeps_the_partial_reply_as_interrupted(ctx) -> None:
    cancel = CancelToken()
    events = []
    for event in ask(ctx, LONG_PROMPT, cancel=cancel):
        events.append(event)
        if isinstance(event, CrewText) and sum(isinstance(e, CrewText) for e in events) == 5:
            cancel.cancel()
    done = last(events)
    assert isinstance(done, RunDone) and done.status == STATUS_INTERRUPTED
    reply = ctx.store.get_message(done.message_id)
    assert reply.status == STATUS_INTERRUPTED and reply.text


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_host_killed_mid_answer_then_the_next_ask_works(ctx, sig) -> None:
    events = []
    for event in ask(ctx, LONG_PROMPT):
        events.append(event)
        if isinstance(event, CrewText) and sum(isinstance(e, CrewText) for e in events) == 5:
            host = next(iter(ctx.pool.hosts.values()))
            os.kill(host.pid, sig)
    failed = failure(events)
    assert failed.kind == "crashed"
    assert signal.Signals(sig).name in failed.message and "ask again" in failed.message
    reply = ctx.store.get_message(failed.message_id)
    assert reply.status == STATUS_INTERRUPTED and reply.text and reply.error == failed.message

    again = last(list(ask(ctx, "Say hello.", thread_id=failed.thread_id)))
    assert isinstance(again, RunDone) and again.status == STATUS_COMPLETE


def test_prompt_longer_than_the_context_fails_clearly_and_keeps_the_question(home: Path) -> None:
    from app.core.context import AppContext

    write_settings(home, "context_size = 256\n")
    with AppContext() as context:
        prompt = "Please summarise this. " + "The quick brown fox jumps over the lazy dog. " * 80
        failed = failure(list(ask(context, prompt)))
        assert failed.kind == "context"
        assert "context of 256 tokens" in failed.message
        user, reply = context.store.messages(failed.thread_id)
        assert user.text == prompt and reply.status == STATUS_FAILED and reply.error == failed.message


def test_long_history_is_trimmed_to_fit_instead_of_failing(home: Path) -> None:
    from app.core.context import AppContext

    write_settings(home, "context_size = 512\nmax_reply_tokens = 32\n")
    with AppContext() as context:
        thread_id = None
        for _ in range(6):
            done = last(list(ask(context, "Tell me one fact about the sea. " * 8, thread_id=thread_id)))
            assert isinstance(done, RunDone), done
            thread_id = done.thread_id
        assert done.usage.prompt_tokens < 512


def test_missing_model_file_is_stored_as_a_failed_reply(ctx, tmp_path: Path) -> None:
    failed = failure(list(ask(ctx, "Hello?", model=str(tmp_path / "gone.gguf"))))
    assert failed.kind == "model_file"
    assert "missing" in failed.message
    user, reply = ctx.store.messages(failed.thread_id)
    assert user.text == "Hello?" and reply.status == STATUS_FAILED and reply.text == ""
