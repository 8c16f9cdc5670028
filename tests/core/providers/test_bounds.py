"""Remote input is bounded: loopback servers that misbehave in every way a hostile or broken server can, and
the reply ends as failed with a clear reason while memory stays bounded; keys a server quotes are masked; the
key never goes to an origin the user did not configure."""

import json
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterator

import pytest

from app.core.providers.a2a import A2AProvider
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Error, Sampling, TextDelta, ToolCall
from app.core.providers.bounds import KeyMask, reply_char_cap
from app.core.providers.openai_compat import OpenAICompatProvider
from app.core.providers.openbb import OpenBBProvider
from tests.conftest import REPO, run_cli
from tests.core.providers.a2a_agent import serve_a2a_agent
from tests.core.providers.openbb_agent import serve_openbb_agent
from tests.loopback import LoopbackServer, Response, sse

KEY = "sk-ECHOED-0123456789abcdef"
MiB = 1 << 20
STALL_S = 3.0  # a stall timeout for tests: generous for a loaded machine, short against endless keep-alives


def chunk(content=None, finish=None, **delta) -> str:
    if content is not None:
        delta["content"] = content
    return sse(None, {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def run(provider, max_tokens: int = 1024) -> list:
    request = ChatRequest([ChatMessage("user", "Hi")], sampling=Sampling(max_tokens=max_tokens))
    return list(provider.stream(request, CancelToken()))


def text_of(events) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


def peak_bytes(action) -> tuple[object, int]:
    """`action()`'s result and the most Python memory in use meanwhile (this process, all threads)."""
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def forever(piece: str, times: int = 100_000) -> Iterator[str]:
    """A server that would go on for a very long time: the client must be the one that stops."""
    for _ in range(times):
        yield piece


def test_a_200_mib_line_without_a_newline_is_refused_with_bounded_memory(server) -> None:
    # generated as it is sent; the child process that reads it reports its own peak memory
    line = "data: " + "x" * (64 * 1024)
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(
        chunks=[chunk("Before ")] + [line] + ["x" * (64 * 1024)] * 3200  # 200 MiB, never a newline
    )
    child = textwrap.dedent(
        f"""
        import json, resource
        from app.core.providers.base import CancelToken, ChatMessage, ChatRequest
        from app.core.providers.openai_compat import OpenAICompatProvider
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        provider = OpenAICompatProvider({server.url!r}, "m")
        events = [e.to_dict() for e in provider.stream(ChatRequest([ChatMessage("user", "Hi")]), CancelToken())]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"events": events, "grew_kib": after - before}}))
        """
    )
    done = subprocess.run([sys.executable, "-c", child], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    last = report["events"][-1]
    assert last["type"] == "error" and last["kind"] == "protocol" and "line over 1 MiB" in last["message"]
    assert report["events"][0] == {"type": "text", "delta": "Before "}  # what arrived first is kept
    assert report["grew_kib"] < 32 * 1024  # today: 860 MiB


def test_a_reply_far_beyond_max_tokens_is_stopped(server) -> None:
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=forever(chunk("token ")))
    events, peak = peak_bytes(lambda: run(OpenAICompatProvider(server.url, "m"), max_tokens=64))
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "protocol"
    assert f"more than {reply_char_cap(64):,} characters" in error.message and "64 tokens" in error.message
    assert len(text_of(events)) <= reply_char_cap(64)
    assert peak < 8 * MiB


def test_endless_tool_call_arguments_count_against_the_same_budget(server) -> None:
    piece = sse(None, {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "aaaa"}}]}}]})
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=forever(piece))
    events = run(OpenAICompatProvider(server.url, "m"), max_tokens=16)
    assert events[-1].type == "error" and "more than 4,096 characters" in events[-1].message
    assert not [e for e in events if isinstance(e, ToolCall)]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_json_body_over_8_mib_is_refused(server, declared) -> None:
    if declared:  # the server says how big: refused before reading it
        agents = json.dumps({"desk": {"name": "Desk", "endpoints": {"query": "/q"}, "pad": "x" * (9 * MiB)}})
        body = agents.encode()
        server.routes[("GET", "/agents.json")] = lambda _r: Response(body=body)
    else:  # no length: refused once 8 MiB have arrived
        server.routes[("GET", "/agents.json")] = lambda _r: Response(
            chunks=['{"desk": {"pad": "'] + list(forever("x" * 65536, 400))  # 25 MiB
        )
    events, peak = peak_bytes(lambda: run(OpenBBProvider(server.url)))
    assert events[-1].type == "error" and "more than 8 MiB of JSON" in events[-1].message
    assert peak < (2 if declared else 12) * MiB  # streamed: what arrived up to the cap, then refused


