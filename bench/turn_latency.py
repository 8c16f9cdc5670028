"""Time to first token as a thread grows, with two copilots alternating on one model.

Two copilots with different system prompts take turns answering in one thread for 20 turns. Without a
per-copilot cache, each turn re-evaluates the whole history (the other copilot's prompt differs from the
first token on); with it, each copilot's saved llama.cpp state is restored and only the new turns are read.

    python bench/turn_latency.py [--turns 20]
Target: TTFT(turn 20) / TTFT(turn 1) <= 1.5 with caching.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTION = "Give one more short fact about bonds, different from the ones above."


def run(turns: int, cache_mb: int) -> list[float]:
    """TTFT of each turn (seconds, as measured in the model host), in a fresh data folder."""
    os.environ["ROUNDTABLE_HOME"] = tempfile.mkdtemp(prefix="rt-bench-turns-")
    from app.core.context import AppContext
    from app.core.crew.copilots import Copilot, SamplingConfig
    from app.core.crew.engine import CrewRun
    from app.core.crew.events import MessageEvent
    from app.core.paths import Paths
    from app.core.settings import Settings, save_settings

    save_settings(Settings(prompt_cache_mb=cache_mb, context_size=8192), Paths.from_environment().settings_file)
    ttfts = []
    with AppContext() as ctx:
        sampling = SamplingConfig(temperature=0.0, max_tokens=48)
        pair = [
            Copilot(
                id="alpha",
                name="Alpha",
                sampling=sampling,
                system_prompt="You are Alpha, a careful financial analyst. Answer in one or two sentences.",
            ),
            Copilot(
                id="beta",
                name="Beta",
                sampling=sampling,
                system_prompt="You are Beta, a cheerful writer who explains finance simply. Be brief.",
            ),
        ]
        for copilot in pair:
            ctx.store.save_copilot(copilot.id, copilot.name, copilot.model_dump())
        thread = ctx.store.create_thread("turn latency")
        crew = CrewRun(ctx, thread.id, pair, max_hops=0)
        for turn in range(turns):
            for event in crew.handle(QUESTION, responders=[pair[turn % 2]]):
                if isinstance(event, MessageEvent) and event.status != "streaming":
                    ttfts.append(event.usage["ttft_s"])
    return ttfts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    cached = run(args.turns, cache_mb=1024)
    uncached = run(args.turns, cache_mb=0)
    print(f"{args.turns} turns, two copilots alternating on SmolLM2-135M, greedy, 48-token replies")
    for label, ttfts in (("with per-copilot cache", cached), ("without cache", uncached)):
        ratio = ttfts[-1] / ttfts[0]
        print(
            f"{label:24s} TTFT turn 1: {ttfts[0] * 1000:6.1f} ms   turn {args.turns}: {ttfts[-1] * 1000:6.1f} ms"
            f"   ratio {ratio:5.2f}"
        )
    print(f"target: ratio <= 1.5 with caching -> {cached[-1] / cached[0]:.2f}")
    print(
        f"turn {args.turns} / turn 2 (the second copilot's first turn): cached {cached[-1] / cached[1]:.2f}, "
        f"uncached {uncached[-1] / uncached[1]:.2f}"
    )
    print(
        "(turn 1 reads only a system prompt and a question; every later turn must also read the other "
        "copilot's last question and reply, about twice the tokens)"
    )
    print("per turn, ms (cached):  ", " ".join(f"{t * 1000:.0f}" for t in cached))
    print("per turn, ms (uncached):", " ".join(f"{t * 1000:.0f}" for t in uncached))


if __name__ == "__main__":
    main()
