"""Search over 100,000 generated messages and 2,000 document passages: p50/p95 of a search (what `roundtable
search` runs), and indexing throughput of passages next to a plain INSERT of the same rows in the same run.

The text is drawn from a 20,000-word vocabulary with Zipf frequencies, as words are in real writing (a
handful very common, most rare); each query is 1-3 words taken from one of the stored messages, leaving out
the 30 commonest words, as people search for content words they have seen.

    python bench/search.py [--messages 100000] [--chunks 2000] [--queries 300]
Target: p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SYLLABLES = (
    "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru".split()
)
FINANCE = (
    "bond coupon yield duration convexity equity dividend curve spread credit rating default issuer maturity treasury"
    " inflation hedge swap futures option volatility liquidity portfolio allocation benchmark earnings revenue margin"
).split()


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Pseudo-words, most common first, with the finance terms among the middling ones, as in real threads."""
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    for rank, term in enumerate(FINANCE):
        words[40 + rank * 37] = term
    return words


def sentence(rng: random.Random, words: list[str], weights: list[float], count: int) -> str:
    return " ".join(rng.choices(words, cum_weights=weights, k=count)).capitalize() + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    from app.core.store import Store
    from app.core.store.records import now

    rng = random.Random(7)
    words = vocabulary(rng, 20_000)
    weights = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))
    folder = Path(tempfile.mkdtemp(prefix="rt-bench-search-"))
    store = Store(folder / "roundtable.db")
    thread = store.create_thread("Generated")
    stamp = now()
    texts = [sentence(rng, words, weights, rng.randint(8, 60)) for _ in range(args.messages)]
    started = time.perf_counter()
    with store.conn.transaction() as db:
        db.conn.executemany(
            "INSERT INTO messages (id, thread_id, author, role, status, text, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                (f"m{i}", thread.id, "analyst", "assistant", "complete", text, stamp, stamp)
                for i, text in enumerate(texts)
            ),
        )
    print(f"{args.messages:,} messages stored and indexed in {time.perf_counter() - started:.1f} s")

    passages = [
        (f"page {i // 10 + 1}", " ".join(sentence(rng, words, weights, 20) for _ in range(8)))
        for i in range(args.chunks)
    ]
    with store.conn.transaction() as db:
        db.execute(
            "CREATE TABLE plain_chunks (id INTEGER PRIMARY KEY, document_id TEXT, position INTEGER,"
            " location TEXT, text TEXT)"
        )

    def plain_insert() -> float:
        began = time.perf_counter()
        with store.conn.transaction() as db:
            db.execute("DELETE FROM plain_chunks")
            for position, (location, text) in enumerate(passages):
                db.execute(
                    "INSERT INTO plain_chunks (document_id, position, location, text) VALUES (?,?,?,?)",
                    ["d", position, location, text],
                )
        return time.perf_counter() - began

    def indexed_insert() -> float:
        began = time.perf_counter()
        store.save_document("default", "/bench/report.pdf", "report.pdf", "pdf", "0" * 64, 1, iter(passages))
        return time.perf_counter() - began

    plain, indexed = [], []
    for _ in range(3):  # alternating, medians: noise hits both
        plain.append(plain_insert())
        indexed.append(indexed_insert())
    plain_rate = args.chunks / statistics.median(plain)
    indexed_rate = args.chunks / statistics.median(indexed)

    common = set(words[:30])

    def query() -> str:  # words from a message that is there: people search for what they have seen
        seen = [w for w in rng.choice(texts).lower().rstrip(".").split() if w not in common]
        return " ".join(rng.sample(seen, min(len(seen), rng.randint(1, 3))))

    queries = [query() for _ in range(args.queries)]
    for query in queries[:20]:  # warm the page cache
        store.search_messages(query, None, 20)
    timings = []
    found = 0
    for query in queries:
        began = time.perf_counter()
        hits = store.search_messages(query, None, 20) + store.search_chunks(query, None, 20)
        timings.append((time.perf_counter() - began) * 1000)
        found += bool(hits)
    store.close()
    shutil.rmtree(folder, ignore_errors=True)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"{args.queries} searches (1-3 words, messages + passages, top 20 each): {found} found something")
    print(f"search latency: p50 {p50:.1f} ms   p95 {p95:.1f} ms   max {timings[-1]:.1f} ms   target p95 <= 20 ms")
    print(
        f"indexing {args.chunks:,} passages: {indexed_rate:,.0f} passages/s with FTS5, "
        f"{plain_rate:,.0f}/s plain INSERT, ratio {indexed_rate / plain_rate:.2f}"
    )


if __name__ == "__main__":
    main()
