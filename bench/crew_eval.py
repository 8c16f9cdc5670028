"""Crew quality on the starter crew and the starter model: who answers first, whether the copilots a request asks
for take part and in the order asked, how many turns nobody asked for, and how repetitive the replies are.

The eval set (bench/data/crew_eval.json, written by hand; see bench/data/README.md) has 52 requests: plain
questions, finance, writing and review; single-step and two- and three-step requests; copilots named with and
without `@`; four that ask a copilot to consult another (whose answer comes first). Each case lists the
copilots acceptable for the first reply (`first`) and the copilots that must take part, in the order they must
first appear (`required`). Every case runs through the app's own path: `run_task` on a
new thread in the default workspace of a fresh data folder (ROUNDTABLE_HOME, so the starter crew and the starter
model are seeded as on a first run), the whole crew taking part, the default hop limit, the copilots' own sampling.

Metrics (a turn is a completed reply; its author the copilot who wrote it):
  first-copilot accuracy    share of all cases whose first reply is by a copilot in `first`;
  required-copilot recall   over the multi-step cases only: mean of |required taking part| / |required|;
  order accuracy            over the multi-step cases only: share where every required copilot takes part and
                            their first turns come in the required order;
  unrequested extra turns   turns by a copilot that is neither required nor the first turn's author, plus each
                            further turn of a copilot that already had one; summed over cases (and per case);
  repeated 4-gram share     of a reply of 8 words or more (lowercase `[\\w']+`): (4-word sequences - distinct
                            ones) / 4-word sequences; median and max over all replies.
The router and the handoff decisions are greedy; the replies sample at the copilots' own temperatures with no seed,
so figures move a little from run to run.

Ablations: `--no-loop-stop` sets `stop_loops = false` and `--plain-sampling` sets `anti_repeat = false` in the
settings of the run, where this version's Settings has those fields (otherwise the flag says it has no effect);
`--configs all` runs the default, each one off, and both off, and prints a table.

    python bench/crew_eval.py [--cases SUBSTR,...] [--limit N] [--json OUT] [--no-loop-stop] [--plain-sampling]
                              [--configs all|NAME,...]
Targets on the starter model: mean of the three accuracies >= 0.9; repeated-4-gram share median <= 0.10, max <= 0.30.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).with_name("data") / "crew_eval.json"
ACCURACY_TARGET = 0.9
MEDIAN_TARGET, MAX_TARGET = 0.10, 0.30
MIN_WORDS = 8  # shorter replies have too few 4-grams to say anything
_WORD = re.compile(r"[\w']+")
# the ablations: the Settings field each one turns off
LOOP_STOP, ANTI_REPEAT = "stop_loops", "anti_repeat"
CONFIGS = {
    "default": {},
    "no-loop-stop": {LOOP_STOP: False},
    "plain-sampling": {ANTI_REPEAT: False},
    "both-off": {LOOP_STOP: False, ANTI_REPEAT: False},
}


def repeated_4gram_share(text: str) -> float | None:
    """(4-grams - distinct 4-grams) / 4-grams of the reply's lowercase words; None under MIN_WORDS words."""
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return None
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return (len(grams) - len(set(grams))) / len(grams)


def score(case: dict, turns: list[str]) -> dict[str, Any]:
    """The case's marks from its turns' authors, in order."""
    required: list[str] = case["required"]
    first_ok = bool(turns) and turns[0] in case["first"]
    present = [c for c in required if c in turns]
    recall = len(present) / len(required) if required else None
    places = [turns.index(c) for c in required if c in turns]
    order_ok = (len(present) == len(required) and places == sorted(places)) if required else None
    extra, seen = 0, set()
    for number, author in enumerate(turns):
        if author in seen or (number > 0 and author not in required):
            extra += 1
        seen.add(author)
    return {"first_ok": first_ok, "recall": recall, "order_ok": order_ok, "extra": extra}


def event_key(event: Any) -> str:
    """A run event's `type`, with what tells its kinds apart: a handoff's status (and kind of refusal), a message's
    status, a route's `by`, an error's kind."""
    key = event.type
    if key == "handoff":
        key += f".{event.status}" + (f"({event.refusal})" if event.refusal and event.refusal != "rejected" else "")
    elif key == "error":
        key += f".{getattr(event, 'kind', '')}"
    elif key in ("route", "message"):
        key += f".{event.by if key == 'route' else event.status}"
    return key


