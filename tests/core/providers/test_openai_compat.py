"""The OpenAI-compatible provider against loopback servers: a scripted one for every stream shape and
fault, and llama-cpp-python's real server on the starter model."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Done,
    Error,
    ReasoningDelta,
    Sampling,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from app.core.providers.openai_compat import OpenAICompatProvider
from tests.conftest import PATIENCE_S, REPO, run_cli, wait_for
from tests.loopback import LoopbackServer, Response, sse


def chunk(delta=None, finish=None, usage=None, choices=True) -> str:
    body = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}
    if not choices:
        body["choices"] = []
    if usage:
        body["usage"] = usage
    return sse(None, body)


def run(provider, request=None, cancel=None) -> list:
    request = request or ChatRequest([ChatMessage("user", "Hi")])
    return list(provider.stream(request, cancel or CancelToken()))


def text_of(events) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


def test_text_reasoning_tool_calls_and_usage_are_read_from_the_stream(server, monkeypatch) -> None:
    monkeypatch.setenv("QUANT_KEY", "sk-test-123")
    stream = [
        chunk({"role": "assistant", "reasoning_content": "Think first. "}),
        chunk({"reasoning": "Then answer. "}),
        chunk({"content": "Bonds are "}),
        chunk({"content": "loans."}),
        # a call spread over deltas, its id only in the first; a second call whole in one chunk, no id
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "handoff"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"to": "writer", '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"task": "tweet it", "context": ""}'}}]}),
        chunk(
            {"tool_calls": [{"index": 1, "function": {"name": "lookup", "arguments": '{"q": "bond"}'}}]},
            finish="tool_calls",
        ),
        chunk(usage={"prompt_tokens": 12, "completion_tokens": 7}, choices=False),
        sse(None, "[DONE]"),
    ]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=stream)
    provider = OpenAICompatProvider(server.url, "quant-7b", "env:QUANT_KEY")
    tool = ToolSpec("handoff", "Hand off", {"type": "object"})
    events = run(provider, ChatRequest([ChatMessage("user", "Hi")], tools=[tool], json_schema={"type": "object"}))

    assert text_of(events) == "Bonds are loans."
    assert "".join(e.delta for e in events if isinstance(e, ReasoningDelta)) == "Think first. Then answer. "
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "handoff", {"to": "writer", "task": "tweet it", "context": ""}),
        ("call_1", "lookup", {"q": "bond"}),
    ]
    usage = next(e for e in events if isinstance(e, Usage))
    assert (usage.prompt_tokens, usage.completion_tokens) == (12, 7)
    assert events[-1].type == "done" and events[-1].finish_reason == "tool_calls"

    sent = server.requests[-1]
    assert sent.headers["Authorization"] == "Bearer sk-test-123"
    assert sent.body["model"] == "quant-7b" and sent.body["stream"] is True
    assert sent.body["tools"][0]["function"]["name"] == "handoff"
    assert sent.body["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_a_url_without_v1_and_a_models_list(server) -> None:
    server.routes[("GET", "/v1/models")] = lambda _r: Response(body={"data": [{"id": "a"}, {"id": "b"}]})
    assert OpenAICompatProvider(server.url + "/", "a").models() == ["a", "b"]
    assert OpenAICompatProvider(server.url + "/v1", "a").models() == ["a", "b"]


@pytest.mark.parametrize(
    ("status", "words", "kind"),
    [
        (401, "refused the key 'env:QUANT_KEY'", "auth"),
        (403, "refused the key 'env:QUANT_KEY'", "auth"),
        (404, "not found", "not_found"),
        (500, "internal error", "server"),
    ],
)
def test_http_errors_say_what_to_do(server, monkeypatch, status, words, kind) -> None:
    monkeypatch.setenv("QUANT_KEY", "sk-live-SECRET")
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(
        status, {"error": {"message": "Incorrect API key provided: sk-live-SECRET"}}
    )
    (error,) = [e for e in run(OpenAICompatProvider(server.url, "m", "env:QUANT_KEY")) if isinstance(e, Error)]
    assert words in error.message and error.kind == kind
    assert "sk-live-SECRET" not in error.message  # the server quoted the key: it is masked


def test_429_is_retried_after_the_time_it_asks_for_then_given_up(server) -> None:
    answers = [Response(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.2"})]
    answers.append(Response(chunks=[chunk({"content": "ok"}, finish="stop"), sse(None, "[DONE]")]))
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: answers.pop(0)
    started = time.monotonic()
    assert text_of(run(OpenAICompatProvider(server.url, "m"))) == "ok"
    assert time.monotonic() - started >= 0.2 and len(server.requests) == 2

    server.requests.clear()
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(429, {}, headers={"Retry-After": "0"})
    (error,) = [e for e in run(OpenAICompatProvider(server.url, "m")) if isinstance(e, Error)]
    assert error.kind == "rate_limit" and "try again later" in error.message
    assert len(server.requests) == 3  # bounded


def test_refused_connections_stalls_cuts_and_bad_json_are_clear_errors(server) -> None:
    closed = LoopbackServer()
    closed.close()
    (refused,) = [e for e in run(OpenAICompatProvider(closed.url, "m")) if isinstance(e, Error)]
    assert "Cannot reach" in refused.message and "is the server running" in refused.message

    released = threading.Event()

    def par_then_silence():
        yield chunk({"content": "Par"})
        released.wait(60)  # silent, the connection open, until the test has its answer

    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=par_then_silence())
    stalled = OpenAICompatProvider(server.url, "m")
    stalled.remote.read_timeout = 3.0  # room for connecting and "Par" on a loaded machine (the clock includes them)
    try:
        events = run(stalled)
    finally:
        released.set()
    assert text_of(events) == "Par" and events[-1].kind == "timeout" and "stopped sending" in events[-1].message

    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=[chunk({"content": "Half a"})])
    events = run(OpenAICompatProvider(server.url, "m"))
    assert text_of(events) == "Half a" and "ended the reply mid-stream" in events[-1].message

    bad = [chunk({"content": "So "}), "data: {not json\n\n"]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=bad)
    events = run(OpenAICompatProvider(server.url, "m"))
    assert text_of(events) == "So " and events[-1].kind == "protocol" and "not valid JSON" in events[-1].message


def test_stop_ends_a_stream_at_once(server) -> None:
    released = threading.Event()
    held_until_released = []

    def words():
        yield from (chunk({"content": f"w{i} "}) for i in range(3))
        held_until_released.append(released.wait(60))  # the rest only once the test is done (or a minute)
        yield from (chunk({"content": f"w{i} "}) for i in range(3, 200))

    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=words())
    cancel = CancelToken()
    seen = []
    try:
        for event in OpenAICompatProvider(server.url, "m").stream(ChatRequest([ChatMessage("user", "Hi")]), cancel):
            seen.append(event)
            if len(seen) == 3:
                cancel.cancel()
    finally:
        released.set()
    assert seen[-1].type == "done" and seen[-1].finish_reason == "cancelled"
    assert len(seen) == 4  # Stop ended the stream without waiting for the server to send (or close) anything
    wait_for(lambda: held_until_released)
    assert held_until_released == [True]  # the server was still holding the rest when the reply had ended


def test_a_failed_remote_reply_is_stored_as_failed_with_what_arrived(home, server) -> None:
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=[chunk({"content": "Bonds pay"})])
    assert run_cli("copilots", "add", "quant", "--openai", server.url, "--model", "m").returncode == 0
    result = run_cli("ask", "--copilot", "quant", "What is a bond?")
    assert result.returncode == 8 and "ended the reply mid-stream" in result.stderr
    thread = json.loads(run_cli("threads", "ls", "--json").stdout)[0]
    shown = json.loads(run_cli("threads", "show", thread["id"], "--json").stdout)
    user, reply = shown["messages"]
    assert user["text"] == "What is a bond?"
    assert (reply["status"], reply["text"]) == ("failed", "Bonds pay") and "mid-stream" in reply["data"]["error"]


def test_a_redirect_is_followed_within_the_origin_and_refused_to_another(server, monkeypatch) -> None:
    monkeypatch.setenv("QUANT_KEY", "sk-redirect-42")
    server.routes[("GET", "/v1/models")] = lambda _r: Response(307, headers={"Location": "/v1/listed"})
    server.routes[("GET", "/v1/listed")] = lambda _r: Response(body={"data": [{"id": "moved"}]})
    assert OpenAICompatProvider(server.url, "m").models() == ["moved"]

    # a stream moved for good (308): the same body and the key go to the new path of the same origin
    stream = [chunk({"content": "Here."}, finish="stop")]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(308, headers={"Location": "/v2/chat"})
    server.routes[("POST", "/v2/chat")] = lambda _r: Response(chunks=stream)
    events = run(OpenAICompatProvider(server.url, "m", "env:QUANT_KEY"))
    assert text_of(events) == "Here." and events[-1].type == "done"
    moved = server.requests[-1]
    assert moved.path == "/v2/chat" and moved.body["messages"][0]["content"] == "Hi"
    assert moved.headers["Authorization"] == "Bearer sk-redirect-42"

    other = LoopbackServer()  # another port: another origin
    try:
        other.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=stream)
        elsewhere = f"{other.url}/v1/chat/completions"
        server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(307, headers={"Location": elsewhere})
        events = run(OpenAICompatProvider(server.url, "m", "env:QUANT_KEY"))
        assert events[-1].type == "error" and events[-1].kind == "rejected"
        assert "redirected to another origin" in events[-1].message and other.url in events[-1].message
        assert "key 'env:QUANT_KEY' were not sent there" in events[-1].message
        assert other.requests == [] and other.connections == 0  # neither the key nor the thread went there
    finally:
        other.close()


def test_connections_are_kept_alive_between_requests(server) -> None:
    server.routes[("GET", "/v1/models")] = lambda _r: Response(body={"data": [{"id": "a"}]})
    provider = OpenAICompatProvider(server.url, "a")
    assert provider.models() == ["a"] and OpenAICompatProvider(server.url, "a").models() == ["a"]
    assert len(server.requests) == 2 and server.connections == 1  # two copilots on one server share the pool


class _Proxy:
    """A forward HTTP proxy on 127.0.0.1: records the absolute URLs it is asked for and fetches them itself."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.asked.append(self.path)
                direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # not through itself
                with direct.open(self.path, timeout=30) as answer:
                    payload = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_proxy_from_the_environment_is_used(server, monkeypatch) -> None:
    server.routes[("GET", "/v1/models")] = lambda _r: Response(body={"data": [{"id": "proxied"}]})
    proxy = _Proxy()
    try:
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        assert OpenAICompatProvider(server.url, "m").models() == ["proxied"]
        assert proxy.asked == [f"{server.url}/v1/models"]

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # and NO_PROXY is honoured as well
        assert OpenAICompatProvider(server.url, "m").models() == ["proxied"]
        assert len(proxy.asked) == 1 and len(server.requests) == 2
    finally:
        proxy.close()