@pytest.mark.parametrize(
    "keep_alive",
    [": keep-alive\n\n", "\n", 'data: {"choices": [{"index": 0, "delta": {}}]}\n\n', 'data: {"choices": []}\n\n'],
    ids=["comments", "blank lines", "empty deltas", "empty choices"],
)
def test_keep_alives_without_content_end_as_a_stall(server, keep_alive) -> None:
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(
        chunks=[chunk("Par")] + list(forever(keep_alive, 4000)),
        delay=0.02,  # 80 s of keep-alives
    )
    provider = OpenAICompatProvider(server.url, "m")
    # the stall clock starts with the reply, so connecting and "Par" count against it: 3 s leaves a loaded
    # machine room for those, and is still far below the 80 s the keep-alives would go on for
    provider.remote.read_timeout = STALL_S
    events = run(provider)
    assert text_of(events) == "Par"
    assert events[-1].kind == "timeout" and "keep-alives" in events[-1].message


def test_openbb_empty_chunks_are_no_content_either(server) -> None:
    serve_openbb_agent(server)
    empty = sse("copilotMessageChunk", {"delta": ""})
    server.routes[("POST", "/v1/query")] = lambda _r: Response(chunks=forever(empty, 4000), delay=0.02)
    provider = OpenBBProvider(server.url)
    provider.remote.read_timeout = STALL_S
    events = run(provider)
    assert events[-1].kind == "timeout" and "stopped sending reply content" in events[-1].message
    assert [r.path for r in server.requests if r.method == "POST"] == ["/v1/query"]  # it stalled in the stream


@pytest.mark.parametrize(
    "trickle",
    [chunk("word "), "d"],
    ids=["content", "one byte at a time, no newline"],
)
def test_a_reply_past_the_overall_deadline_is_stopped(server, trickle) -> None:
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=forever(trickle, 3000), delay=0.05)
    provider = OpenAICompatProvider(server.url, "m", deadline_s=1.0)
    events = run(provider)
    error = events[-1]
    assert error.kind == "timeout" and "still replying after 1 s" in error.message
    assert "remote_reply_timeout_s" in error.message


def test_the_deadline_comes_from_the_settings(home, server) -> None:
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.toml").write_text("remote_reply_timeout_s = 1\n")
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=forever(chunk("w ")), delay=0.05)
    assert run_cli("copilots", "add", "slow", "--openai", server.url).returncode == 0
    asked = run_cli("ask", "--copilot", "slow", "Hi")
    assert asked.returncode == 8 and "still replying after 1 s" in asked.stderr


def test_a_key_the_server_quotes_is_masked_before_it_is_stored(home, server, monkeypatch) -> None:
    monkeypatch.setenv("QUANT_KEY", KEY)
    half = len(KEY) // 2
    stream = [
        chunk(reasoning_content=f"The key is {KEY[:5]}"),
        chunk(reasoning_content=f"{KEY[5:]}."),
        chunk(f"You sent {KEY[:half]}"),  # the key split across two deltas
        chunk(f"{KEY[half:]} as your key"),
        chunk(f" and again {KEY}."),
        sse(None, {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"name": "lookup"}}]}}]}),
        sse(
            None,
            {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": json.dumps({"q": KEY})}}]}}]},
        ),
        chunk(finish="stop"),
    ]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=stream)
    events = run(OpenAICompatProvider(server.url, "m", "env:QUANT_KEY"))
    assert text_of(events) == "You sent *** as your key and again ***."
    assert "".join(e.delta for e in events if e.type == "reasoning") == "The key is ***."
    (call,) = [e for e in events if isinstance(e, ToolCall)]
    assert call.arguments == {"q": "***"} and KEY not in call.raw
    assert KEY not in repr(events)

    # the same through the CLI: the stored reply holds the mask, the database file never the key
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(
        chunks=[chunk(f"Echo {KEY[:9]}"), chunk(f"{KEY[9:]} end", finish="stop")]
    )
    assert run_cli("copilots", "add", "echo", "--openai", server.url, "--api-key-name", "env:QUANT_KEY").returncode == 0
    asked = run_cli("ask", "--copilot", "echo", "Hi")
    assert asked.returncode == 0, asked.stderr
    assert KEY not in asked.stdout and "Echo *** end" in asked.stdout
    thread = json.loads(run_cli("threads", "ls", "--json").stdout)[0]
    reply = json.loads(run_cli("threads", "show", thread["id"], "--json").stdout)["messages"][1]
    assert reply["text"] == "Echo *** end"
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert KEY.encode() not in stored


