"""Which sampling keeps the starter model's replies from repeating themselves: a sweep over penalty settings.

Each prompt of bench/data/crew_eval.json goes straight to its first acceptable copilot (no plan, no handoffs),
once per setting, with the same seed, the loop guard off, so only sampling differs. Printed per setting: the
median and max share of repeated 4-word sequences in the replies, how many replies repeat more than 0.30 of them,
and the mean reply length in words (a penalty that only shortens replies is no cure).

    python bench/sampling_sweep.py [--limit 24] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETTINGS = {
    "plain (llama.cpp's defaults)": {},
    "repeat 1.1": {"repeat_penalty": 1.1},
    "repeat 1.2": {"repeat_penalty": 1.2},
    "presence 0.5": {"presence_penalty": 0.5},
    "frequency 0.5": {"frequency_penalty": 0.5},
    "repeat 1.1 + frequency 0.3": {"repeat_penalty": 1.1, "frequency_penalty": 0.3},
    "min_p 0.1 + repeat 1.1": {"min_p": 0.1, "repeat_penalty": 1.1},
}
PENALTIES = ("repeat_penalty", "presence_penalty", "frequency_penalty", "min_p")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=24, help="prompts from the eval set (default 24)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ["ROUNDTABLE_HOME"] = tempfile.mkdtemp(prefix="rt-bench-sampling-")
    from app.core.context import AppContext
    from app.core.crew.loops import repeated_share, words
    from app.core.crew.reply import ANTI_REPEAT
    from app.core.crew.runs import ask

    cases = json.loads((Path(__file__).parent / "data" / "crew_eval.json").read_text())["cases"][: args.limit]
    rows = []
    started = time.perf_counter()
    with AppContext() as ctx:
        ctx.settings.stop_loops = False
        ctx.settings.anti_repeat = False
        crew = {c.id: c for c in ctx.copilots()}
        for name, penalties in SETTINGS.items():
            for copilot in crew.values():
                sampling = copilot.sampling.model_copy(
                    update={**dict.fromkeys(PENALTIES), **penalties, "seed": args.seed}
                )
                ctx.store.save_copilot(
                    copilot.id, copilot.name, copilot.model_copy(update={"sampling": sampling}).model_dump()
                )
            shares, lengths = [], []
            for case in cases:
                text = case["prompt"].replace("@", "")  # one copilot answers: no mentions
                events = list(ask(ctx, text, copilot_id=case["first"][0]))
                thread_id = events[-1].thread_id
                reply = next(m.text for m in ctx.store.messages(thread_id) if m.role != "user")
                if len(words(reply)) >= 8:
                    shares.append(repeated_share(reply))
                lengths.append(len(words(reply)))
            rows.append((name, shares, lengths))
            print(
                f"{name:30s} 4-gram repeats: median {statistics.median(shares):.3f}  max {max(shares):.3f}  "
                f"over 0.30: {sum(s > 0.30 for s in shares):2d}/{len(shares)}  "
                f"mean length {statistics.mean(lengths):5.1f} words",
                flush=True,
            )
    print(
        f"{len(cases)} prompts, seed {args.seed}, {time.perf_counter() - started:.0f} s; "
        f"the app's default: {ANTI_REPEAT}"
    )


if __name__ == "__main__":
    main()