def test_stop_from_another_thread_ends_a_silent_stream_and_lets_go_of_the_token(server) -> None:
    released = threading.Event()
    held_until_released = []

    def par_then_silence():
        yield chunk({"content": "Par"})
        held_until_released.append(released.wait(90))  # silent, the connection open: only Stop ends it sooner

    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=par_then_silence())
    provider = OpenAICompatProvider(server.url, "m")
    provider.remote.read_timeout = 600  # no clock may end the reply here: only Stop, or the server giving up
    cancel = CancelToken()
    seen = []
    try:
        for event in provider.stream(ChatRequest([ChatMessage("user", "Hi")]), cancel):
            seen.append(event)
            if isinstance(event, TextDelta):  # as the GUI does: Stop from another thread, while the read waits
                threading.Thread(target=lambda: (time.sleep(0.2), cancel.cancel())).start()
    finally:
        released.set()
    assert [e.type for e in seen] == ["text", "done"] and seen[-1].finish_reason == "cancelled"
    wait_for(lambda: held_until_released)
    assert held_until_released == [True]  # the server was still silent when Stop had ended the reply
    assert cancel._callbacks == []  # the request ended: its Stop callback went with it

    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=[chunk({"content": "a"}, "stop")])
    kept = CancelToken()
    for _attempt in range(3):  # one token over several requests, as a crew run's replies share one
        assert run(OpenAICompatProvider(server.url, "m"), cancel=kept)[-1].type == "done"
    assert kept._callbacks == []


