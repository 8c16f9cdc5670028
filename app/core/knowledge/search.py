"""Searching a workspace's passages: BM25 (FTS5), vector (the embedding model) or both fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009; GPT4All's LocalDocs does the same with k = 60) scores a passage
1 / (k + rank) in each ranking it appears in and adds them up: it needs no calibration between BM25 scores and
cosine similarities, and a passage both rankings like comes first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from app.core.errors import UsageError
from app.core.store.knowledge import Hit

if TYPE_CHECKING:  # types only: importing these here would load the store and the model host with this module
    from app.core.knowledge.embedding import KnowledgeEmbedder
    from app.core.store import Store

MODES = ("hybrid", "bm25", "vector")
RRF_K = 60
CANDIDATES = 50  # of each ranking, fused: far more than a prompt holds, few enough to stay fast
_STOPWORDS = set(
    "a an and are as at be by can do does for from has have how i in is it its me my of on or so that the their"
    " them then there these they this to was we were what when where which who why will with you your".split()
)
_WORD = re.compile(r"\w+")
_SNIPPET_WORDS = 32


def keywords(text: str) -> str:
    """The words of a question that say what it is about (BM25 ranks passages with any of them)."""
    return " ".join(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS)


def fuse(rankings: Sequence[Sequence[Hit]], limit: int, k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion of rankings (best first); each hit's score becomes its fused score."""
    scores: dict[tuple[str, str], float] = {}
    first: dict[tuple[str, str], Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, 1):
            key = (hit.kind, hit.id)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            first.setdefault(key, hit)
    best = sorted(scores, key=lambda key: -scores[key])[:limit]
    return [replace(first[key], score=scores[key]) for key in best]


def excerpt(text: str, query: str, words: int = _SNIPPET_WORDS) -> str:
    """A snippet of `text` around the first of the query's words it holds, those words [marked] as FTS5 does."""
    wanted = set(keywords(query).split())
    tokens = text.split()
    start = next((i for i, token in enumerate(tokens) if _bare(token) in wanted), 0)
    start = max(0, start - words // 4)
    shown = [f"[{token}]" if _bare(token) in wanted else token for token in tokens[start : start + words]]
    return ("…" if start else "") + " ".join(shown) + ("…" if start + words < len(tokens) else "")


def _bare(token: str) -> str:
    return token.lower().strip(".,;:!?()[]\"'")


def matched_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where the query's words occur in `text`, as sorted (start, end) spans for a view to highlight; a word
    counts with any ending ("coupons" marks "coupon" and "coupons": FTS5 matched them by their stem)."""
    stems = sorted({_stem(word) for word in keywords(query).split() if len(word) > 1}, key=len, reverse=True)
    if not stems:
        return []
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(stem) for stem in stems) + r")\w*", re.IGNORECASE)
    return [match.span() for match in pattern.finditer(text)]


def _stem(word: str) -> str:
    for ending in ("ing", "ed", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


def search_documents(
    store: Store,
    workspace_id: str | None,
    query: str,
    limit: int,
    mode: str = "hybrid",
    embedder: KnowledgeEmbedder | None = None,
) -> list[Hit]:
    """The passages that best answer `query`, best first, in one workspace (or all, for None).

    `vector` and `hybrid` need the embedder; passages not embedded yet are found by BM25 only, and a workspace
    without vectors from the embedder's model is searched by BM25 alone (the model is not even started).
    """
    if mode not in MODES:
        raise UsageError(f"Unknown search mode '{mode}': use {', '.join(MODES)}.")
    depth = max(limit, CANDIDATES) if mode == "hybrid" else limit
    rankings: list[list[Hit]] = []
    if mode in ("bm25", "hybrid"):
        rankings.append(store.search_chunks(keywords(query), workspace_id, depth, any_word=True))
    if mode in ("vector", "hybrid") and embedder is not None:
        rankings.append(_nearest(store, workspace_id, query, depth, embedder))
    if mode != "hybrid":
        return rankings[0][:limit] if rankings else []
    return fuse(rankings, limit)


def search_everything(
    store: Store, workspace_id: str | None, query: str, limit: int, mode: str, embedder: KnowledgeEmbedder | None
) -> list[Hit]:
    """Messages (BM25) and passages (by `mode`) in one list, their rankings fused: `roundtable search` and the
    window's search."""
    documents = search_documents(store, workspace_id, query, limit, mode, embedder)
    return fuse([store.search_messages(query, workspace_id, limit), documents], limit)


def _nearest(store: Store, workspace_id: str | None, query: str, limit: int, embedder: KnowledgeEmbedder) -> list[Hit]:
    workspaces = [workspace_id] if workspace_id else store.vector_workspaces()
    workspaces = [w for w in workspaces if store.index_model(w) == embedder.model_id]
    if not workspaces:
        return []
    vector = embedder.query(query)
    found = sorted(
        (pair for w in workspaces for pair in store.nearest_chunks(w, embedder.model_id, vector, limit)),
        key=lambda pair: -pair[1],
    )[:limit]
    similarity = dict(found)
    return [
        replace(hit, score=similarity[int(hit.id)], snippet=excerpt(hit.text, query))
        for hit in store.chunk_hits([chunk_id for chunk_id, _ in found])
    ]