def run_case(ctx: Any, case: dict) -> dict[str, Any]:
    """Run one case; its turns, replies, events and marks."""
    from app.core.crew.events import CrewText, HandoffEvent, MessageEvent, RouteDecision
    from app.core.crew.runs import run_task

    turns: list[str] = []
    message_ids: list[str] = []
    statuses: list[str] = []
    deltas: dict[str, list[str]] = defaultdict(list)
    events: Counter[str] = Counter()
    handoffs: list[str] = []
    routes: list[str] = []
    error = None
    started = time.perf_counter()
    try:
        for event in run_task(ctx, case["prompt"]):
            if not isinstance(event, CrewText):
                events[event_key(event)] += 1
            if isinstance(event, CrewText):
                deltas[event.message_id].append(event.delta)
            elif isinstance(event, MessageEvent) and event.status != "streaming":
                turns.append(event.author)
                message_ids.append(event.message_id)
                statuses.append(event.status)
            elif isinstance(event, RouteDecision):
                routes.append(f"{event.copilot} ({event.by}: {event.reason})")
            elif isinstance(event, HandoffEvent):
                mark = "" if event.status == "accepted" else f" {event.status}: {event.reason}"
                handoffs.append(f"{event.from_}->{event.to}{mark}")
    except Exception as exc:  # one broken case is reported, the rest still run
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    seconds = time.perf_counter() - started
    replies = []
    for author, message_id, status in zip(turns, message_ids, statuses, strict=True):
        try:
            text = ctx.store.get_message(message_id).text
        except Exception:
            text = "".join(deltas.get(message_id, []))
        replies.append({"author": author, "status": status, "text": text, "share": repeated_4gram_share(text)})
    shares = [r["share"] for r in replies if r["share"] is not None]
    return {
        "id": case["id"],
        "kind": case["kind"],
        "prompt": case["prompt"],
        "first": case["first"],
        "required": case["required"],
        "turns": turns,
        "routes": routes,
        "handoffs": handoffs,
        "events": dict(events),
        "replies": replies,
        "max_share": max(shares) if shares else None,
        "seconds": seconds,
        "error": error,
        **score(case, turns),
    }


def _mark(flag: bool | None) -> str:
    return "  " if flag is None else ("ok" if flag else "--")


def print_case(result: dict) -> None:
    turns = ">".join(result["turns"]) or "(none)"
    recall = "    " if result["recall"] is None else f"{result['recall']:.2f}"
    share = "   -" if result["max_share"] is None else f"{result['max_share']:.2f}"
    wanted = ">".join(result["required"]) or "-"
    print(
        f"{result['id']:<24} {result['kind']:<6} {turns:<36} first {_mark(result['first_ok'])} "
        f"recall {recall} order {_mark(result['order_ok'])} extra {result['extra']}  4g {share}  "
        f"{result['seconds']:5.1f}s  (want {'/'.join(result['first'])}; {wanted})"
        + (f"  ERROR {result['error']}" if result["error"] else ""),
        flush=True,
    )


def summarize(results: list[dict]) -> dict[str, Any]:
    multi = [r for r in results if r["kind"] == "multi" and r["required"]]
    first = statistics.fmean(r["first_ok"] for r in results) if results else 0.0
    recall = statistics.fmean(r["recall"] for r in multi) if multi else float("nan")
    order = statistics.fmean(bool(r["order_ok"]) for r in multi) if multi else float("nan")
    accuracies = [first] + ([recall, order] if multi else [])
    shares = [(reply["share"], r["id"]) for r in results for reply in r["replies"] if reply["share"] is not None]
    top = max(shares) if shares else (float("nan"), "-")
    events: Counter[str] = Counter()
    for r in results:
        events.update(r["events"])
    return {
        "cases": len(results),
        "multi": len(multi),
        "first": first,
        "recall": recall,
        "order": order,
        "mean": statistics.fmean(accuracies),
        "extra": sum(r["extra"] for r in results),
        "extra_per_case": statistics.fmean(r["extra"] for r in results) if results else 0.0,
        "median_share": statistics.median(s for s, _ in shares) if shares else float("nan"),
        "max_share": top[0],
        "max_case": top[1],
        "replies": len(shares),
        "turns": sum(len(r["turns"]) for r in results),
        "first_authors": Counter(r["turns"][0] for r in results if r["turns"]),
        "authors": Counter(a for r in results for a in r["turns"]),
        "events": events,
        "errors": sum(r["error"] is not None for r in results),
        "seconds": sum(r["seconds"] for r in results),
    }


def print_summary(name: str, s: dict, note: str) -> None:
    print(f"\n== {name}{note}: {s['cases']} cases, {s['multi']} multi-step, {s['turns']} turns, {s['errors']} errors")
    print(f"first-copilot accuracy (all cases)     {s['first']:.3f}")
    print(f"required-copilot recall (multi-step)   {s['recall']:.3f}")
    print(f"order accuracy (multi-step)            {s['order']:.3f}")
    verdict = "PASS" if s["mean"] >= ACCURACY_TARGET else "FAIL"
    alone = "" if s["multi"] else " (first-copilot accuracy alone: no multi-step cases)"
    print(f"mean of the three accuracies           {s['mean']:.3f}   target >= {ACCURACY_TARGET}  {verdict}{alone}")
    print(f"unrequested extra turns                {s['extra']} ({s['extra_per_case']:.2f} per case)")
    ok = s["median_share"] <= MEDIAN_TARGET and s["max_share"] <= MAX_TARGET
    print(
        f"repeated 4-gram share ({s['replies']} replies)    median {s['median_share']:.3f}, max {s['max_share']:.3f} "
        f"({s['max_case']})   target median <= {MEDIAN_TARGET:.2f}, max <= {MAX_TARGET:.2f}  {'PASS' if ok else 'FAIL'}"
    )
    print("first turns by copilot:  " + ", ".join(f"{k} {v}" for k, v in s["first_authors"].most_common()))
    print("all turns by copilot:    " + ", ".join(f"{k} {v}" for k, v in s["authors"].most_common()))
    print("events:                  " + ", ".join(f"{k} {v}" for k, v in sorted(s["events"].items())))
    print(f"time: {s['seconds']:.0f} s in the cases ({s['seconds'] / max(1, s['cases']):.1f} s per case)", flush=True)