def test_the_command_line_starts_without_httpx() -> None:
    """httpx comes with the remote providers (entry points, loaded when a remote copilot is built), not with
    `roundtable overlay` or the app context starting up."""
    probe = "import sys, app.cli, app.core.context; print([m for m in sys.modules if 'httpx' in m])"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert loaded.stdout.strip() == "[]"


def start_llama_server(model, *options: str):
    """llama-cpp-python's own OpenAI-compatible server on `model` (`options` last: they win)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm"]
        + ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", str(os.cpu_count() or 1)]
        + list(options),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    provider = OpenAICompatProvider(url, "smollm")
    try:
        wait_for(lambda: _answers(provider), timeout=PATIENCE_S, interval=0.2)
    except BaseException:
        process.kill()
        raise
    return process, url


@pytest.fixture
def llama_server(starter_model):
    """llama-cpp-python's own OpenAI-compatible server on the starter model: a real remote inference server."""
    process, url = start_llama_server(starter_model)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def function_calling_server(starter_model):
    """The same server with its function-calling chat format: it calls tools, but ends a stream that offers them
    at once, empty; and it generates without a token cap, so a small context bounds each step."""
    process, url = start_llama_server(starter_model, "--chat_format", "chatml-function-calling", "--n_ctx", "1536")
    yield url
    process.kill()
    process.wait(10)


