"""Retrieval quality and speed of document search: recall@5 and MRR for bm25, vector and hybrid (overall, on the
paraphrased third of the questions and on the questions about near-duplicates), hybrid query latency over 100,000
passages, and indexing throughput.

The eval set (bench/data/retrieval_eval.json, written by bench/data/make_retrieval_eval.py; see bench/data/README.md)
is generated text: fact sheets of fictional subjects, with near-duplicates (an older edition of a sheet, a sibling
bond or product) whose passages differ in one figure, date or name, and questions with the passages that answer
them. It goes through the app's own path: passages stored as a workspace's chunks (FTS5), embedded by the built-in
model (`embed_pending`), searched by `search_documents`. It is for measuring only: nothing in the app knows it.

For latency, a second workspace gets 100,000 passages: their text is Zipf-distributed pseudo-words (one in
five with an eval sentence about another subject mixed in), their vectors are random unit vectors (embedding
100k passages on a laptop CPU takes hours, and a scan costs the same whatever the vectors hold). Each query is
a real question, embedded by the real model at query time: the timing is what a copilot's turn pays. Where
sqlite-vec (and sqlean, a sqlite3 that loads extensions) is installed, its `vec0` KNN over the same vectors is
timed beside our numpy scan.

    python bench/retrieval_eval.py [--passages 100000] [--rounds 3]
Targets: hybrid recall@5 >= 0.90 overall and >= 0.80 on paraphrases (>= 15 points above bm25 there); p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).with_name("data") / "retrieval_eval.json"
MODES = ("bm25", "vector", "hybrid")
DEPTH = 10  # MRR is counted over the first ten results


def _store_documents(store: object, workspace: str, documents: list[dict]) -> dict[str, int]:
    """Save each document's passages as its chunks; returns passage id -> chunk id."""
    ids: dict[str, int] = {}
    for document in documents:
        chunks = [(document["title"], p["text"]) for p in document["passages"]]
        digest = hashlib.sha256(json.dumps(chunks).encode()).hexdigest()
        doc_id = store.save_document(workspace, document["name"], document["name"], "markdown", digest, 0, chunks)
        rows = store.conn.read("SELECT id FROM chunks WHERE document_id = ? ORDER BY position", [doc_id])
        ids.update({p["id"]: row["id"] for p, row in zip(document["passages"], rows, strict=True)})
    return ids


SUBSETS = {"all": lambda q: True, "para": lambda q: q["paraphrased"], "near-dup": lambda q: q["near_duplicate"]}


def _quality(ctx: object, workspace: str, questions: list[dict], ids: dict[str, int]) -> dict[str, dict]:
    """mode -> subset -> (recall@5, MRR)."""
    from app.core.knowledge.search import search_documents

    embedder = ctx.embedder()
    results: dict[str, dict] = {}
    for mode in MODES:
        ranks: list[int | None] = []
        for question in questions:
            wanted = {str(ids[a]) for a in question["answers"]}
            found = [h.id for h in search_documents(ctx.store, workspace, question["question"], DEPTH, mode, embedder)]
            ranks.append(next((n for n, hit in enumerate(found, 1) if hit in wanted), None))
        results[mode] = {}
        for subset, wanted_question in SUBSETS.items():
            picked = [rank for rank, q in zip(ranks, questions, strict=True) if wanted_question(q)]
            recall = statistics.fmean(rank is not None and rank <= 5 for rank in picked)
            mrr = statistics.fmean(1 / rank if rank else 0.0 for rank in picked)
            results[mode][subset] = (recall, mrr)
    return results


def _overlap(questions: list[dict], texts: dict[str, str]) -> dict[str, float]:
    """Mean share of a question's keywords (stop words dropped) found in its first answer, literal vs paraphrased."""
    from app.core.knowledge.search import keywords

    shares: dict[bool, list[float]] = {False: [], True: []}
    for question in questions:
        asked = set(keywords(question["question"]).split())
        answer = set(keywords(texts[question["answers"][0]]).split())
        shares[question["paraphrased"]].append(len(asked & answer) / max(1, len(asked)))
    return {"literal": statistics.fmean(shares[False]), "paraphrased": statistics.fmean(shares[True])}


