"""Searching a workspace's passages: BM25 (FTS5), vector (the embedding model) or both fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009; GPT4All's LocalDocs does the same with k = 60) scores a passage
1 / (k + rank) in each ranking it appears in and adds them up: it needs no calibration between BM25 scores and
cosine similarities, and a passage both rankings like comes first.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

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
Key = TypeVar("Key", bound=Hashable)
_SNIPPET_WORDS = 32


def keywords(text: str) -> str:
    """The words of a question that say what it is about (BM25 ranks passages with any of them)."""
    return " ".join(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Key]], limit: int, k: int = RRF_K) -> list[tuple[Key, float]]:
    """(key, fused score) of the `limit` best keys over rankings (each best first): 1 / (k + rank), summed."""
    scores: dict[Key, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])[:limit]


def fuse(rankings: Sequence[Sequence[Hit]], limit: int, k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion of rankings of hits (best first); each hit's score becomes its fused score."""
    first: dict[tuple[str, str], Hit] = {}
    for ranking in rankings:
        for hit in ranking:
            first.setdefault((hit.kind, hit.id), hit)
    keys = [[(hit.kind, hit.id) for hit in ranking] for ranking in rankings]
    return [replace(first[key], score=score) for key, score in reciprocal_rank_fusion(keys, limit, k)]


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
    without vectors from the embedder's model is searched by BM25 alone (the model is not even started). Both
    rankings are ids and scores; text is read for the `limit` passages kept.
    """
    if mode not in MODES:
        raise UsageError(f"Unknown search mode '{mode}': use {', '.join(MODES)}.")
    depth = max(limit, CANDIDATES) if mode == "hybrid" else limit
    workspaces = _embedded_workspaces(store, workspace_id, embedder) if mode != "bm25" else []
    rankings: list[list[tuple[int, float]]] = []
    if mode in ("bm25", "hybrid"):
        rankings.append(store.rank_chunks(keywords(query), workspace_id, depth, any_word=True))
    if workspaces and embedder is not None:
        rankings.append(_nearest(store, workspaces, query, depth, embedder))
    if mode == "hybrid":
        ranked = reciprocal_rank_fusion([[chunk_id for chunk_id, _ in r] for r in rankings], limit)
    else:
        ranked = rankings[0][:limit] if rankings else []
    score = dict(ranked)
    return [
        replace(hit, score=score[int(hit.id)], snippet=excerpt(hit.text, query))
        for hit in store.chunk_hits([chunk_id for chunk_id, _ in ranked])
    ]


def search_everything(
    store: Store, workspace_id: str | None, query: str, limit: int, mode: str, embedder: KnowledgeEmbedder | None
) -> list[Hit]:
    """Messages (BM25) and passages (by `mode`) in one list, their rankings fused: `roundtable search` and the
    window's search."""
    documents = search_documents(store, workspace_id, query, limit, mode, embedder)
    return fuse([store.search_messages(query, workspace_id, limit), documents], limit)


def _embedded_workspaces(store: Store, workspace_id: str | None, embedder: KnowledgeEmbedder | None) -> list[str]:
    """The workspaces searched whose vectors the embedder's model made."""
    if embedder is None:
        return []
    workspaces = [workspace_id] if workspace_id else store.vector_workspaces()
    return [w for w in workspaces if store.index_model(w) == embedder.model_id]


def _nearest(
    store: Store, workspaces: list[str], query: str, limit: int, embedder: KnowledgeEmbedder
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) of the passages nearest to the question, best first, over the workspaces."""
    vector = embedder.query(query)
    found = (pair for w in workspaces for pair in store.nearest_chunks(w, embedder.model_id, vector, limit))
    return sorted(found, key=lambda pair: -pair[1])[:limit]
