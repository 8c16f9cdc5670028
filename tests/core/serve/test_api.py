"""The local API through clients nobody here wrote: the official `openai` package and curl, on the real starter
model; a crew handing off; the queue's 429; a client that goes away."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest

from app.core.hub.starter import STARTER_MODEL_ID
from app.core.serve.server import ApiServer
from app.core.store.workspaces import API_WORKSPACE
from tests.conftest import LONG_PROMPT, wait_for
from tests.core.crew.remote import add_remote

TOKEN = "test-token-0123456789"
MODEL = f"model:{STARTER_MODEL_ID}"
SHORT = 8  # tokens per reply: a busy 2-core machine answers quickly
WAIT_S = 120  # every client wait: generous, never a timing assertion


@pytest.fixture
def api(ctx) -> Iterator[ApiServer]:
    server = ApiServer(ctx, TOKEN)
    server.start()
    yield server
    server.stop()


def client(api: ApiServer, key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.url, api_key=key, max_retries=0, timeout=WAIT_S)


def curl(*args: str) -> tuple[int, dict]:
    """curl's HTTP status and JSON body."""
    done = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=WAIT_S, check=True
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_models_list_every_copilot_crew_and_installed_model(api) -> None:
    names = [model.id for model in client(api).models.list()]
    assert {"copilot:generalist", "copilot:writer", "crew:default", MODEL} <= set(names)
    assert f"crew:{API_WORKSPACE}" not in names  # the API's own workspace holds single asks, not a crew


def test_a_copilot_answers_and_the_call_is_stored_with_its_history(api, ctx) -> None:
    reply = client(api).chat.completions.create(
        model="copilot:generalist",
        messages=[
            {"role": "system", "content": "ignored: the copilot keeps its own system prompt"},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Hello Ada."},
            {"role": "user", "content": "What is a bond?"},
        ],
        max_tokens=SHORT,
    )
    text = reply.choices[0].message.content
    assert text and reply.choices[0].finish_reason in ("stop", "length")
    assert 0 < reply.usage.completion_tokens <= SHORT and reply.usage.prompt_tokens > 0

    thread = ctx.store.get_thread(reply.model_extra["roundtable"]["thread_id"])
    assert thread.workspace_id == API_WORKSPACE
    stored = [(m.author, m.text, m.status) for m in ctx.store.messages(thread.id)]
    assert stored == [
        ("user", "My name is Ada.", "complete"),
        ("generalist", "Hello Ada.", "complete"),
        ("user", "What is a bond?", "complete"),
        ("generalist", text, "complete"),
    ]


def test_a_model_streams_to_the_openai_client_with_usage_and_events(api, ctx) -> None:
    stream = client(api).chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Say hello."}],
        max_tokens=SHORT,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"roundtable": {"events": True}},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    events = [c.model_extra["roundtable"] for c in chunks if not c.choices and "roundtable" in c.model_extra]
    (usage,) = [c.usage for c in chunks if c.usage is not None]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] in (
        ["stop"],
        ["length"],
    )
    assert [e["type"] for e in events if e["type"] != "status"] == ["message", "message", "done"]  # status: loading
    done = events[-1]
    reply = ctx.store.get_message(done["message_id"])
    assert text and reply.text == text and reply.author == "api-model" and reply.status == "complete"
    assert usage.completion_tokens == done["usage"]["completion_tokens"] <= SHORT
    assert reply.data["trace"]["sampling"]["max_tokens"] == SHORT


def test_embeddings_through_the_openai_client(api) -> None:
    result = client(api).embeddings.create(model=MODEL, input=["The cat sat.", "Bonds pay coupons."])
    assert [item.index for item in result.data] == [0, 1]
    first = result.data[0].embedding
    assert len(first) > 100 and abs(sum(x * x for x in first) - 1) < 1e-3  # base64 floats, decoded by the client
    assert result.usage.prompt_tokens > 0
    with pytest.raises(openai.NotFoundError, match="No model 'model:nothing'"):
        client(api).embeddings.create(model="model:nothing", input="x")


def test_curl_needs_the_token_on_every_endpoint(api) -> None:
    status, body = curl("-H", f"Authorization: Bearer {TOKEN}", f"{api.url[:-3]}/health")
    assert status == 200 and body["status"] == "ok"
    for headers in ([], ["-H", "Authorization: Bearer wrong"], ["-H", f"Authorization: Basic {TOKEN}"]):
        for path in ("/health", "/v1/models"):
            status, body = curl(*headers, f"{api.url[:-3]}{path}")
            assert status == 401 and body["error"]["code"] == "invalid_api_key" and body["error"]["type"]
    wrong = ["-H", "Authorization: Bearer wrong", "-H", "Content-Type: application/json"]
    status, body = curl(*wrong, "-d", "{}", f"{api.url}/chat/completions")
    assert status == 401 and "roundtable serve token" in body["error"]["message"]
    with pytest.raises(openai.AuthenticationError):
        client(api, key="wrong").models.list()


