"""Control vectors on one base model: real control-vector GGUFs written by the test, applied per request in one
real host, beside plain and LoRA copilots."""

from pathlib import Path

import pytest

from app.core.crew.copilots import Copilot
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Done, Error, Sampling
from app.core.runtime.host import HostSpec, ModelHost
from tests.lora import write_control_vector, write_lora

THREAD = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Name a colour."}]


def request(vectors: list, adapters: list | None = None, messages: list | None = None) -> dict:
    return {
        "messages": messages or THREAD,
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 12, "seed": None},
        "json_schema": None,
        "adapters": adapters or [],
        "control_vectors": vectors,
    }


def answer(host: ModelHost, vectors: list, adapters: list | None = None, messages: list | None = None) -> str:
    events = list(host.chat(request(vectors, adapters, messages), CancelToken()))
    assert events[-1]["type"] == "done", events[-1]
    return "".join(e["delta"] for e in events if e["type"] == "text")


def new_host(starter_model: Path, prompt_cache_mb: int = 0) -> ModelHost:
    return ModelHost(HostSpec(str(starter_model), 512, 2, 0, prompt_cache_mb=prompt_cache_mb))


@pytest.fixture
def calm(tmp_path: Path) -> str:
    return str(write_control_vector(tmp_path / "calm.gguf", seed=1))


def test_a_control_vector_steers_greedy_output_and_strength_zero_or_none_is_the_base(starter_model, calm) -> None:
    host = new_host(starter_model)
    try:
        base = answer(host, [])
        steered = answer(host, [[calm, 1.0]])
        assert steered != base
        assert answer(host, [[calm, -1.0]]) not in (base, steered)  # the other way
        assert answer(host, [[calm, 0.0]]) == base
        assert answer(host, []) == base  # cleared: nothing left applied for the next copilot
        assert answer(host, [[calm, 1.0]]) == steered
        assert host.adapters == {calm}
    finally:
        host.stop()


def test_two_half_strength_vectors_steer_as_the_whole_one(starter_model, tmp_path, calm) -> None:
    # the host sums strength x direction per layer: the same file twice at 0.5 is the file at 1.0
    host = new_host(starter_model)
    try:
        assert answer(host, [[calm, 0.5], [calm, 0.5]]) == answer(host, [[calm, 1.0]])
    finally:
        host.stop()


def test_steered_plain_and_lora_copilots_alternate_on_one_host_each_answering_as_when_alone(
    starter_model, tmp_path, calm
) -> None:
    lora = str(write_lora(tmp_path / "finance.gguf", seed=1))
    copilots = {"steered": ([[calm, 1.0]], []), "plain": ([], []), "both": ([[calm, 0.7]], [[lora, 1.0]])}
    alone = {}
    for name, (vectors, adapters) in copilots.items():
        solo = new_host(starter_model)
        try:
            alone[name] = answer(solo, vectors, adapters)
        finally:
            solo.stop()
    assert len(set(alone.values())) == 3
    # one thread for all: a state saved under one steering must never be reused under another
    host = new_host(starter_model, prompt_cache_mb=64)
    try:
        seen, pids = [], set()
        for name in [*copilots, *copilots, "steered", "plain"]:
            vectors, adapters = copilots[name]
            seen.append((name, answer(host, vectors, adapters)))
            pids.add(host.pid)
        assert seen == [(name, alone[name]) for name, _ in seen]
        assert len(pids) == 1
    finally:
        host.stop()


def test_a_vector_of_the_wrong_width_sent_to_the_host_is_a_model_file_error_and_the_host_carries_on(
    starter_model, tmp_path, calm
) -> None:
    wide = str(write_control_vector(tmp_path / "wide.gguf", seed=2, n_embd=768))
    host = new_host(starter_model)
    try:
        base = answer(host, [])
        events = list(host.chat(request([[wide, 1.0]]), CancelToken()))
        assert events[-1]["type"] == "error" and events[-1]["kind"] == "model_file"
        assert "wide.gguf" in events[-1]["message"] and "768" in events[-1]["message"]
        pid = host.pid
        assert answer(host, []) == base and host.pid == pid
        assert answer(host, [[calm, 1.0]]) != base
    finally:
        host.stop()


def copilot(copilot_id: str, vector: Path | str | None, strength: float = 1.0) -> Copilot:
    return Copilot(
        id=copilot_id, name=copilot_id, control_vector=str(vector) if vector else None, control_vector_strength=strength
    )


def reply(provider) -> list:
    question = [ChatMessage("user", "Name a colour.")]
    chat = ChatRequest(messages=question, sampling=Sampling(temperature=0.0, max_tokens=8))
    return list(provider.stream(chat, CancelToken()))


def text(events: list) -> str:
    assert isinstance(events[-1], Done), events[-1]
    return "".join(getattr(e, "delta", "") for e in events)


def test_copilots_with_and_without_a_vector_share_the_host_and_strength_zero_is_the_base(ctx, calm) -> None:
    steered, plain, off = (ctx.provider_for(c) for c in (copilot("a", calm), copilot("b", None), copilot("c", calm, 0)))
    assert steered.host is plain.host is off.host
    assert steered.control_vectors == ((calm, 1.0),) and plain.control_vectors == ()
    assert steered.describe()["control_vectors"] == [{"file": "calm.gguf", "strength": 1.0}]
    base = text(reply(plain))
    pid = plain.host.pid
    assert text(reply(steered)) != base
    assert text(reply(off)) == base and off.host.pid == pid


def test_a_vector_that_does_not_fit_the_model_is_refused_naming_both_files(ctx, tmp_path, starter_model) -> None:
    for vector, problem in (
        (write_control_vector(tmp_path / "wide.gguf", seed=1, n_embd=768), "768 wide, but"),
        (write_control_vector(tmp_path / "deep.gguf", seed=1, layers=range(1, 40)), "steers layer 39"),
        (write_control_vector(tmp_path / "qwen.gguf", seed=1, model_hint="qwen2"), "made for a 'qwen2' model"),
    ):
        (event,) = reply(ctx.provider_for(copilot("a", vector)))
        assert isinstance(event, Error) and event.kind == "adapter", event
        assert f"The control vector {vector.name} does not fit {starter_model.name}" in event.message
        assert problem in event.message
    assert not any(h.alive for h in ctx.pool.hosts.values())  # refused before any host started


def test_a_truncated_vector_or_a_lora_named_as_one_is_a_model_file_error(ctx, tmp_path) -> None:
    cut = write_control_vector(tmp_path / "cut.gguf", seed=1)
    cut.write_bytes(cut.read_bytes()[:-1000])
    (event,) = reply(ctx.provider_for(copilot("a", cut)))
    assert isinstance(event, Error) and event.kind == "model_file" and "truncated" in event.message
    lora = write_lora(tmp_path / "finance.gguf", seed=1)
    (event,) = reply(ctx.provider_for(copilot("b", lora)))
    assert isinstance(event, Error) and event.kind == "model_file"
    assert "finance.gguf is a LORA adapter, not a control vector" in event.message
