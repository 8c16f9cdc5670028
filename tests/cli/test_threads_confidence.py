"""`roundtable threads show ID --confidence`: low-probability tokens marked (underlined on a terminal, between
[[ ]] in a pipe) and listed with their alternatives; replies without token confidence say so."""

import json
import math

from app.cli.confidence import CLOSE, OPEN
from app.core.confidence import LOW, pack
from tests.cli.test_terminal_output import HOSTILE, UNSAFE_BYTES, run_on_pty
from tests.conftest import run_cli
from tests.loopback import Response, sse


def low_runs(tokens: list[dict]) -> int:
    """How many runs of consecutive tokens under LOW a reply's text holds (tokens that spell nothing skipped)."""
    runs, low = 0, False
    for token in tokens:
        if not token["text"]:
            continue
        runs += token["p"] < LOW and not low
        low = token["p"] < LOW
    return runs


def test_a_real_local_reply_is_marked_and_its_low_tokens_listed(home) -> None:
    asked = run_cli("ask", "--json", "What is a bond? One sentence.")
    assert asked.returncode == 0, asked.stderr
    done = json.loads(asked.stdout.splitlines()[-1])
    thread, reply_id = done["thread_id"], done["message_id"]

    stored = json.loads(run_cli("threads", "show", thread, "--json", "--confidence").stdout)
    reply = next(m for m in stored["messages"] if m["id"] == reply_id)
    tokens = stored["confidence"][reply_id]["tokens"]
    assert len(tokens) == reply["data"]["trace"]["completion_tokens"]
    assert all(len(t["alternatives"]) == 5 and 0 < t["p"] <= 1 for t in tokens)
    assert "".join(t["text"] for t in tokens) == reply["text"]
    question = next(m for m in stored["messages"] if m["role"] == "user")
    assert question["id"] not in stored["confidence"]

    shown = run_cli("threads", "show", thread, "--confidence")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    figures = reply["data"]["trace"]["confidence"]
    assert (
        f"confidence: {figures['tokens']} tokens, mean p {figures['mean_p']:.2f}, min p {figures['min_p']:.2f}, "
        f"{figures['under_half']:.0%} under 0.5"
    ) in out
    low = [t for t in tokens if t["p"] < LOW]
    assert f"tokens under p 0.5: {len(low)}" in out
    for token in low:
        assert f"{json.dumps(token['text'], ensure_ascii=False)} {token['p']:.2f}  (alternatives: " in out
    assert out.count(OPEN) == out.count(CLOSE) == low_runs(tokens)
    assert reply["text"] in out.replace(OPEN, "").replace(CLOSE, "")
    assert out.count("confidence:") == 1  # the reply's; the question has none


def stored_thread_with_tokens() -> str:
    """A thread whose reply has crafted token confidence: a low span, and a hostile alternative."""
    from app.core.context import AppContext

    rows = [
        ("Bonds", math.log(0.9), [("Bonds", math.log(0.9))]),
        (" pay", math.log(0.3), [(" cost", math.log(0.6)), (" pay", math.log(0.3)), (HOSTILE, math.log(0.05))]),
        (" coupons", math.log(0.4), [(" coupons", math.log(0.4))]),
        (".", math.log(0.99), [(".", math.log(0.99))]),
    ]
    with AppContext() as ctx:
        thread = ctx.store.create_thread("bonds")
        ctx.store.add_message(thread.id, "user", "user", "What do bonds pay?")
        message_id = ctx.store.start_message(thread.id, "writer")
        ctx.store.append_text(message_id, "Bonds pay coupons.")
        trace = {"confidence": {"tokens": 4, "mean_p": 0.6475, "min_p": 0.3, "under_half": 0.5}}
        ctx.store.finish_message(message_id, "complete", {"trace": trace}, pack(rows))
        return thread.id


def test_a_pipe_gets_plain_markers_and_a_terminal_underlines_with_nothing_else_unsafe(home) -> None:
    thread = stored_thread_with_tokens()
    out = run_cli("threads", "show", thread, "--confidence").stdout
    assert "Bonds[[ pay coupons]]." in out
    assert "confidence: 4 tokens, mean p 0.65, min p 0.30, 50% under 0.5" in out
    assert 'tokens under p 0.5: 2:\n    " pay" 0.30  (alternatives: " cost" 0.60, " pay" 0.30, ' in out

    code, raw = run_on_pty("threads", "show", thread, "--confidence")
    assert code == 0, raw
    assert b"Bonds\x1b[4m pay coupons\x1b[24m." in raw
    assert UNSAFE_BYTES.search(raw.replace(b"\x1b[4m", b"").replace(b"\x1b[24m", b"")) is None, raw


def test_a_remote_reply_without_token_probabilities_says_so(home, server) -> None:
    stream = [
        sse(None, {"choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]}),
        sse(None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        sse(None, "[DONE]"),
    ]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=stream)
    assert run_cli("copilots", "add", "remote", "--openai", server.url, "--model", "m").returncode == 0
    asked = run_cli("ask", "--copilot", "remote", "--json", "Hi")
    assert asked.returncode == 0, asked.stderr
    assert server.requests[-1].body["logprobs"] is True
    thread = json.loads(asked.stdout.splitlines()[-1])["thread_id"]
    out = run_cli("threads", "show", thread, "--confidence").stdout
    assert f"Hello\n  confidence: no confidence data: {server.url}/v1 sent no token probabilities\n" in out
