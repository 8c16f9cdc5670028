"""Token confidence from OpenAI-compatible servers (loopback): asked for, read from the stream, stored with the
reply; a server without it is marked "no confidence data"; a hostile one loses its data, never the reply."""

import base64
import json
import math

import pytest

from app.core.confidence import MAX_TOKENS, NO_DATA, unpack
from app.core.providers import openai_compat
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Confidence, Error, TextDelta
from app.core.providers.logprobs import MAX_TOP_LOGPROBS
from app.core.providers.openai_compat import OpenAICompatProvider
from tests.core.providers.test_openai_compat import llama_server  # noqa: F401 (a fixture: llama-cpp-python's server)
from tests.loopback import Response, sse

ROUTE = ("POST", "/v1/chat/completions")


@pytest.fixture(autouse=True)
def fresh_refusals(monkeypatch) -> None:
    """Each test's server is new: none has refused token probabilities yet (the set lives for the process)."""
    monkeypatch.setattr(openai_compat, "_NO_LOGPROBS", set())


def entry(token: str, logprob: float, top: list[tuple[str, float]] | None = None, raw: list[int] | None = None) -> dict:
    alternatives = top if top is not None else [(token, logprob)]
    return {
        "token": token,
        "logprob": logprob,
        "bytes": raw if raw is not None else list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives],
    }


