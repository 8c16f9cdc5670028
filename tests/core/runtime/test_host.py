"""The model host: a real llama.cpp child process on the starter model."""

import os
import signal
import threading
from pathlib import Path

import pytest

from app.core.hardware import physical_cores
from app.core.providers.base import CancelToken
from app.core.runtime.host import HostCrashed, HostSpec, ModelHost
from tests.conftest import LONG_PROMPT, PATIENCE_S


def request(prompt: str, max_tokens: int = 64) -> dict:
    return {
        "messages": [{"role": "user", "content": prompt}],
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "seed": None},
        "json_schema": None,
    }


@pytest.fixture
def host(starter_model: Path):
    model_host = ModelHost(HostSpec(str(starter_model), 2048, physical_cores(), None))
    yield model_host
    model_host.stop()


def test_streams_text_then_usage_then_done(host: ModelHost) -> None:
    events = list(host.chat(request("Say hello."), CancelToken()))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "status" and kinds[-3:] == ["usage", "confidence", "done"]
    text = "".join(e["delta"] for e in events if e["type"] == "text")
    assert text.strip()
    usage = events[-3]
    assert usage["prompt_tokens"] > 5 and usage["completion_tokens"] > 1
    assert host.alive and host.n_ctx == 2048


def test_same_prompt_greedy_is_deterministic(host: ModelHost) -> None:
    first = [e for e in host.chat(request("Name a colour."), CancelToken()) if e["type"] == "text"]
    second = [e for e in host.chat(request("Name a colour."), CancelToken()) if e["type"] == "text"]
    assert first == second


def test_cancel_stops_within_one_token(host: ModelHost) -> None:
    cancel = CancelToken()
    after_cancel = 0
    events = []
    for event in host.chat(request(LONG_PROMPT, max_tokens=400), cancel):
        events.append(event)
        if event["type"] == "text":
            if cancel.cancelled:
                after_cancel += 1
            elif len(events) > 5:
                cancel.cancel()
    assert events[-1] == {"type": "done", "finish_reason": "cancelled"}
    assert after_cancel <= 2  # the token in flight, plus one the pipe already held
    assert next(e for e in events if e["type"] == "usage")["completion_tokens"] < 20


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_host_death_mid_answer_is_reported_and_the_next_request_restarts_it(host: ModelHost, sig) -> None:
    seen = []
    with pytest.raises(HostCrashed) as caught:
        for event in host.chat(request(LONG_PROMPT, max_tokens=400), CancelToken()):
            seen.append(event)
            if sum(e["type"] == "text" for e in seen) == 3:
                os.kill(host.pid, sig)
    assert signal.Signals(sig).name in str(caught.value)
    assert not host.alive
    events = list(host.chat(request("Say hello."), CancelToken()))
    assert events[-1]["type"] == "done" and host.alive


def test_abandoned_stream_does_not_leak_into_the_next_request(host: ModelHost) -> None:
    stream = host.chat(request(LONG_PROMPT, max_tokens=400), CancelToken())
    for event in stream:
        if event["type"] == "text":
            break
    stream.close()
    events = list(host.chat(request("Say hello."), CancelToken()))
    assert events[0]["type"] == "text" and events[-1]["type"] == "done"


def test_a_late_cancel_does_not_stop_the_next_request(host: ModelHost) -> None:
    old = CancelToken()
    list(host.chat(request("Hi."), old))
    result = []
    worker = threading.Thread(target=lambda: result.extend(host.chat(request("Count to five."), CancelToken())))
    worker.start()
    old.cancel()
    worker.join(PATIENCE_S)
    assert result[-1]["finish_reason"] != "cancelled"


def test_a_file_llama_cpp_cannot_load_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64)
    model_host = ModelHost(HostSpec(str(bad), 512, 1, 0))
    with pytest.raises(HostCrashed, match="could not load"):
        list(model_host.chat(request("Hi"), CancelToken()))
    model_host.stop()