def run_config(name: str, changes: dict[str, bool], cases: list[dict]) -> tuple[list[dict], dict, str]:
    """Run the cases on a fresh data folder with these settings changed; (results, summary, note)."""
    from app.core.settings import Settings, save_settings

    known = {k: v for k, v in changes.items() if k in Settings.model_fields}
    missing = sorted(set(changes) - set(known))
    note = f" (no effect in this version: Settings has no {', '.join(missing)})" if missing else ""
    home = Path(tempfile.mkdtemp(prefix=f"rt-crew-eval-{name}-"))
    os.environ["ROUNDTABLE_HOME"] = str(home)
    from app.core.context import AppContext

    print(f"\n# config {name}: {', '.join(f'{k} = {v}' for k, v in changes.items()) or 'defaults'}{note}", flush=True)
    results: list[dict] = []
    try:
        if known:  # in the settings file, so anything that reads the settings sees them
            save_settings(Settings(**known), home / "config" / "settings.toml")
        with AppContext() as ctx:
            for key, value in known.items():
                setattr(ctx.settings, key, value)
            for case in cases:
                result = run_case(ctx, case)
                print_case(result)
                results.append(result)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    summary = summarize(results)
    print_summary(name, summary, note)
    return results, summary, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="only cases whose id contains one of these, comma-separated")
    parser.add_argument("--limit", type=int, help="only the first N cases (after --cases)")
    parser.add_argument("--json", type=Path, help="write the per-case results (replies included) here")
    parser.add_argument("--no-loop-stop", action="store_true", help=f"{LOOP_STOP} = false: the loop detector off")
    parser.add_argument("--plain-sampling", action="store_true", help=f"{ANTI_REPEAT} = false: the new sampling off")
    parser.add_argument("--configs", help=f"'all' or some of {', '.join(CONFIGS)}, comma-separated, in sequence")
    args = parser.parse_args()
    cases = json.loads(DATA.read_text(encoding="utf-8"))["cases"]
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",") if w.strip()]
        cases = [c for c in cases if any(w in c["id"] for w in wanted)]
    if args.limit is not None:
        cases = cases[: args.limit]
    if not cases:
        raise SystemExit("no cases match")
    if args.configs:
        names = list(CONFIGS) if args.configs == "all" else [n.strip() for n in args.configs.split(",")]
        unknown = [n for n in names if n not in CONFIGS]
        if unknown:
            raise SystemExit(f"unknown config {', '.join(unknown)} (known: {', '.join(CONFIGS)})")
        configs = {n: CONFIGS[n] for n in names}
    else:
        changes = {
            **({LOOP_STOP: False} if args.no_loop_stop else {}),
            **({ANTI_REPEAT: False} if args.plain_sampling else {}),
        }
        name = {frozenset(v): k for k, v in CONFIGS.items()}[frozenset(changes)]
        configs = {name: changes}
    multi = sum(c["kind"] == "multi" for c in cases)
    print(
        f"crew eval: {len(cases)} cases ({len(cases) - multi} single-step, {multi} multi-step), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    began = time.perf_counter()
    table: dict[str, tuple[dict, str]] = {}
    dump: dict[str, list[dict]] = {}
    for name, changes in configs.items():
        results, summary, note = run_config(name, changes, cases)
        table[name] = (summary, note)
        dump[name] = results
    if len(table) > 1:
        print(
            f"\n{'config':<16} {'first':>6} {'recall':>7} {'order':>6} {'mean':>6} {'extra':>6} "
            f"{'4g med':>7} {'4g max':>7}  {'time':>6}"
        )
        for name, (s, note) in table.items():
            print(
                f"{name:<16} {s['first']:>6.3f} {s['recall']:>7.3f} {s['order']:>6.3f} {s['mean']:>6.3f} "
                f"{s['extra']:>6} {s['median_share']:>7.3f} {s['max_share']:>7.3f}  {s['seconds']:>5.0f}s"
                + (f"  {note.strip()}" if note else "")
            )
    print(
        f"\ntargets: mean of the three accuracies >= {ACCURACY_TARGET}; 4-gram median <= {MEDIAN_TARGET:.2f}, "
        f"max <= {MAX_TARGET:.2f}.  wall time {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"per-case results: {args.json}")


if __name__ == "__main__":
    main()