def chunk(content: str | None, logprobs: list | None = None, finish: str | None = None, raw: str | None = None) -> str:
    choice = {"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs, "refusal": None}
    body = json.dumps({"object": "chat.completion.chunk", "choices": [choice]})
    return sse(None, raw if raw is not None else body)


def done() -> list[str]:
    return [chunk(None, finish="stop"), sse(None, "[DONE]")]


def run(url: str, key: str | None = None) -> list:
    provider = OpenAICompatProvider(url, "m", key)
    return list(provider.stream(ChatRequest([ChatMessage("user", "Hi")]), CancelToken()))


def confidence_of(events: list) -> Confidence:
    (found,) = [e for e in events if isinstance(e, Confidence)]
    return found


def text_of(events: list) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


def test_token_probabilities_are_asked_for_and_read_from_the_stream(server) -> None:
    euro = list("€".encode())
    stream = [
        chunk("Bonds", [entry("Bonds", -0.1, [("Bonds", -0.1), ("A", -2.5), ("The", -3.0)])]),
        chunk(" cost", [entry(" cost", -1.2, [(" pay", -0.9), (" cost", -1.2)])]),
        # a character split over two tokens: their `token` strings are escapes, their bytes are the truth
        chunk(" €", [entry(" \\xe2", -0.2, raw=[32, *euro[:2]]), entry("\\xac", -0.05, raw=euro[2:])]),
        *done(),
    ]
    server.routes[ROUTE] = lambda _r: Response(chunks=stream)
    events = run(server.url)
    assert text_of(events) == "Bonds cost €" and not [e for e in events if isinstance(e, Error)]
    sent = server.requests[-1].body
    assert sent["logprobs"] is True and sent["top_logprobs"] == 5

    confidence = confidence_of(events)
    assert confidence.missing is None
    tokens = unpack(base64.b64decode(confidence.packed))
    assert [t.text for t in tokens] == ["Bonds", " cost", " ", "€"]
    assert [t.p for t in tokens] == pytest.approx([math.exp(lp) for lp in (-0.1, -1.2, -0.2, -0.05)], rel=2e-3)
    assert [c.text for c in tokens[1].alternatives] == [" pay", " cost"]  # most likely first
    assert tokens[1].low and not tokens[0].low


def test_a_server_that_sends_none_is_marked_no_confidence_data(server) -> None:
    server.routes[ROUTE] = lambda _r: Response(chunks=[chunk("Hello"), *done()])
    events = run(server.url)
    assert text_of(events) == "Hello"
    assert confidence_of(events) == Confidence(missing=f"{NO_DATA}: {server.url}/v1 sent no token probabilities")


@pytest.mark.parametrize("refusal", ["status", "empty stream"])
def test_a_server_that_refuses_them_is_asked_again_without_and_not_asked_again(server, refusal) -> None:
    def answer(request):
        if request.body.get("logprobs"):
            if refusal == "status":
                return Response(400, {"error": {"message": "logprobs are not supported with this model"}})
            return Response(chunks=[])  # llama-cpp-python's server without logits_all: headers, then nothing
        return Response(chunks=[chunk("Hello"), *done()])

    server.routes[ROUTE] = answer
    events = run(server.url)
    assert text_of(events) == "Hello" and not [e for e in events if isinstance(e, Error)]
    assert "does not give token probabilities" in confidence_of(events).missing
    assert [r.body.get("logprobs") for r in server.requests] == [True, None]
    server.requests.clear()
    assert text_of(run(server.url)) == "Hello"
    assert [r.body.get("logprobs") for r in server.requests] == [None]


def test_a_failing_server_is_asked_twice_at_most_and_its_error_stands(server) -> None:
    server.routes[ROUTE] = lambda _r: Response(500, {"error": {"message": "out of memory"}})
    (error,) = [e for e in run(server.url) if isinstance(e, Error)]
    assert "internal error" in error.message and len(server.requests) == 2


HOSTILE = {
    "not a number": (
        chunk(
            "Hi",
            raw='{"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": {"content": '
            '[{"token": "Hi", "logprob": NaN, "top_logprobs": []}]}}]}',
        ),
        "not a number (nan)",
    ),
    "infinite": (chunk("Hi", [entry("Hi", -math.inf)]), "not a number (-inf)"),
    "a probability above 1": (chunk("Hi", [entry("Hi", 3.0)]), "above 0"),
    "text for a number": (chunk("Hi", [{"token": "Hi", "logprob": "-0.1", "top_logprobs": []}]), "not a number"),
    "too many alternatives": (
        chunk("Hi", [entry("Hi", -0.1, [("x", -1.0)] * (MAX_TOP_LOGPROBS + 1))]),
        f"at most {MAX_TOP_LOGPROBS}",
    ),
    "a huge token": (chunk("Hi", [entry("H" * 5000, -0.1)]), "at most 256 characters"),
    "not a list": (
        chunk("Hi", raw='{"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": {"content": "Hi"}}]}'),
        "not a list",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_token_probabilities_are_dropped_with_the_reason_and_the_reply_stands(server, case) -> None:
    bad, reason = HOSTILE[case]
    server.routes[ROUTE] = lambda _r: Response(chunks=[chunk("Well ", [entry("Well ", -0.1)]), bad, *done()])
    events = run(server.url)
    assert text_of(events) == "Well Hi" and not [e for e in events if isinstance(e, Error)]
    confidence = confidence_of(events)
    assert confidence.packed == ""
    assert confidence.missing.startswith(f"{NO_DATA}: {server.url}/v1 sent unusable token probabilities (")
    assert reason in confidence.missing


def test_more_tokens_than_a_reply_can_hold_are_refused(server) -> None:
    many = [entry("a", -0.1, [])] * 4096
    chunks = [chunk("a", many) for _ in range(MAX_TOKENS // 4096 + 1)]
    server.routes[ROUTE] = lambda _r: Response(chunks=[*chunks, *done()])
    confidence = confidence_of(run(server.url))
    assert confidence.packed == "" and f"more than {MAX_TOKENS:,} tokens" in confidence.missing


def test_token_probabilities_that_quote_the_key_are_dropped(server, monkeypatch) -> None:
    monkeypatch.setenv("QUANT_KEY", "sk-live-SECRET")
    # the text is masked as it streams; the tokens spell the key too, split, and are never kept
    stream = [chunk("sk-live-", [entry("sk-live-", -0.1)]), chunk("SECRET", [entry("SECRET", -0.1)]), *done()]
    server.routes[ROUTE] = lambda _r: Response(chunks=stream)
    events = run(server.url, "env:QUANT_KEY")
    assert "SECRET" not in text_of(events)
    confidence = confidence_of(events)
    assert confidence.packed == "" and "quoted the key" in confidence.missing


def test_a_remote_reply_stores_its_tokens_and_its_trace_summary(ctx, server) -> None:
    from app.core.crew.events import RunDone
    from app.core.crew.runs import ask

    stream = [
        chunk("Bonds", [entry("Bonds", math.log(0.9))]),
        chunk(" pay", [entry(" pay", math.log(0.4), [(" cost", math.log(0.5)), (" pay", math.log(0.4))])]),
        *done(),
    ]
    server.routes[ROUTE] = lambda _r: Response(chunks=stream)
    remote = ctx.copilot().model_copy(
        update={"id": "remote", "name": "Remote", "provider": "openai", "endpoint": server.url, "model": "m"}
    )
    ctx.store.save_copilot(remote.id, remote.name, remote.model_dump())
    events = list(ask(ctx, "What do bonds do?", copilot_id="remote"))
    finished = events[-1]
    assert isinstance(finished, RunDone) and finished.status == "complete"
    tokens = unpack(ctx.store.confidence(finished.message_id))
    assert [t.text for t in tokens] == ["Bonds", " pay"]
    trace = ctx.store.get_message(finished.message_id).data["trace"]
    assert trace["confidence"] == {
        "tokens": 2,
        "mean_p": pytest.approx(0.65, abs=1e-3),
        "min_p": pytest.approx(0.4, abs=1e-3),
        "under_half": 0.5,
    }


def test_a_real_llama_cpp_server_gives_our_hosts_probabilities(llama_server, starter_model) -> None:  # noqa: F811
    """llama-cpp-python's own server computes its logprobs from the logits itself: the same numbers, token for
    token, as the model host's capture on the same model, prompt and sampling (greedy, its repeat penalty)."""
    from app.core.providers.base import Sampling
    from app.core.runtime.host import HostSpec, ModelHost

    question = "What is a bond? One sentence."
    request = ChatRequest([ChatMessage("user", question)], Sampling(temperature=0.0, max_tokens=24))
    events = list(OpenAICompatProvider(llama_server, "smollm").stream(request, CancelToken()))
    remote = unpack(base64.b64decode(confidence_of(events).packed))
    assert "".join(t.text for t in remote) == text_of(events) and len(remote) == 24
    assert all(len(t.alternatives) == 5 for t in remote)
    assert sum(t.p < t.alternatives[0].p for t in remote) >= 1  # its repeat penalty chose some runners-up

    host = ModelHost(HostSpec(str(starter_model), 2048, 2, 0))
    try:
        wire = {
            "messages": [{"role": "user", "content": question}],
            # the server's own default repeat penalty: the same choices, from the same (unpenalised) probabilities
            "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 24, "seed": None, "repeat_penalty": 1.1},
            "json_schema": None,
        }
        local = unpack(next(e for e in host.chat(wire, CancelToken()) if e["type"] == "confidence")["packed"])
    finally:
        host.stop()
    assert [t.text for t in local] == [t.text for t in remote]
    assert [t.p for t in local] == pytest.approx([t.p for t in remote], abs=0.01)
    assert [[c.text for c in t.alternatives] for t in local[:3]] == [
        [c.text for c in t.alternatives] for t in remote[:3]
    ]