def test_a_key_quoted_in_a_mid_stream_error_is_masked(server, monkeypatch) -> None:
    monkeypatch.setenv("QUANT_KEY", KEY)
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(
        chunks=[sse(None, {"error": {"message": f"bad key {KEY}"}})]
    )
    events = run(OpenAICompatProvider(server.url, "m", "env:QUANT_KEY"))
    assert events[-1].type == "error" and "bad key ***" in events[-1].message


def test_the_key_mask_holds_back_only_what_could_start_a_key() -> None:
    mask = KeyMask(["secret"])
    pieces = [mask.feed(p) for p in ["abc sec", "ret def se", "cre", "t!"]]
    assert "".join(pieces) + mask.flush() == "abc *** def ***!"
    assert KeyMask([]).feed("as is") == "as is"


def test_the_a2a_key_never_reaches_another_origin_the_card_names(server, monkeypatch) -> None:
    monkeypatch.setenv("RATES_KEY", KEY)
    other = LoopbackServer()
    try:
        serve_a2a_agent(other)  # the agent really lives on `other`
        card = {"name": "Rates agent", "url": f"{other.url}/a2a", "capabilities": {"streaming": True}}
        server.routes[("GET", "/.well-known/agent-card.json")] = lambda _r: Response(body=card)

        events = run(A2AProvider(server.url, "env:RATES_KEY", copilot_id="rates"))
        error = events[-1]
        assert error.type == "error" and error.kind == "rejected"
        assert other.url.replace("http://", "") in error.message
        assert "copilots edit rates --trust-card-origins" in error.message
        assert other.requests == []  # never saw the key, nor anything else

        # no key (as every copilot from an archive): the conversation itself stays off a host never named
        events = run(A2AProvider(server.url, copilot_id="rates"))
        error = events[-1]
        assert error.type == "error" and error.kind == "rejected"
        assert "your messages are not sent there" in error.message
        assert other.url.replace("http://", "") in error.message
        assert "copilots edit rates --trust-card-origins" in error.message
        assert other.requests == []

        events = run(A2AProvider(server.url, trust_card_origins=True))  # the user agreed: the card's URL is followed
        assert events[-1].type == "done" and "Authorization" not in other.requests[-1].headers

        events = run(A2AProvider(server.url, "env:RATES_KEY", trust_card_origins=True))  # the user agreed
        assert events[-1].type == "done" and other.requests[-1].headers["Authorization"] == f"Bearer {KEY}"
        assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"  # the configured origin has it
    finally:
        other.close()


def test_the_openbb_key_never_reaches_another_origin_agents_json_names(server, monkeypatch) -> None:
    monkeypatch.setenv("DESK_KEY", KEY)
    other = LoopbackServer()
    try:
        serve_openbb_agent(other)
        listing = {"desk": {"name": "Desk", "endpoints": {"query": f"{other.url}/v1/query"}}}
        server.routes[("GET", "/agents.json")] = lambda _r: Response(body=listing)
        events = run(OpenBBProvider(server.url, key_name="env:DESK_KEY"))
        assert events[-1].kind == "rejected" and "trust_card_origins = true" in events[-1].message
        assert other.requests == []
        events = run(OpenBBProvider(server.url))  # no key: the thread still does not go to the other origin
        assert events[-1].kind == "rejected" and other.url.replace("http://", "") in events[-1].message
        assert other.requests == []
        events = run(OpenBBProvider(server.url, key_name="env:DESK_KEY", trust_card_origins=True))
        assert events[-1].type == "done" and {r.headers["Authorization"] for r in other.requests} == {f"Bearer {KEY}"}
    finally:
        other.close()


def test_trusting_card_origins_from_the_cli(home, server, monkeypatch) -> None:
    monkeypatch.setenv("RATES_KEY", KEY)
    other = LoopbackServer()
    try:
        serve_a2a_agent(other)
        card = {"name": "Rates agent", "url": f"{other.url}/a2a", "capabilities": {"streaming": True}}
        server.routes[("GET", "/.well-known/agent-card.json")] = lambda _r: Response(body=card)
        added = run_cli("copilots", "add", "rates", "--a2a", server.url, "--api-key-name", "env:RATES_KEY")
        assert added.returncode == 0, added.stderr
        refused = run_cli("ask", "--copilot", "rates", "Hi")
        assert refused.returncode == 8 and "--trust-card-origins" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and other.requests == []
        assert run_cli("copilots", "edit", "rates", "--trust-card-origins").returncode == 0
        asked = run_cli("ask", "--copilot", "rates", "Hi")
        assert asked.returncode == 0, asked.stderr
        assert "Rates agent here" in asked.stdout and other.requests[-1].headers["Authorization"] == f"Bearer {KEY}"
    finally:
        other.close()