def _answers(provider) -> bool:
    try:
        return "smollm" in provider.models()
    except Exception:
        return False


def test_a_real_llama_cpp_server_answers_as_a_remote_copilot(home, llama_server) -> None:
    added = run_cli("copilots", "add", "remote", "--openai", llama_server, "--model", "smollm", "--max-tokens", "48")
    assert added.returncode == 0, added.stderr
    tested = run_cli("copilots", "test", "remote", "--json")
    assert tested.returncode == 0, tested.stderr
    report = json.loads(tested.stdout)
    assert report["models"] == ["smollm"] and report["model_offered"] and report["answered"]

    result = run_cli("ask", "--copilot", "remote", "--json", "What is a bond? One sentence.")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    text = "".join(e["delta"] for e in events if e["type"] == "text")
    assert len(text.split()) >= 3
    shown = json.loads(run_cli("threads", "show", events[-1]["thread_id"], "--json").stdout)
    reply = shown["messages"][1]
    assert reply["author"] == "remote" and reply["status"] == "complete" and reply["text"] == text


def test_a_tool_call_reaches_a_real_server_that_cannot_stream_it(function_calling_server) -> None:
    """tool_choice is sent ("auto"): without it this server leaves the tools out. Its empty stream is taken as
    "cannot stream tools", the reply is asked for whole, and the call it makes comes back as a ToolCall."""
    from app.core.tools import builtin

    calculator = builtin.TOOLS["calculator"]
    spec = ToolSpec("roundtable__calculator", calculator.description, calculator.parameters)
    provider = OpenAICompatProvider(function_calling_server, "smollm")
    request = ChatRequest(
        [ChatMessage("user", "Use roundtable__calculator for 1234.5 + 8765.25")],
        Sampling(temperature=0.0, max_tokens=400),  # the format ignores it; our bound must not cut the round
        tools=[spec],
    )
    events = list(provider.stream(request, CancelToken()))
    assert not [e for e in events if isinstance(e, Error)], events
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls and calls[0].name == "roundtable__calculator" and isinstance(calls[0].arguments, dict)
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "tool_calls"
