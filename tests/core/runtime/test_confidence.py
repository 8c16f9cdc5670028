"""Token confidence in a real model host on the starter model: one probability and five alternatives per generated
token, with and without prompt lookup's drafts, off on request, and stored with the reply through `ask`."""

import ctypes
import math
from pathlib import Path

import numpy as np
import pytest

from app.core.confidence import ALTERNATIVES, LOW, summary, unpack
from app.core.providers.base import CancelToken
from app.core.runtime.confidence import Capture
from app.core.runtime.host import HostSpec, ModelHost
from tests.conftest import LONG_PROMPT
from tests.core.runtime.test_prompt_lookup import quote


def request(prompt: str, max_tokens: int = 48, **extra) -> dict:
    return {
        "messages": [{"role": "user", "content": prompt}],
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "seed": None},
        "json_schema": None,
        **extra,
    }


@pytest.fixture(scope="module")
def host(starter_model: Path):
    model_host = ModelHost(HostSpec(str(starter_model), 2048, 2, 0))
    yield model_host
    model_host.stop()


def answer(host: ModelHost, wire: dict) -> tuple[str, dict, list]:
    """The reply's text, its usage, and its recorded tokens."""
    events = list(host.chat(wire, CancelToken()))
    assert events[-1]["type"] == "done", events[-1]
    kinds = [e["type"] for e in events]
    assert kinds[-3:] == ["usage", "confidence", "done"]
    text = "".join(e["delta"] for e in events if e["type"] == "text")
    return text, events[-3], unpack(events[-2]["packed"])


def check_greedy(text: str, usage: dict, tokens: list) -> None:
    # every generated token, the end-of-text one included, has its probability and its five alternatives
    assert len(tokens) == usage["completion_tokens"] > 5
    for token in tokens:
        assert 0 < token.p <= 1
        assert len(token.alternatives) == ALTERNATIVES
        ps = [choice.p for choice in token.alternatives]
        assert ps == sorted(ps, reverse=True) and all(0 < p <= 1 for p in ps)
        assert sum(ps) <= 1.01
        # greedy: the sampled token is the most likely one
        assert token.p == token.alternatives[0].p
        assert not token.text or token.text == token.alternatives[0].text
    assert "".join(token.text for token in tokens) == text


def test_each_generated_token_has_its_probability_and_five_alternatives(host: ModelHost) -> None:
    check_greedy(*answer(host, request("Name three colours and say why you like them.")))


def test_with_prompt_lookup_each_token_is_recorded_once_from_its_own_position(host: ModelHost) -> None:
    text, usage, tokens = answer(host, quote(8))
    assert "pays a coupon of" in text
    check_greedy(text, usage, tokens)
    plain_text, _, plain = answer(host, quote(0))
    assert plain_text == text
    # the same distribution at each position whether it was drafted or not: a batch's quantized kernels round a
    # little differently from one token's (a few hundredths at most), where a token read at the wrong position
    # would differ wholly
    assert [t.text for t in tokens] == [t.text for t in plain]
    assert [t.p for t in tokens] == pytest.approx([t.p for t in plain], abs=0.06)
    assert sum(abs(a.p - b.p) for a, b in zip(tokens, plain, strict=True)) / len(tokens) < 0.01


def test_capture_is_off_on_request(host: ModelHost) -> None:
    events = list(host.chat(request("Say hello.", confidence=False), CancelToken()))
    assert [e["type"] for e in events][-2:] == ["usage", "done"]


def test_a_stopped_reply_records_no_token_the_stop_forced(host: ModelHost) -> None:
    cancel = CancelToken()
    events = []
    for event in host.chat(request(LONG_PROMPT, max_tokens=400), cancel):
        events.append(event)
        if event["type"] == "text" and len(events) > 5:
            cancel.cancel()
    assert events[-1] == {"type": "done", "finish_reason": "cancelled"}
    usage = next(e for e in events if e["type"] == "usage")
    tokens = unpack(next(e for e in events if e["type"] == "confidence")["packed"])
    assert 0 < len(tokens) <= usage["completion_tokens"]  # an end-of-text a Stop forced is not recorded (below)
    text = "".join(e["delta"] for e in events if e["type"] == "text")
    assert text.startswith("".join(t.text for t in tokens))


def test_a_local_reply_stores_its_tokens_and_its_trace_summary(ctx) -> None:
    from app.core.crew.copilots import SamplingConfig
    from app.core.crew.events import RunDone
    from app.core.crew.runs import ask

    generalist = ctx.copilot()
    greedy = generalist.model_copy(update={"sampling": SamplingConfig(temperature=0.0, max_tokens=40)})
    ctx.store.save_copilot(greedy.id, greedy.name, greedy.model_dump())
    finished = list(ask(ctx, "What is a bond? One sentence."))[-1]
    assert isinstance(finished, RunDone) and finished.status == "complete"
    message = ctx.store.get_message(finished.message_id)
    tokens = unpack(ctx.store.confidence(message.id))
    assert len(tokens) == message.data["trace"]["completion_tokens"]
    assert message.data["trace"]["confidence"] == summary(tokens)
    figures = message.data["trace"]["confidence"]
    assert 0 < figures["min_p"] <= figures["mean_p"] <= 1
    assert figures["under_half"] == round(sum(t.p < LOW for t in tokens) / len(tokens), 4)
    assert "".join(t.text for t in tokens) == message.text
    # the blob goes with its reply
    ctx.store.delete_thread(message.thread_id)
    assert ctx.store.confidence(message.id) is None


class FakeLlama:
    """Just what Capture reads of a Llama: the vocabulary size, logits by output index, token texts."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = [np.array(row, dtype=np.float32) for row in rows]
        self._ctx = self
        self.at = 0

    def n_vocab(self) -> int:
        return len(self.rows[0])

    def get_logits_ith(self, index: int):
        return self.rows[self.at].ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def detokenize(self, tokens: list[int], special: bool = False) -> bytes:
        return f"<{tokens[0]}>".encode() if special else f"t{tokens[0]}".encode()


def test_capture_is_a_softmax_of_the_raw_logits_and_skips_what_a_stop_forced() -> None:
    rows = [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0], [5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 7]
    llm = FakeLlama(rows)
    stopped = [False]
    capture = Capture(llm)
    capture.start(True, max_tokens=8, cancelled=lambda: stopped[0])
    for at, token in enumerate([5, 1]):
        llm.at = at
        capture.record(token, -1)
    stopped[0] = True
    llm.at = 2
    capture.record(0, -1)  # forced by Stop: not the model's choice
    first, second = unpack(capture.packed())
    logits = np.array(rows[0], dtype=np.float64)
    softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert first.text == "t5" and first.p == pytest.approx(softmax[5], rel=2e-3)
    assert [c.text for c in first.alternatives] == ["<5>", "<4>", "<3>", "<2>", "<1>"]
    assert [c.p for c in first.alternatives] == pytest.approx(sorted(softmax, reverse=True)[:5], rel=2e-3)
    assert second.p == pytest.approx(math.exp(5) / (2 * math.exp(5) + 5), rel=2e-3)