def _synthetic(documents: list[dict], count: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    """`count` passages in documents of 100: ~150 words of Zipf-distributed pseudo-words (as bench/search.py:
    a few words very common, most rare, as in real text), one passage in five with an eval sentence about
    another subject mixed in, so the questions' words also match many of them."""
    syllables = "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu".split()
    vocabulary = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(30_000)})
    rng.shuffle(vocabulary)
    weights = [1 / rank for rank in range(1, len(vocabulary) + 1)]
    sentences = [p["text"] for d in documents for p in d["passages"]]
    names = ["Quill", "Rowan", "Sable", "Thorn", "Umber", "Vesper", "Wren", "Yarrow", "Zinnia", "Birch"]
    out: list[list[tuple[str, str]]] = []
    for start in range(0, count, 100):
        doc = []
        for _ in range(min(100, count - start)):
            text = " ".join(rng.choices(vocabulary, weights, k=150))
            if rng.random() < 0.2:
                sentence = rng.choice(sentences)
                for document in documents:
                    subject = document["title"].removesuffix(" fact sheet").removesuffix(" fact sheet (draft)")
                    sentence = sentence.replace(subject, rng.choice(names))
                text = f"{sentence} {text}"
            doc.append((f"section {rng.randint(1, 40)}", text))
        out.append(doc)
    return out