def test_bad_requests_get_openai_shaped_errors(api) -> None:
    def post(body: bytes | dict, path: str = "/chat/completions") -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        return httpx.post(f"{api.url}{path}", content=content, headers=headers, timeout=WAIT_S)

    user = [{"role": "user", "content": "hi"}]
    cases = [
        (post(b"{" + b" " * (1024 * 1024) + b"}"), 413, "over 1024 KiB"),
        (post(b"not json"), 400, "not JSON"),
        (post({"model": MODEL, "messages": []}), 400, "'messages'"),
        (post({"model": MODEL, "messages": user, "max_tokens": 0}), 400, "'max_tokens'"),
        (post({"model": MODEL, "messages": [{"role": "user", "content": "x" * 200_001}]}), 400, "messages.0.content"),
        (post({"model": MODEL, "messages": [*user, {"role": "assistant", "content": "a"}]}), 400, "last message"),
        (post({"model": "crew:nowhere", "messages": user}), 404, "No model 'crew:nowhere'"),
        (post({"model": "gpt-4o", "messages": user}), 404, "copilot:<id>"),
        (post({"model": MODEL, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}), 400, "text"),
        (post({}, "/nowhere"), 404, "Not Found"),
    ]
    for response, status, words in cases:
        error = response.json()["error"]
        assert (response.status_code, words in error["message"]) == (status, True), error
        assert set(error) == {"message", "type", "param", "code"}


def test_a_crew_call_runs_a_handoff_and_is_stored_in_its_workspace(api, ctx) -> None:
    add_remote(ctx, "ping", [{"text": "Numbers checked.", "calls": [{"to": "pong", "task": "tweet it"}]}], ["pong"])
    add_remote(ctx, "pong", [{"text": "Bonds: loans you can sell."}], [])
    desk = ctx.store.create_workspace("Bond desk")
    ctx.store.set_roster(desk, ["ping", "pong"])

    stream = client(api).chat.completions.create(
        model="crew:Bond desk",
        messages=[{"role": "user", "content": "@ping check the numbers, then have them tweeted"}],
        stream=True,
        extra_body={"roundtable": {"events": True}},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    events = [c.model_extra["roundtable"] for c in chunks if not c.choices]
    assert text == "Numbers checked. \n\nBonds: loans you can sell. "
    (handoff,) = [e for e in events if e["type"] == "handoff"]
    assert (handoff["from"], handoff["to"], handoff["status"]) == ("ping", "pong", "accepted")
    done = events[-1]
    assert done["type"] == "done" and done["hops"] == 1

    thread = ctx.store.get_thread(done["thread_id"])
    assert thread.workspace_id == desk
    assert [m.author for m in ctx.store.messages(thread.id)] == ["user", "ping", "pong"]
    assert [(t.from_copilot, t.to_copilot, t.status) for t in ctx.store.tasks(thread_id=thread.id)] == [
        ("ping", "pong", "done")
    ]


def test_eight_concurrent_clients_are_all_answered_or_told_to_retry(api) -> None:
    outcomes: list[object] = []

    def call() -> None:
        try:
            reply = client(api).chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Count to three."}], max_tokens=SHORT
            )
            outcomes.append(reply.choices[0].message.content)
        except openai.RateLimitError as exc:
            outcomes.append(exc)
        except Exception as exc:  # anything else fails the test below, with what it was
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 4)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    answered = [o for o in outcomes if isinstance(o, str) and o]
    refused = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    assert len(answered) + len(refused) == 8, outcomes
    assert answered and all(r.response.headers["Retry-After"] == "2" for r in refused)
    assert api.server.config.app.state.api.lanes.busy(MODEL) == 0


def test_a_full_queue_answers_429_and_a_disconnect_cancels_the_run(ctx) -> None:
    ctx.settings = ctx.settings.model_copy(update={"api_queue": 1})
    server = ApiServer(ctx, TOKEN)
    server.start()
    try:
        openai_client = client(server)
        stream = openai_client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": LONG_PROMPT}], max_tokens=2000, stream=True
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break  # the model is generating: the one place in its queue is taken
        with pytest.raises(openai.RateLimitError) as refused:
            openai_client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert refused.value.response.headers["Retry-After"] == "2"
        assert refused.value.body["code"] == "rate_limit_exceeded"

        stream.close()  # the client goes away mid-reply
        lanes = server.server.config.app.state.api.lanes
        wait_for(lambda: lanes.busy(MODEL) == 0, timeout=WAIT_S)
        (thread,) = ctx.store.list_threads(API_WORKSPACE)
        reply = ctx.store.messages(thread.id)[-1]
        assert reply.status == "interrupted" and reply.data["trace"]["finish_reason"] == "cancelled"
        assert reply.data["trace"].get("completion_tokens", 0) < 2000

        after = openai_client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=SHORT
        )
        assert after.choices[0].message.content  # the model host is free for the next call
    finally:
        server.stop()
