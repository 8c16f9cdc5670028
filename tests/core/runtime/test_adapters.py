"""LoRA adapters on one base model: real adapters written by the test, applied per request in one real host."""

import os
import signal
from pathlib import Path

import pytest

from app.core.crew.copilots import Copilot
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Done, Error, Sampling
from app.core.runtime.host import HostCrashed, HostSpec, ModelHost
from tests.conftest import LONG_PROMPT
from tests.lora import write_lora

THREAD = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Name a colour."}]


def request(adapters: list, messages: list | None = None, max_tokens: int = 12) -> dict:
    return {
        "messages": messages or THREAD,
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "seed": None},
        "json_schema": None,
        "adapters": adapters,
    }


def answer(host: ModelHost, adapters: list, messages: list | None = None) -> str:
    events = list(host.chat(request(adapters, messages), CancelToken()))
    assert events[-1]["type"] == "done", events[-1]
    return "".join(e["delta"] for e in events if e["type"] == "text")


@pytest.fixture
def adapters(tmp_path: Path) -> tuple[str, str]:
    return str(write_lora(tmp_path / "finance.gguf", seed=1)), str(write_lora(tmp_path / "legal.gguf", seed=2))


def new_host(starter_model: Path, prompt_cache_mb: int = 0) -> ModelHost:
    return ModelHost(HostSpec(str(starter_model), 512, 2, 0, prompt_cache_mb=prompt_cache_mb))


def test_an_adapter_changes_greedy_output_and_the_base_comes_back_without_it(starter_model, adapters) -> None:
    host = new_host(starter_model)
    try:
        base = answer(host, [])
        tuned = answer(host, [[adapters[0], 1.0]])
        assert tuned != base
        assert answer(host, []) == base  # no adapter left applied for the next copilot
        assert host.adapters == {adapters[0]}
    finally:
        host.stop()


def test_two_specialists_alternate_on_one_host_each_answering_as_when_alone(starter_model, adapters) -> None:
    alone = {}
    for path in adapters:
        solo = new_host(starter_model)
        try:
            alone[path] = answer(solo, [[path, 1.0]])
        finally:
            solo.stop()
    assert alone[adapters[0]] != alone[adapters[1]]
    # the same thread for both: a state saved under one adapter must never be reused under the other
    host = new_host(starter_model, prompt_cache_mb=64)
    try:
        seen, pids = [], set()
        for path in [*adapters, *adapters]:
            seen.append((path, answer(host, [[path, 1.0]])))
            pids.add(host.pid)
        assert seen == [(path, alone[path]) for path in [*adapters, *adapters]]
        assert len(pids) == 1
    finally:
        host.stop()


def test_an_adapter_llama_cpp_refuses_is_a_model_file_error_and_the_host_carries_on(
    starter_model, adapters, tmp_path
) -> None:
    wrong = write_lora(tmp_path / "other-shape.gguf", seed=3)
    wrong.write_bytes(wrong.read_bytes().replace(b"attn_q.weight.lora_a", b"attn_k.weight.lora_a"))  # 576 != 192
    host = new_host(starter_model)
    try:
        events = list(host.chat(request([[str(wrong), 1.0]]), CancelToken()))
        assert events[-1]["type"] == "error" and events[-1]["kind"] == "model_file"
        assert "could not load the LoRA adapter" in events[-1]["message"]
        assert "other-shape.gguf" in events[-1]["message"]
        pid = host.pid
        assert answer(host, [[adapters[0], 1.0]]) and host.pid == pid
    finally:
        host.stop()


def test_a_crash_with_adapters_loaded_recovers_and_answers_the_same(starter_model, adapters) -> None:
    host = new_host(starter_model)
    try:
        before = answer(host, [[adapters[0], 1.0]])
        texts = 0
        with pytest.raises(HostCrashed, match="SIGKILL"):
            long = [{"role": "user", "content": LONG_PROMPT}]
            for event in host.chat(request([[adapters[1], 1.0]], long, max_tokens=400), CancelToken()):
                texts += event["type"] == "text"
                if texts == 3:
                    os.kill(host.pid, signal.SIGKILL)
        assert not host.alive
        assert answer(host, [[adapters[0], 1.0]]) == before  # the new process loads the adapter again
        assert host.adapters == {adapters[0]}
    finally:
        host.stop()


def copilot(copilot_id: str, lora: Path | str | None) -> Copilot:
    return Copilot(id=copilot_id, name=copilot_id, lora=str(lora) if lora else None)


def ask_once(provider) -> list:
    chat = ChatRequest(messages=[ChatMessage("user", "Hi")], sampling=Sampling(temperature=0.0, max_tokens=4))
    return list(provider.stream(chat, CancelToken()))


def test_copilots_with_different_adapters_share_the_base_models_host(ctx, adapters) -> None:
    finance, legal, plain = (
        ctx.provider_for(copilot(i, a)) for i, a in [("a", adapters[0]), ("b", adapters[1]), ("c", None)]
    )
    assert finance.host is legal.host is plain.host
    assert finance.adapters == ((adapters[0], 1.0),) and plain.adapters == ()
    assert isinstance(ask_once(finance)[-1], Done)
    pid = finance.host.pid
    assert isinstance(ask_once(legal)[-1], Done) and legal.host.pid == pid
    assert len([h for h in ctx.pool.hosts.values() if h.alive]) == 1


def test_a_missing_or_truncated_adapter_is_a_model_file_error(ctx, adapters, tmp_path) -> None:
    gone = tmp_path / "gone.gguf"
    events = ask_once(ctx.provider_for(copilot("a", gone)))
    assert events == [Error(f"Adapter file {gone} is missing: download it again or choose another one.", "model_file")]
    cut = Path(adapters[1])
    cut.write_bytes(cut.read_bytes()[:-1000])
    (event,) = ask_once(ctx.provider_for(copilot("b", cut)))
    assert isinstance(event, Error) and event.kind == "model_file"
    assert f"Adapter file {cut} is truncated" in event.message
    assert not any(h.alive for h in ctx.pool.hosts.values())  # refused before any host started


def test_an_adapter_for_another_architecture_is_refused_naming_both(ctx, tmp_path, starter_model) -> None:
    qwen = write_lora(tmp_path / "qwen-helper.gguf", seed=1, architecture="qwen2")
    (event,) = ask_once(ctx.provider_for(copilot("a", qwen)))
    assert isinstance(event, Error) and event.kind == "adapter"
    assert "qwen-helper.gguf" in event.message and starter_model.name in event.message
    assert "'qwen2'" in event.message and "'llama'" in event.message


def test_a_model_named_as_an_adapter_is_refused(ctx, starter_model) -> None:
    (event,) = ask_once(ctx.provider_for(copilot("a", starter_model)))
    assert isinstance(event, Error) and event.kind == "model_file" and "not a LoRA adapter" in event.message