def _percentiles(timings: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    timings = sorted(timings)
    return 1000 * statistics.median(timings), 1000 * timings[int(0.95 * (len(timings) - 1))]


def _latency(ctx: object, documents: list[dict], questions: list[dict], total: int, rounds: int) -> dict[str, object]:
    from app.core.knowledge.search import search_documents

    rng = random.Random(7)
    workspace = ctx.store.create_workspace("latency")
    started = time.perf_counter()
    synthetic = _synthetic(documents, total, rng)
    for number, chunks in enumerate(synthetic):
        ctx.store.save_document(workspace, f"s{number}", f"s{number}.md", "markdown", str(number), 0, chunks)
    fts_s = time.perf_counter() - started
    embedder = ctx.embedder()
    ids = [row[0] for row in ctx.store.conn.read_tuples(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.workspace_id = ?", [workspace])]
    width = len(embedder.query("width"))
    vectors = np.random.default_rng(7).standard_normal((len(ids), width)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for start in range(0, len(ids), 10_000):
        part = slice(start, start + 10_000)
        ctx.store.save_vectors(workspace, embedder.model_id, ids[part], vectors[part])
    cold = time.perf_counter()
    search_documents(ctx.store, workspace, questions[0]["question"], 5, "hybrid", embedder)  # reads the matrix
    cold_s = time.perf_counter() - cold
    load = os.getloadavg()[0]
    timings = []
    for _ in range(rounds):
        for question in questions:
            began = time.perf_counter()
            search_documents(ctx.store, workspace, question["question"], 5, "hybrid", embedder)
            timings.append(time.perf_counter() - began)
    asked = [embedder.query(q["question"]) for q in questions]
    scans = []
    for vector in asked * rounds:
        began = time.perf_counter()
        ctx.store.nearest_chunks(workspace, embedder.model_id, vector, 50)
        scans.append(time.perf_counter() - began)
    return {
        "passages": len(ids),
        "load": (load, os.getloadavg()[0]),
        "fts_passages_per_s": len(ids) / fts_s,
        "cold_s": cold_s,
        "hybrid": _percentiles(timings),
        "queries": len(timings),
        "scan": _percentiles(scans),
        "vec0": _vec0_latency(ids, vectors, asked * rounds),
    }


def _vec0_latency(ids: list[int], vectors: np.ndarray, asked: list[np.ndarray]) -> tuple[float, float] | None:
    """sqlite-vec's `vec0` KNN (k = 50) over the same vectors, (p50, p95) in ms; None where it is not installed."""
    try:
        import sqlean
        import sqlite_vec
    except ImportError:
        return None
    db = sqlean.connect(":memory:")
    db.enable_load_extension(True)
    sqlite_vec.load(db)
    db.execute(f"CREATE VIRTUAL TABLE knn USING vec0(embedding float[{vectors.shape[1]}] distance_metric=cosine)")
    db.executemany("INSERT INTO knn (rowid, embedding) VALUES (?, ?)",
                   ((i, v.tobytes()) for i, v in zip(ids, vectors, strict=True)))
    timings = []
    for vector in asked:
        began = time.perf_counter()
        db.execute("SELECT rowid, distance FROM knn WHERE embedding MATCH ? AND k = 50",
                   [np.asarray(vector, dtype=np.float32).tobytes()]).fetchall()
        timings.append(time.perf_counter() - began)
    db.close()
    return _percentiles(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    documents, questions = data["documents"], data["questions"]
    texts = {p["id"]: p["text"] for d in documents for p in d["passages"]}
    home = Path(tempfile.mkdtemp(prefix="rt-retrieval-"))
    os.environ["ROUNDTABLE_HOME"] = str(home)
    from app.core.context import AppContext
    from app.core.knowledge.embedding import embed_pending

    try:
        with AppContext() as ctx:
            ctx.embedder().query("warm up")  # converts the model (first use) and starts its host: not indexing
            workspace = ctx.store.create_workspace("eval")
            started = time.perf_counter()
            ids = _store_documents(ctx.store, workspace, documents)
            fts_s = time.perf_counter() - started
            started = time.perf_counter()
            embedded = embed_pending(ctx.store, ctx.embedder(), workspace)
            embed_s = time.perf_counter() - started
            count = {name: sum(map(wanted, questions)) for name, wanted in SUBSETS.items()}
            print(f"eval set: {len(documents)} documents, {len(ids)} passages, {len(questions)} questions "
                  f"({count['para']} paraphrased, {count['near-dup']} about near-duplicates); "
                  f"model {ctx.embedder().model_id}, {os.cpu_count()} CPUs")
            overlap = _overlap(questions, texts)
            print(f"keyword overlap (share of a question's keywords in its answer): literal "
                  f"{overlap['literal']:.2f}, paraphrased {overlap['paraphrased']:.2f}")
            quality = _quality(ctx, workspace, questions, ids)
            print(f"{'mode':<8}" + "".join(f" {'recall@5 ' + n:>18} {'MRR ' + n:>13}" for n in SUBSETS))
            for mode, scores in quality.items():
                print(f"{mode:<8}" + "".join(f" {scores[n][0]:>18.3f} {scores[n][1]:>13.3f}" for n in SUBSETS))
            print(f"indexing: FTS5 {len(ids) / fts_s:,.0f} passages/s; embedding {embedded / embed_s:,.1f} "
                  f"passages/s ({embedded} passages, {embed_s:.1f} s)")
            speed = _latency(ctx, documents, questions, args.passages, args.rounds)
            p50, p95 = speed["hybrid"]
            print(f"latency over {speed['passages']:,} passages (random unit vectors; real question embeddings): "
                  f"hybrid p50 {p50:.1f} ms, p95 {p95:.1f} ms over {speed['queries']} queries; first query "
                  f"{speed['cold_s'] * 1000:.0f} ms (reads the vectors); FTS5 indexing "
                  f"{speed['fts_passages_per_s']:,.0f} passages/s; load average {speed['load'][0]:.1f} before, "
                  f"{speed['load'][1]:.1f} after ({os.cpu_count()} CPUs shared with whatever else runs)")
            scan = speed["scan"]
            vec0 = speed["vec0"]
            print(f"vector KNN alone (k = 50): numpy scan p50 {scan[0]:.1f} ms, p95 {scan[1]:.1f} ms; " + (
                f"sqlite-vec vec0 p50 {vec0[0]:.1f} ms, p95 {vec0[1]:.1f} ms" if vec0 else "sqlite-vec not installed"))
            hybrid, bm25 = quality["hybrid"], quality["bm25"]
            checks = {
                "hybrid recall@5 >= 0.90": hybrid["all"][0] >= 0.90,
                "hybrid recall@5 paraphrased >= 0.80": hybrid["para"][0] >= 0.80,
                "paraphrased: hybrid >= bm25 + 0.15": hybrid["para"][0] >= bm25["para"][0] + 0.15,
                "hybrid p95 <= 50 ms": p95 <= 50,
            }
            for name, ok in checks.items():
                print(f"{'PASS' if ok else 'FAIL'}  {name}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
